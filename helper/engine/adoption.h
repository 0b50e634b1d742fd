/* SPDX-License-Identifier: MIT */
/* The process-mode recipe's state and its steps, shared by inspect.c,
 * hold.c, pty.c, hangup.c and adopt.c (see engine-internal.h); not an API,
 * and not for session mode. */
#pragma once

#include "engine-internal.h"

/* ---- the adoption state ---- */

#define MAX_SLAVES 4
#define MAX_EPOLL 32

struct term_fd {
        int fd;
        unsigned flags; /* open flags incl. O_CLOEXEC */
        dev_t rdev, dev;
        ino_t ino;
        int slave;         /* index into slaves[] */
        long saved;        /* the target's copy of the old file, -1 if none */
        bool saved_shared; /* `saved` belongs to an earlier fd of the same file */
        bool replaced;
};

struct epoll_fix {
        int epfd;
        struct proc_epoll_entry e;
        bool deleted, added;
};

/* While the target is frozen, we and its work thread share one CPU. Every
 * remote syscall is four hand-offs between us; on one CPU each is a direct
 * switch, across CPUs each is a wake-up IPI (and, in a VM, an exit from an
 * idle vCPU), and the scheduler prefers the idle CPU for a woken tracee:
 * measured here, about 0.9 ms against 2.0-2.4 ms frozen. Best effort: if
 * the kernel does not let us set the target's affinity (another user's
 * process without CAP_SYS_NICE), only we move. Both are put back before the
 * target runs on its own again. */
struct pinning {
        bool ours, theirs;
        pid_t tid;
        cpu_set_t our_mask, their_mask;
};

struct adoption {
        int pidfd;
        pid_t pid;
        int dirfd;
        const struct engine_options *opts;
        struct engine_result *res;
        struct engine_error *err;

        struct proc_stat stat;
        struct proc_status status;
        dev_t ctty; /* 0 = none */
        bool leader;

        struct term_fd term[ENGINE_MAX_FDS];
        size_t n_term;
        struct epoll_fix ep[MAX_EPOLL];
        size_t n_ep;

        struct tracee t;
        bool seized;       /* attached (maybe not stopped) */
        bool frozen;       /* every thread stopped */
        bool remote_ready; /* registers saved: remote calls possible */
        struct remote r;

        long t_master;
        long t_slave[MAX_SLAVES];
        unsigned slave_flags[MAX_SLAVES];
        size_t n_slaves;
        int master;

        bool noreturn;  /* past setsid / TIOCNOTTY */
        bool proceeded; /* the caller had its last look (opts->proceed) */
        bool restop;    /* our TIOCNOTTY's SIGCONT woke a stopped target */
        long dummy_t;   /* dummy child, target's pid namespace */
        pid_t dummy;    /* the same, ours */
        bool pgid_moved;
        bool ctty_set;
        struct pinning pin;
        unsigned step;

        /* Its parent, when that is a process of the old session in another
         * process group: the shell that runs it as a job. */
        pid_t parent;
        struct proc_stat parent_stat;
        bool notify_stop; /* show the old shell its job stop (see engine_result) */
        /* The new terminal's size: the target is shown a real resize
         * while we still hold it (see resize_new_tty()). */
        struct winsize old_ws, final_ws;
        /* Its voluntary context switches when the final size was set. */
        unsigned long long slept_before_resize;
        bool committed;
};

/* inspect.c */
int identify(struct adoption *a);
int inspect(struct adoption *a);
int verify(struct adoption *a);
void fill_result(struct adoption *a);
int select_term_fds(struct adoption *a, const struct proc_fd *fds, size_t n);

/* hold.c */
void pin_together(struct pinning *p, pid_t tid);
void unpin(struct pinning *p);
int checkpoint(struct adoption *a);
int gone_error(struct adoption *a);
int step_error(struct adoption *a, const char *what, long r);
long rcall(struct adoption *a, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
           uint64_t a3);
int do_step(struct adoption *a, const char *what, long v);
int freeze(struct adoption *a);
bool two_step_resize(const struct adoption *a);
void leave(struct adoption *a);

/* pty.c */
int build_pty(struct adoption *a);
void configure_pty(struct adoption *a);

/* hangup.c */
void arm_hangup_guard(struct adoption *a);
