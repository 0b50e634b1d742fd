/* SPDX-License-Identifier: MIT */
/*
 * The adoption recipe (process mode). See engine.h for the contract and
 * ../shared/brief/engine.md for the kernel facts it rests on.
 *
 * Outline:
 *   inspect   everything that can be refused is refused here, before the
 *             target is touched;
 *   freeze    seize and interrupt every thread, block the work thread's
 *             signals, re-check what may have changed;
 *   build     the target opens /dev/ptmx itself and gets the slave with
 *             TIOCGPTPEER (its uid, its mount namespace, no path lookup of
 *             the slave); we take the master with pidfd_getfd;
 *   move      old terminal fds are saved, then replaced (keeping each fd's
 *             flags), epoll registrations follow them;
 *   ctty      TIOCNOTTY for a session leader, otherwise the dummy-child
 *             setsid dance; then TIOCSCTTY on the new slave;
 *   leave     close our temporaries, unmap scratch, restore mask and
 *             registers, detach, SIGWINCH (+ SIGCONT unless it was stopped).
 * Every step before the point of no return (setsid/TIOCNOTTY) is undone in
 * reverse order if anything fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "engine-internal.h"
#include "engine.h"
#include "proc.h"
#include "remote.h"
#include "tracee.h"
#include "util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* ---- errors ---- */

static const char *const error_names[_ENGINE_ERR_MAX] = {
        [ENGINE_OK] = "Success",
        [ENGINE_ERR_INVALID] = "InvalidArgs",
        [ENGINE_ERR_NO_SUCH_PROCESS] = "NoSuchProcess",
        [ENGINE_ERR_NOT_A_TERMINAL] = "NotATerminal",
        [ENGINE_ERR_HAS_CHILDREN] = "HasChildren",
        [ENGINE_ERR_SECCOMP] = "Seccomp",
        [ENGINE_ERR_UNSUPPORTED] = "Unsupported",
        [ENGINE_ERR_TARGET_GONE] = "TargetGone",
        [ENGINE_ERR_BUSY] = "Busy",
        [ENGINE_ERR_PERMISSION] = "AccessDenied",
        [ENGINE_ERR_FAILED] = "Failed",
};

const char *engine_error_name(enum engine_error_kind kind) {
        return kind >= 0 && kind < _ENGINE_ERR_MAX ? error_names[kind] : "Failed";
}

const char *engine_error_bus_name(enum engine_error_kind kind) {
#define E(name) "org.reptyr.Reptyr1.Error." name
        static const char *const names[_ENGINE_ERR_MAX] = {
                [ENGINE_ERR_INVALID] = E("InvalidArgs"),
                [ENGINE_ERR_NO_SUCH_PROCESS] = E("NoSuchProcess"),
                [ENGINE_ERR_NOT_A_TERMINAL] = E("NotATerminal"),
                [ENGINE_ERR_HAS_CHILDREN] = E("HasChildren"),
                [ENGINE_ERR_SECCOMP] = E("Seccomp"),
                [ENGINE_ERR_UNSUPPORTED] = E("Unsupported"),
                [ENGINE_ERR_TARGET_GONE] = E("TargetGone"),
                [ENGINE_ERR_BUSY] = E("Busy"),
                /* The kernel refused (--direct) or polkit did (the helper). */
                [ENGINE_ERR_PERMISSION] = "org.freedesktop.DBus.Error.AccessDenied",
                [ENGINE_ERR_FAILED] = E("Failed"),
        };
#undef E

        if (kind <= ENGINE_OK || kind >= _ENGINE_ERR_MAX)
                return names[ENGINE_ERR_FAILED];
        return names[kind];
}

int engine_fail(struct engine_error *err, enum engine_error_kind kind, int r, const char *fmt,
                ...) {
        va_list ap;

        err->kind = kind;
        err->errnum = r < 0 ? -r : r;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return r < 0 ? r : -EIO;
}

/* ---- small public helpers ---- */

int engine_parse_pid(const char *s, pid_t *ret) {
        unsigned long long v = 0;

        if (!s || !*s || strlen(s) > 10)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(*p - '0');
        }
        /* pid 0 is nobody; pid 1 is init and never adoptable, but that is
         * the engine's refusal with its own message, not a syntax error. */
        if (v == 0 || v > 4194304 /* PID_MAX_LIMIT */)
                return -EINVAL;
        *ret = (pid_t)v;
        return 0;
}

int engine_pidfd_open(pid_t pid, int *ret_pidfd, struct engine_error *err) {
        int fd;

        if (pid <= 0)
                return engine_fail(err, ENGINE_ERR_INVALID, -EINVAL, "%d is not a process id",
                                   (int)pid);
        fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
                int r = -errno;
                if (r == -ESRCH)
                        return engine_fail(err, ENGINE_ERR_NO_SUCH_PROCESS, r,
                                           "no process %d; check the pid with ps or pgrep",
                                           (int)pid);
                if (r == -EINVAL)
                        return engine_fail(err, ENGINE_ERR_INVALID, r,
                                           "%d is a thread, not a process; adopt its process (see "
                                           "/proc/%d/status Tgid)",
                                           (int)pid, (int)pid);
                return engine_fail(err, ENGINE_ERR_FAILED, r,
                                   "cannot open a pidfd for %d: %s (Linux >= 5.3 needed)", (int)pid,
                                   strerror(-r));
        }
        *ret_pidfd = fd;
        return 0;
}

/* The pid (in our namespace) that a pidfd refers to. */
int engine_pidfd_to_pid(int pidfd, pid_t *ret) {
        char path[64], buf[2048];
        const char *p;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        n = proc_read(AT_FDCWD, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        p = strstr(buf, "\nPid:");
        if (!p)
                return -EBADF; /* not a pidfd */
        *ret = (pid_t)atoi(p + 5);
        if (*ret == -1)
                return -ESRCH;
        if (*ret == 0)
                return -EXDEV; /* in a pid namespace we cannot see */
        return 0;
}

/* ---- the adoption state ---- */

#define MAX_SLAVES 4
#define MAX_EPOLL 32

/* Layout of our scratch page in the target. */
enum {
        SCR_PTMX = 0,     /* "/dev/ptmx" */
        SCR_DEVTTY = 16,  /* "/dev/tty" */
        SCR_EVENT = 48,   /* struct epoll_event (packed or not) */
        SCR_SIGSET = 64,  /* a sigset of one signal */
        SCR_ZERO_TS = 80, /* a zero timeout (16 zero bytes) */
        SCR_SIGINFO = 256,
};

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

static void pin_together(struct pinning *p, pid_t tid) {
        int cpu = sched_getcpu();
        cpu_set_t one;

        memset(p, 0, sizeof(*p));
        if (cpu < 0 || cpu >= CPU_SETSIZE)
                return;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_getaffinity(0, sizeof(p->our_mask), &p->our_mask) < 0 ||
            sched_setaffinity(0, sizeof(one), &one) < 0)
                return;
        p->ours = true;
        if (sched_getaffinity(tid, sizeof(p->their_mask), &p->their_mask) == 0 &&
            CPU_ISSET(cpu, &p->their_mask) && sched_setaffinity(tid, sizeof(one), &one) == 0) {
                p->theirs = true;
                p->tid = tid;
        }
}

static void unpin_target(struct pinning *p) {
        if (p->theirs)
                (void)sched_setaffinity(p->tid, sizeof(p->their_mask), &p->their_mask);
        p->theirs = false;
}

static void unpin(struct pinning *p) {
        unpin_target(p);
        if (p->ours)
                (void)sched_setaffinity(0, sizeof(p->our_mask), &p->our_mask);
        p->ours = false;
}

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

        bool noreturn; /* past setsid / TIOCNOTTY */
        bool restop;   /* our TIOCNOTTY's SIGCONT woke a stopped target */
        long dummy_t;  /* dummy child, target's pid namespace */
        pid_t dummy;   /* the same, ours */
        bool pgid_moved;
        bool ctty_set;
        struct pinning pin;
        unsigned step;
};

/* A checkpoint between two steps of the recipe. Tests inject faults here:
 * the target is killed just before the step, or the step fails. */
static int checkpoint(struct adoption *a) {
        a->step++;
        if (a->opts->fault.step != a->step)
                return 0;
        switch (a->opts->fault.action) {
        case ENGINE_FAULT_KILL:
                (void)syscall(SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
                return 0;
        case ENGINE_FAULT_FAIL:
                return -EIO;
        case ENGINE_FAULT_KILL_TRACER:
                /* What a crash or `kill -9` of the adopter does: the
                 * kernel detaches every thread, whatever state it is in. */
                (void)raise(SIGKILL);
                return 0;
        default:
                return 0;
        }
}

static int gone_error(struct adoption *a) {
        return engine_fail(
                a->err, ENGINE_ERR_TARGET_GONE, -ESRCH,
                "process %d (%s) exited while it was being adopted; nothing is left to adopt",
                (int)a->pid, a->stat.comm);
}

/* Map a failed step to an error; the caller then undoes. */
static int step_error(struct adoption *a, const char *what, long r) {
        if (a->t.gone || r == -ESRCH)
                return gone_error(a);
        /* setsid() cannot be undone: past it, say what stays changed. */
        return engine_fail(
                a->err, ENGINE_ERR_FAILED, (int)r, "adopting %d (%s) failed while %s: %s; %s",
                (int)a->pid, a->stat.comm, what, strerror((int)-r),
                a->noreturn && !a->leader
                        ? "it is back on its old terminal, but now runs in a session of its own"
                        : "the process was left as it was");
}

/* The caller's last word before the first step that cannot be undone. */
static int proceed(struct adoption *a) {
        int r;

        if (!a->opts->proceed)
                return 0;
        r = a->opts->proceed(a->opts->userdata, a->err);
        if (r >= 0)
                return 0;
        if (a->err->message[0] == '\0')
                engine_fail(a->err, ENGINE_ERR_FAILED, r,
                            "the adoption of %d (%s) was called off; it was left as it was",
                            (int)a->pid, a->stat.comm);
        if (a->err->kind == ENGINE_OK)
                a->err->kind = ENGINE_ERR_FAILED;
        return r;
}

dev_t engine_tty_nr_to_dev(unsigned tty_nr) {
        /* new_encode_dev(): minor's low byte, major, then minor's high bits */
        return makedev((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
}

static bool fd_is_tty(int pidfd, int fd) {
        int ours = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        bool r;

        if (ours < 0)
                return false;
        r = isatty(ours);
        close(ours);
        return r;
}

/* Which fds are "the terminal": with a controlling tty, the fds open on it
 * (or on /dev/tty); without one, the fds open on the terminal that stdio
 * uses; nothing else, ever (regular files must never match, see tty_nr 0). */
static int select_term_fds(struct adoption *a, const struct proc_fd *fds, size_t n) {
        dev_t tty = a->ctty;

        a->n_term = 0;
        if (a->opts->fds == ENGINE_FDS_TERMINAL && !tty) {
                for (int want = 0; want <= 2 && !tty; want++)
                        for (size_t i = 0; i < n; i++)
                                if (fds[i].fd == want && S_ISCHR(fds[i].mode) &&
                                    fd_is_tty(a->pidfd, want))
                                        tty = fds[i].rdev;
        }
        for (size_t i = 0; i < n; i++) {
                const struct proc_fd *f = &fds[i];
                bool take;

                if (!S_ISCHR(f->mode))
                        continue;
                if (a->opts->fds == ENGINE_FDS_STDIO)
                        take = f->fd <= 2 && fd_is_tty(a->pidfd, f->fd);
                else
                        take = tty && (f->rdev == tty || (a->ctty && f->rdev == makedev(5, 0)));
                if (!take)
                        continue;
                if (a->n_term == ENGINE_MAX_FDS)
                        return -E2BIG;
                a->term[a->n_term++] = (struct term_fd){
                        .fd = f->fd,
                        .flags = f->flags,
                        .rdev = f->rdev,
                        .dev = f->dev,
                        .ino = f->ino,
                        .saved = -1,
                };
        }
        return 0;
}

/* ---- inspection ---- */

bool engine_is_self_or_ancestor(pid_t pid) {
        /* pid 1 is everyone's ancestor; it is refused with its own message. */
        for (pid_t p = getpid(); p > 1 && pid > 1;) {
                char path[32];
                _cleanup_close_ int d = -1;
                struct proc_stat st;

                if (p == pid)
                        return true;
                snprintf(path, sizeof(path), "/proc/%d", (int)p);
                d = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (d < 0 || proc_read_stat(d, &st) < 0)
                        return false;
                p = st.ppid;
        }
        return false;
}

/* Other processes in the target's process group (and, for a session
 * leader, in its session): moving only the target would split them from
 * their terminal. Lists up to a few of them in `names`. */
struct companions {
        struct adoption *a;
        char *names;
        size_t size, used;
        int count;
};

static int companion_cb(pid_t p, int dirfd, void *userdata) {
        struct companions *c = userdata;
        char name[16];
        _cleanup_close_ int pd = -1;
        struct proc_stat st;

        if (p == c->a->pid)
                return 0;
        snprintf(name, sizeof(name), "%d", (int)p);
        pd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pd < 0 || proc_read_stat(pd, &st) < 0)
                return 0;
        if (st.pgrp != c->a->stat.pgrp && !(c->a->leader && st.session == c->a->stat.session))
                return 0;
        if (c->count < 4 && c->used < c->size) {
                int w = snprintf(c->names + c->used, c->size - c->used, "%s%d (%s)",
                                 c->count ? ", " : "", (int)p, st.comm);
                if (w > 0)
                        c->used += (size_t)w;
        }
        c->count++;
        return 0;
}

static int find_companions(struct adoption *a, char *names, size_t size) {
        struct companions c = {.a = a, .names = names, .size = size};
        int r;

        names[0] = '\0';
        r = proc_for_each_pid(AT_FDCWD, "/proc", companion_cb, &c);
        if (r < 0)
                return r;
        if (c.count > 4 && c.used < size)
                snprintf(names + c.used, size - c.used, " and %d more", c.count - 4);
        return c.count;
}

/* Children of the frozen target that are still in its process group: the
 * only way the group can have gained members since inspection. */
static int frozen_children_in_group(struct adoption *a) {
        for (size_t i = 0; i < a->t.n_threads; i++) {
                char path[64], buf[4096];
                ssize_t n;

                snprintf(path, sizeof(path), "task/%d/children", (int)a->t.threads[i].tid);
                n = proc_read(a->dirfd, path, buf, sizeof(buf));
                if (n < 0)
                        continue;
                for (char *s = buf, *end; *s; s = end) {
                        long c = strtol(s, &end, 10);
                        char cp[32];
                        _cleanup_close_ int cd = -1;
                        struct proc_stat st;

                        if (end == s)
                                break;
                        snprintf(cp, sizeof(cp), "/proc/%ld", c);
                        cd = open(cp, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (cd >= 0 && proc_read_stat(cd, &st) == 0 && st.pgrp == a->stat.pgrp)
                                return (int)c;
                }
        }
        return 0;
}

/* Refuse a target of a personality this build cannot adopt before touching
 * it. Decided from /proc/PID/auxv, which is kernel memory: the target's
 * executable is never opened, as it may sit on a filesystem its owner
 * serves (FUSE) and block a privileged helper. The regset decides again
 * once it is stopped. */
static int check_personality(struct adoption *a) {
        unsigned char buf[4096];
        ssize_t n = proc_read(a->dirfd, "auxv", (char *)buf, sizeof(buf));
        unsigned w = n > 0 ? arch_auxv_word_size(buf, (size_t)n) : 0;

        if (w == 0)
                return 0;
        for (size_t i = 0; arch_personalities[i]; i++)
                if (arch_personalities[i]->word_size == w) {
                        a->res->personality = arch_personalities[i]->name;
                        return 0;
                }
        return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, -ENOEXEC,
                           "process %d (%s) is a %u-bit program this %s build cannot adopt; use a "
                           "build for its architecture",
                           (int)a->pid, a->stat.comm, w * 8, arch_build_name);
}

/* The facts a permission model needs, from what inspect()/freeze() read. */
static void fill_target(struct adoption *a) {
        struct engine_target *t = &a->res->target;
        char ours[64], theirs[64];
        struct stat st;
        ssize_t n, m;

        t->pid = a->pid;
        memcpy(t->uid, a->status.uid, sizeof(t->uid));
        memcpy(t->gid, a->status.gid, sizeof(t->gid));
        t->cap_prm = a->status.cap_prm;
        t->cap_eff = a->status.cap_eff;
        t->seccomp = a->status.seccomp;
        snprintf(t->comm, sizeof(t->comm), "%s", a->stat.comm);
        /* The kernel hands the files of /proc/PID of a non-dumpable process
         * (setuid, PR_SET_DUMPABLE 0) to root instead of its euid. Not the
         * directory itself: that always shows the euid, for ps. */
        t->dumpable = fstatat(a->dirfd, "status", &st, 0) == 0 && st.st_uid == a->status.uid[1];
        /* Fail closed: a namespace we cannot read is not ours. */
        n = readlink("/proc/self/ns/user", ours, sizeof(ours) - 1);
        m = readlinkat(a->dirfd, "ns/user", theirs, sizeof(theirs) - 1);
        t->same_userns = n > 0 && n == m && memcmp(ours, theirs, (size_t)n) == 0;
        n = readlinkat(a->dirfd, "exe", t->exe, sizeof(t->exe) - 1);
        t->exe[n > 0 ? n : 0] = '\0';
}

static int verify(struct adoption *a) {
        fill_target(a);
        if (!a->opts->verify)
                return 0;
        return a->opts->verify(&a->res->target, a->opts->userdata, a->err);
}

static bool have_cap_sys_admin(void) {
        char buf[4096];
        struct proc_status st;

        return proc_read(AT_FDCWD, "/proc/self/status", buf, sizeof(buf)) > 0 &&
               proc_parse_status(buf, &st) == 0 && (st.cap_eff & (1ULL << 21));
}

/* Who the target is; refuses what is never a candidate. Reads only what
 * /proc shows any user (no fds), so it may run before authorization. */
static int identify(struct adoption *a) {
        int r;

        r = engine_pidfd_to_pid(a->pidfd, &a->pid);
        if (r == -ESRCH)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "the process has already exited");
        if (r == -EXDEV)
                return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, r,
                                   "the process is in a pid namespace this helper cannot see");
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_INVALID, r,
                                   "the file descriptor is not a pidfd");
        a->res->pid = a->pid;

        r = proc_open(a->pidfd, a->pid, &a->dirfd);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "process %d has already exited", (int)a->pid);
        r = proc_read_stat(a->dirfd, &a->stat);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "process %d has already exited", (int)a->pid);
        r = proc_read_status(a->dirfd, &a->status);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "process %d has already exited", (int)a->pid);

        if (a->stat.flags & PROC_PF_KTHREAD)
                return engine_fail(
                        a->err, ENGINE_ERR_NO_SUCH_PROCESS, -EINVAL,
                        "%d (%s) is a kernel thread, not a program that could use a terminal",
                        (int)a->pid, a->stat.comm);
        if (a->pid == 1)
                return engine_fail(a->err, ENGINE_ERR_NO_SUCH_PROCESS, -EINVAL,
                                   "1 (%s) is the init process and is never adopted", a->stat.comm);
        if (a->stat.state == 'Z' || a->stat.state == 'X')
                return engine_fail(
                        a->err,
                        a->stat.num_threads > 1 ? ENGINE_ERR_UNSUPPORTED : ENGINE_ERR_TARGET_GONE,
                        -ESRCH,
                        a->stat.num_threads > 1
                                ? "process %d (%s) has exited its main thread; such processes "
                                  "cannot be adopted"
                                : "process %d (%s) has exited (it is a zombie waiting for its "
                                  "parent)",
                        (int)a->pid, a->stat.comm);
        fill_target(a);
        return 0;
}

static int inspect(struct adoption *a) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        char names[256];
        ssize_t n;
        int r;

        r = identify(a);
        if (r < 0)
                return r;
        if (engine_is_self_or_ancestor(a->pid))
                return engine_fail(
                        a->err, ENGINE_ERR_INVALID, -EINVAL,
                        "%d (%s) is reptyrctl itself or one of its ancestors (the shell you "
                        "typed in?); run reptyrctl from another terminal",
                        (int)a->pid, a->stat.comm);
        if (a->status.tracer_pid)
                return engine_fail(
                        a->err, ENGINE_ERR_BUSY, -EBUSY,
                        "process %d (%s) is already traced by process %d (a debugger, or "
                        "another adoption); detach that first",
                        (int)a->pid, a->stat.comm, (int)a->status.tracer_pid);
        r = check_personality(a);
        if (r < 0)
                return r;

        a->ctty = a->stat.tty_nr ? engine_tty_nr_to_dev(a->stat.tty_nr) : 0;
        a->leader = a->stat.session == a->pid;
        n = proc_list_fds(a->dirfd, &fds);
        if (n < 0) {
                if (n == -EACCES || n == -EPERM)
                        return engine_fail(
                                a->err, ENGINE_ERR_PERMISSION, (int)n,
                                "not allowed to look at the files of process %d (%s); it "
                                "belongs to another user or is protected",
                                (int)a->pid, a->stat.comm);
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, (int)n,
                                   "process %d has already exited", (int)a->pid);
        }
        r = select_term_fds(a, fds, (size_t)n);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, r,
                                   "process %d (%s) has more than %d terminal file descriptors",
                                   (int)a->pid, a->stat.comm, ENGINE_MAX_FDS);
        if (a->n_term == 0)
                return engine_fail(
                        a->err, ENGINE_ERR_NOT_A_TERMINAL, -ENOTTY,
                        a->opts->fds == ENGINE_FDS_STDIO
                                ? "process %d (%s) has no terminal on fds 0, 1 or 2; nothing "
                                  "to move"
                                : "process %d (%s) has no file descriptor open on a terminal; "
                                  "nothing to move (its output may go to a file or pipe)",
                        (int)a->pid, a->stat.comm);

        r = find_companions(a, names, sizeof(names));
        if (r > 0)
                return engine_fail(
                        a->err, ENGINE_ERR_HAS_CHILDREN, -EBUSY,
                        "process %d (%s) shares its %s with %s; moving it alone would cut "
                        "them off: adopt the process that leads them, or the whole session "
                        "(--session)",
                        (int)a->pid, a->stat.comm, a->leader ? "session" : "process group", names);

        if (a->status.seccomp != 0 && !have_cap_sys_admin())
                return engine_fail(
                        a->err, ENGINE_ERR_SECCOMP, -EPERM,
                        "process %d (%s) runs under a seccomp %s, which could kill it when it "
                        "makes the calls adoption needs; only a privileged adopter (reptyrd, "
                        "or root) can suspend the filter",
                        (int)a->pid, a->stat.comm,
                        a->status.seccomp == 1 ? "strict mode" : "filter");
        return verify(a);
}

/* ---- freeze ---- */

/* Why a thread did not stop in time, for the error message. */
static int stuck_error(struct adoption *a, const struct tracee *t, pid_t pid, const char *comm,
                       const char *role) {
        const char *why = t->stuck_state == 'D' ? "is in an uninterruptible wait" : "did not stop";
        return engine_fail(
                a->err, ENGINE_ERR_BUSY, -EBUSY,
                "thread %d of process %d (%s)%s %s (state %c, wchan %s): it may be waiting for "
                "a vfork()ed child or for a slow filesystem; nothing was changed; try again "
                "when it has moved on",
                (int)t->stuck_tid, (int)pid, comm, role, why, t->stuck_state, t->stuck_wchan);
}

static long rcall(struct adoption *a, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                  uint64_t a3);

static int freeze(struct adoption *a) {
        unsigned opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;
        _cleanup_free_ struct proc_fd *fds = NULL;
        struct proc_stat st;
        ssize_t n;
        long v;
        int r, child;

        if (a->status.seccomp != 0)
                opts |= PTRACE_O_SUSPEND_SECCOMP;
        /* Attach without stopping anything: until the permission check
         * below has passed, the target must not notice us at all. */
        r = tracee_seize(&a->t, a->pid, a->dirfd, opts);
        if (r == -EBUSY)
                return engine_fail(
                        a->err, ENGINE_ERR_BUSY, r,
                        "process %d (%s) is already traced (a debugger, or another adoption); "
                        "detach that first",
                        (int)a->pid, a->stat.comm);
        if (r == -EPERM)
                return engine_fail(
                        a->err, ENGINE_ERR_PERMISSION, r,
                        "the kernel does not let this user ptrace process %d (%s); adopt it "
                        "through reptyrd (without --direct) or as its owner",
                        (int)a->pid, a->stat.comm);
        if (r == -EINVAL && (opts & PTRACE_O_SUSPEND_SECCOMP))
                return engine_fail(
                        a->err, ENGINE_ERR_SECCOMP, r,
                        "process %d (%s) runs under seccomp and this kernel cannot suspend "
                        "it for a tracer (CONFIG_CHECKPOINT_RESTORE)",
                        (int)a->pid, a->stat.comm);
        if (r == -ESRCH || a->t.gone)
                return gone_error(a);
        if (r < 0)
                return step_error(a, "attaching to it", r);
        a->seized = true;

        /* Attached, it can no longer exec a program unnoticed (the exec
         * would stop it before the program runs). Look at it again and
         * decide once more: it may have exec'd a setuid program since it
         * was inspected. */
        if (!proc_pidfd_alive(a->pidfd))
                return gone_error(a);
        r = proc_read_stat(a->dirfd, &st);
        if (r < 0 || st.starttime != a->stat.starttime)
                return gone_error(a);
        r = proc_read_status(a->dirfd, &a->status);
        if (r < 0)
                return gone_error(a);
        r = verify(a);
        if (r < 0)
                return r;
        if ((r = checkpoint(a)) < 0)
                return step_error(a, "stopping it", r);

        /* Allowed: now stop it. */
        r = tracee_interrupt(&a->t, a->opts->stop_timeout_ms);
        if (r == -ETIMEDOUT)
                return stuck_error(a, &a->t, a->pid, a->stat.comm, "");
        if (r == -ESTALE)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, -ESTALE,
                                   "process %d (%s) started another program while it was being "
                                   "adopted; nothing was changed; adopt it again if it should be",
                                   (int)a->pid, a->stat.comm);
        if (r == -ENOBUFS)
                return engine_fail(a->err, ENGINE_ERR_BUSY, r,
                                   "process %d (%s) is receiving a flood of signals; nothing was "
                                   "changed; try again later",
                                   (int)a->pid, a->stat.comm);
        if (r == -ESRCH || a->t.gone)
                return gone_error(a);
        if (r < 0)
                return step_error(a, "stopping it", r);
        a->frozen = true;
        a->res->was_stopped = a->t.was_stopped;
        a->res->threads = (unsigned)a->t.n_threads;

        /* Now that it cannot change any more, look at it again: the fds we
         * move and the epoll registrations are taken from this frozen
         * view. */
        r = proc_read_stat(a->dirfd, &st);
        if (r < 0 || st.starttime != a->stat.starttime)
                return gone_error(a);
        a->stat = st;
        a->ctty = st.tty_nr ? engine_tty_nr_to_dev(st.tty_nr) : 0;
        a->leader = st.session == a->pid;
        child = frozen_children_in_group(a);
        if (child > 0)
                return engine_fail(
                        a->err, ENGINE_ERR_HAS_CHILDREN, -EBUSY,
                        "process %d (%s) has started child %d in its process group; adopt "
                        "the whole session with --session",
                        (int)a->pid, a->stat.comm, child);
        r = proc_read_status(a->dirfd, &a->status);
        if (r < 0)
                return gone_error(a);
        n = proc_list_fds(a->dirfd, &fds);
        if (n < 0)
                return gone_error(a);
        r = select_term_fds(a, fds, (size_t)n);
        if (r < 0 || a->n_term == 0)
                return engine_fail(a->err, ENGINE_ERR_NOT_A_TERMINAL, -ENOTTY,
                                   "process %d (%s) closed its terminal while it was being adopted",
                                   (int)a->pid, a->stat.comm);
        {
                struct proc_fd targets[ENGINE_MAX_FDS];
                struct proc_epoll_watch w[MAX_EPOLL];
                size_t m;

                for (size_t k = 0; k < a->n_term; k++)
                        targets[k] = (struct proc_fd){
                                .fd = a->term[k].fd, .dev = a->term[k].dev, .ino = a->term[k].ino};
                m = proc_epoll_watches(a->dirfd, fds, (size_t)n, targets, a->n_term, w, MAX_EPOLL);
                for (size_t k = 0; k < m; k++)
                        a->ep[a->n_ep++] = (struct epoll_fix){.epfd = w[k].epfd, .e = w[k].e};
        }

        r = remote_init(&a->r, &a->t);
        if (r == -ENOEXEC)
                return engine_fail(
                        a->err, ENGINE_ERR_UNSUPPORTED, r,
                        "process %d (%s) runs with a register set this %s build does not "
                        "know; use a build for its architecture",
                        (int)a->pid, a->stat.comm, arch_build_name);
        if (r == -ENOENT)
                return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, r,
                                   "no syscall instruction found in process %d (%s) (no vDSO?)",
                                   (int)a->pid, a->stat.comm);
        if (r < 0)
                return step_error(a, "reading its registers", r);
        a->remote_ready = true;
        /* Its pid as it sees itself: what its own signals carry. */
        v = rcall(a, ARCH_SYS_GETPID, 0, 0, 0, 0);
        if (remote_failed(v))
                return a->t.gone ? gone_error(a) : step_error(a, "asking its pid", v);
        a->t.self_pid = (pid_t)v;
        /* The auxiliary vector said one word size, the registers must say
         * the same: an x32 task has 32-bit words but x86_64 registers, and
         * needs syscall numbers this build does not have. */
        if (a->res->personality && strcmp(a->res->personality, a->r.pers->name) != 0)
                return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, -ENOEXEC,
                                   "process %d (%s) looks like a %s program but runs with %s "
                                   "registers (an x32 program?); this build cannot adopt it",
                                   (int)a->pid, a->stat.comm, a->res->personality, a->r.pers->name);
        a->res->personality = a->r.pers->name;
        return 0;
}

/* ---- the steps ---- */

static long rcall(struct adoption *a, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                  uint64_t a3) {
        return remote_syscall(&a->r, sys, a0, a1, a2, a3, 0, 0);
}

static int do_step(struct adoption *a, const char *what, long v) {
        if (remote_failed(v))
                return step_error(a, what, v);
        return 0;
}

static int build_pty(struct adoption *a) {
        unsigned char data[SCR_SIGINFO] = {0};
        uint64_t s;
        long v;
        int r;

        if ((r = checkpoint(a)) < 0 || (r = remote_scratch_map(&a->r)) < 0)
                return step_error(a, "mapping scratch memory", r);
        s = a->r.scratch;
        memcpy(data + SCR_PTMX, "/dev/ptmx", 10);
        memcpy(data + SCR_DEVTTY, "/dev/tty", 9);
        r = remote_write(&a->r, s, data, sizeof(data));
        if (r < 0)
                return step_error(a, "writing scratch memory", r);

        /* ioctl numbers and open flags are those of our own ABI: the same
         * for every personality this build adopts (x86_64 and i386). */
        if ((r = checkpoint(a)) < 0)
                return step_error(a, "opening /dev/ptmx", r);
        v = rcall(a, ARCH_SYS_OPENAT, (uint64_t)(int64_t)AT_FDCWD, s + SCR_PTMX,
                  O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
        if ((r = do_step(a, "opening /dev/ptmx in it", v)) < 0)
                return r;
        a->t_master = v;

        /* Our own copy of the master: the pty is unlocked from here, which
         * costs the target nothing. */
        if ((r = checkpoint(a)) < 0)
                return step_error(a, "taking the pty master", r);
        a->master = (int)syscall(SYS_pidfd_getfd, a->pidfd, (int)a->t_master, 0);
        if (a->master < 0)
                return step_error(a, "taking the pty master", -errno);
        /* "/dev/ptmx" was looked up in the target's mount namespace, which
         * its owner may control: make sure it is the real multiplexer
         * before we (perhaps root) issue a single ioctl on it. */
        {
                struct stat st;
                if (fstat(a->master, &st) < 0 || !S_ISCHR(st.st_mode) ||
                    st.st_rdev != makedev(5, 2))
                        return step_error(a, "opening /dev/ptmx in it (not the pty multiplexer)",
                                          -ENOTTY);
        }
        if (ioctl(a->master, TIOCSPTLCK, &(int){0}) < 0)
                return step_error(a, "unlocking the new pty", -errno);

        /* One slave open file per distinct set of the old fds' status
         * flags, so that e.g. an O_NONBLOCK stdin stays non-blocking. */
        for (size_t i = 0; i < a->n_term; i++) {
                unsigned fl = a->term[i].flags & (O_ACCMODE | O_NONBLOCK | O_APPEND);
                size_t k;

                for (k = 0; k < a->n_slaves; k++)
                        if (a->slave_flags[k] == fl)
                                break;
                if (k == a->n_slaves) {
                        if (k == MAX_SLAVES)
                                return step_error(a, "opening the new terminal", -E2BIG);
                        if ((r = checkpoint(a)) < 0)
                                return step_error(a, "opening the new terminal", r);
                        /* No O_CLOEXEC: it would stick to the open file's
                         * flags (fdinfo shows it for every fd we dup from
                         * it); dup3 sets each fd's own close-on-exec bit. */
                        v = rcall(a, ARCH_SYS_IOCTL, (uint64_t)a->t_master, TIOCGPTPEER,
                                  fl | O_NOCTTY, 0);
                        if ((r = do_step(a, "opening the new terminal", v)) < 0)
                                return r;
                        a->t_slave[k] = v;
                        a->slave_flags[k] = fl;
                        a->n_slaves++;
                }
                a->term[i].slave = (int)k;
        }
        /* The target needs its copy of the master no more. Ours is then the
         * only one: should we die from here on, the new terminal dies with
         * us, which the target hears as a hangup, instead of sitting on a
         * pty whose master only it holds and nobody can reach. */
        v = rcall(a, ARCH_SYS_CLOSE, (uint64_t)a->t_master, 0, 0, 0);
        if (!remote_failed(v))
                a->t_master = -1;
        return 0;
}

/* Terminal modes of the old terminal and the client's size, applied from
 * our side through the master (termios ioctls on a master act on the
 * slave). Best effort: a hung-up old terminal has no modes to copy. */
static void configure_pty(struct adoption *a) {
        int old = (int)syscall(SYS_pidfd_getfd, a->pidfd, a->term[0].fd, 0);
        struct termios tio;
        struct winsize ws = {0};
        unsigned n;

        if (old >= 0) {
                /* The old terminal's modes are the target's own only while
                 * it is the foreground job; otherwise (stopped or background
                 * job) they belong to the shell that took the terminal back
                 * (raw, no echo), and the new pty's sane defaults are the
                 * better guess. */
                if (a->stat.tpgid == a->stat.pgrp && tcgetattr(old, &tio) == 0)
                        (void)tcsetattr(a->master, TCSANOW, &tio);
                (void)ioctl(old, TIOCGWINSZ, &ws);
                close(old);
        }
        if (a->opts->rows && a->opts->cols) {
                ws.ws_row = a->opts->rows;
                ws.ws_col = a->opts->cols;
        }
        if (ws.ws_row && ws.ws_col)
                (void)ioctl(a->master, TIOCSWINSZ, &ws);
        if (ioctl(a->master, TIOCGPTN, &n) == 0)
                snprintf(a->res->tty, sizeof(a->res->tty), "/dev/pts/%u", n);
}

static int write_event(struct adoption *a, const struct proc_epoll_entry *e) {
        return remote_write_epoll_event(&a->r, a->r.scratch + SCR_EVENT, e->events, e->data);
}

static int move_fds(struct adoption *a) {
        long v;
        int r;

        for (size_t i = 0; i < a->n_term; i++) {
                /* One saved copy per open file: 0, 1 and 2 usually share
                 * one (kcmp tells, from our side, at no cost to it). */
                for (size_t j = 0; j < i && a->term[i].saved < 0; j++)
                        if (syscall(SYS_kcmp, a->pid, a->pid, KCMP_FILE, a->term[j].fd,
                                    a->term[i].fd) == 0) {
                                a->term[i].saved = a->term[j].saved;
                                a->term[i].saved_shared = true;
                        }
                if (a->term[i].saved >= 0)
                        continue;
                if ((r = checkpoint(a)) < 0)
                        return step_error(a, "saving its old terminal", r);
                v = rcall(a, ARCH_SYS_FCNTL, (uint64_t)a->term[i].fd, F_DUPFD_CLOEXEC, 3, 0);
                if ((r = do_step(a, "saving its old terminal", v)) < 0)
                        return r;
                a->term[i].saved = v;
        }
        /* An epoll registration is keyed by (file, fd number): it would
         * stay on the old terminal's file. Drop it now, re-add it for the
         * new file below with the same events and data. */
        for (size_t i = 0; i < a->n_ep; i++) {
                if ((r = checkpoint(a)) < 0)
                        return step_error(a, "updating its epoll set", r);
                v = rcall(a, ARCH_SYS_EPOLL_CTL, (uint64_t)a->ep[i].epfd, EPOLL_CTL_DEL,
                          (uint64_t)a->ep[i].e.tfd, 0);
                if ((r = do_step(a, "updating its epoll set", v)) < 0)
                        return r;
                a->ep[i].deleted = true;
        }
        for (size_t i = 0; i < a->n_term; i++) {
                struct term_fd *t = &a->term[i];
                if ((r = checkpoint(a)) < 0)
                        return step_error(a, "replacing its terminal fds", r);
                v = rcall(a, ARCH_SYS_DUP3, (uint64_t)a->t_slave[t->slave], (uint64_t)t->fd,
                          t->flags & O_CLOEXEC ? O_CLOEXEC : 0, 0);
                if ((r = do_step(a, "replacing its terminal fds", v)) < 0)
                        return r;
                t->replaced = true;
        }
        for (size_t i = 0; i < a->n_ep; i++) {
                if ((r = checkpoint(a)) < 0 || (r = write_event(a, &a->ep[i].e)) < 0)
                        return step_error(a, "updating its epoll set", r);
                v = rcall(a, ARCH_SYS_EPOLL_CTL, (uint64_t)a->ep[i].epfd, EPOLL_CTL_ADD,
                          (uint64_t)a->ep[i].e.tfd, a->r.scratch + SCR_EVENT);
                if ((r = do_step(a, "updating its epoll set", v)) < 0)
                        return r;
                a->ep[i].added = true;
        }
        return 0;
}

/* A session leader giving up its controlling terminal (TIOCNOTTY) makes the
 * kernel send SIGHUP and SIGCONT to the terminal's foreground group, i.e. to
 * the target itself, in its own name. They are ours, not the target's: they
 * are dropped when its next resume dequeues them (a cheap call makes that
 * happen at once), never re-queued. The target's own SIGHUP action is not
 * touched. The SIGCONT's side effect, waking a stopped group, already
 * happened: `restop` puts the stop back. */
static uint64_t pending_signals(struct adoption *a) {
        struct proc_status st;

        if (proc_read_status(a->dirfd, &st) < 0)
                return 0;
        return st.sig_pnd | st.shd_pnd;
}

static void arm_drop_own_hangup(struct adoption *a) {
        /* Already pending, the kernel's instance merges into the target's
         * own one: then there is nothing of ours to drop. */
        uint64_t before = pending_signals(a);

        a->t.drop_pending = 0;
        if (!(before & (1ULL << (SIGHUP - 1))))
                a->t.drop_pending |= 1U << (SIGHUP - 1);
        if (!(before & (1ULL << (SIGCONT - 1))))
                a->t.drop_pending |= 1U << (SIGCONT - 1);
}

/* After the TIOCNOTTY: a cheap call lets the work thread dequeue what it
 * does not block (dropped in the signal-delivery stop). What it blocks
 * stays queued; it is taken out with a zero-timeout sigtimedwait, and put
 * back should it not be ours after all. */
static void drop_own_hangup(struct adoption *a) {
        static const int sigs[] = {SIGHUP, SIGCONT};

        (void)rcall(a, ARCH_SYS_GETPID, 0, 0, 0, 0);
        for (size_t i = 0; i < ELEMENTSOF(sigs) && !a->t.gone; i++) {
                uint64_t set = 1ULL << (sigs[i] - 1);
                siginfo_t si;
                int32_t code, sender;
                long v;

                if (!(a->t.drop_pending & (1U << (sigs[i] - 1))))
                        continue;
                if (remote_write(&a->r, a->r.scratch + SCR_SIGSET, &set, sizeof(set)) < 0)
                        continue;
                v = remote_syscall(&a->r, ARCH_SYS_RT_SIGTIMEDWAIT, a->r.scratch + SCR_SIGSET,
                                   a->r.scratch + SCR_SIGINFO, a->r.scratch + SCR_ZERO_TS, 8, 0, 0);
                if (remote_failed(v) ||
                    remote_read(&a->r, a->r.scratch + SCR_SIGINFO, &si, sizeof(si)) < 0)
                        continue;
                /* si_code is the third int in every ABI; si_pid follows the
                 * header, which 64-bit ABIs pad to 16 bytes. */
                memcpy(&code, (const char *)&si + 8, 4);
                memcpy(&sender, (const char *)&si + (a->r.pers->word_size == 4 ? 12 : 16), 4);
                if (code != SI_USER || sender != a->t.self_pid) {
                        /* Someone else's: it goes back before we leave. */
                        if (a->t.n_deferred < TRACEE_MAX_DEFERRED)
                                a->t.deferred[a->t.n_deferred++] = si;
                }
        }
        a->t.drop_pending = 0;
}

static long old_ctty_fd(struct adoption *a) {
        for (size_t i = 0; i < a->n_term; i++)
                if (a->term[i].rdev == a->ctty)
                        return a->term[i].saved;
        return -1;
}

static void drop_dummy(struct adoption *a);

/* Give up the old controlling terminal. */
static int leave_old_tty(struct adoption *a) {
        long v, fd = -1, tmp = -1;
        int r;

        if (!a->leader) {
                /* setsid() fails for a process group leader, and a shell's
                 * job always leads its group. So: a dummy child of the
                 * target gets a group of its own, the target joins that
                 * group (it no longer leads one), calls setsid(), and then
                 * kills and reaps the dummy itself, so that its parent never
                 * sees a stray child. The dummy is created traced (clone
                 * event) and never runs a single instruction. */
                if (a->stat.pgrp == a->pid) {
                        if ((r = checkpoint(a)) < 0)
                                return step_error(a, "creating a helper child", r);
                        a->t.event_child = 0;
                        /* exit signal 0: its death sends no SIGCHLD. */
                        v = rcall(a, ARCH_SYS_CLONE, 0, 0, 0, 0);
                        if (a->t.event_child > 0)
                                a->dummy = a->t.event_child;
                        if ((r = do_step(a, "creating a helper child", v)) < 0)
                                return r;
                        a->dummy_t = v;

                        if ((r = checkpoint(a)) < 0)
                                return step_error(a, "moving process groups", r);
                        v = rcall(a, ARCH_SYS_SETPGID, (uint64_t)a->dummy_t, (uint64_t)a->dummy_t,
                                  0, 0);
                        if ((r = do_step(a, "moving process groups", v)) < 0)
                                return r;
                        if ((r = checkpoint(a)) < 0)
                                return step_error(a, "moving process groups", r);
                        v = rcall(a, ARCH_SYS_SETPGID, 0, (uint64_t)a->dummy_t, 0, 0);
                        if ((r = do_step(a, "moving process groups", v)) < 0)
                                return r;
                        a->pgid_moved = true;
                }
                if ((r = checkpoint(a)) < 0)
                        return step_error(a, "starting a new session", r);
                if ((r = proceed(a)) < 0)
                        return r;
                v = rcall(a, ARCH_SYS_SETSID, 0, 0, 0, 0);
                if ((r = do_step(a, "starting a new session", v)) < 0)
                        return r;
                a->noreturn = true;
                /* The dummy has served its purpose: gone at once, so that a
                 * tracer dying from here on leaves no child behind. */
                drop_dummy(a);
                a->res->was_leader = false;
                return 0;
        }

        a->res->was_leader = true;
        if (!a->ctty)
                return 0;
        /* TIOCNOTTY must be issued on the controlling terminal itself. */
        fd = old_ctty_fd(a);
        if ((r = checkpoint(a)) < 0)
                return step_error(a, "leaving the old terminal", r);
        if (fd < 0) {
                v = rcall(a, ARCH_SYS_OPENAT, (uint64_t)(int64_t)AT_FDCWD,
                          a->r.scratch + SCR_DEVTTY, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
                if ((r = do_step(a, "opening its old terminal", v)) < 0)
                        return r;
                fd = tmp = v;
        }
        if ((r = proceed(a)) < 0)
                return r;
        arm_drop_own_hangup(a);
        v = rcall(a, ARCH_SYS_IOCTL, (uint64_t)fd, TIOCNOTTY, 0, 0);
        if (tmp >= 0)
                (void)rcall(a, ARCH_SYS_CLOSE, (uint64_t)tmp, 0, 0, 0);
        drop_own_hangup(a);
        if ((r = do_step(a, "leaving the old terminal", v)) < 0)
                return r;
        a->noreturn = true;
        if (a->t.was_stopped)
                a->restop = true; /* that SIGCONT ended its job-control stop */
        /* Adoption ends with a SIGCONT of its own (unless it was stopped),
         * which stands in for the kernel's. */
        return 0;
}

static int take_new_tty(struct adoption *a) {
        long v;
        int r;

        if ((r = checkpoint(a)) < 0)
                return step_error(a, "making the new terminal its controlling terminal", r);
        v = rcall(a, ARCH_SYS_IOCTL, (uint64_t)a->t_slave[0], TIOCSCTTY, 0, 0);
        if ((r = do_step(a, "making the new terminal its controlling terminal", v)) < 0)
                return r;
        a->ctty_set = true;
        return 0;
}

/* Kill and reap the dummy child: the target reaps it (wait4 with __WCLONE:
 * its exit signal is 0), after we, its tracer, have collected its death. */
static void drop_dummy(struct adoption *a) {
        int status;

        if (a->dummy <= 0)
                return;
        if (!a->t.gone && a->dummy_t > 0)
                (void)rcall(a, ARCH_SYS_KILL, (uint64_t)a->dummy_t, SIGKILL, 0, 0);
        else
                (void)kill(a->dummy, SIGKILL);
        while (waitpid(a->dummy, &status, __WALL) == a->dummy && !WIFEXITED(status) &&
               !WIFSIGNALED(status))
                (void)ptrace(PTRACE_CONT, a->dummy, NULL, NULL);
        if (!a->t.gone && a->dummy_t > 0)
                (void)rcall(a, ARCH_SYS_WAIT4, (uint64_t)a->dummy_t, 0, __WCLONE, 0);
        a->dummy = 0;
        a->dummy_t = 0;
}

/* ---- undo and leave ---- */

static int cmp_long(const void *x, const void *y) {
        long a = *(const long *)x, b = *(const long *)y;
        return (a > b) - (a < b);
}

/* Close every fd we created in the target: saved copies, slaves, master.
 * They were allocated one after another, so they are usually one range
 * and go in a single close_range(). */
static void close_temporaries(struct adoption *a) {
        long fds[ENGINE_MAX_FDS + MAX_SLAVES + 1];
        size_t n = 0;
        long v;

        for (size_t i = 0; i < a->n_term; i++) {
                if (a->term[i].saved >= 0 && !a->term[i].saved_shared)
                        fds[n++] = a->term[i].saved;
                a->term[i].saved = -1;
        }
        for (size_t i = 0; i < a->n_slaves; i++) {
                if (a->t_slave[i] >= 0)
                        fds[n++] = a->t_slave[i];
                a->t_slave[i] = -1;
        }
        if (a->t_master >= 0)
                fds[n++] = a->t_master;
        a->t_master = -1;
        if (n == 0 || a->t.gone)
                return;
        qsort(fds, n, sizeof(fds[0]), cmp_long);
        if (fds[n - 1] - fds[0] + 1 == (long)n) {
                v = rcall(a, ARCH_SYS_CLOSE_RANGE, (uint64_t)fds[0], (uint64_t)fds[n - 1], 0, 0);
                if (!remote_failed(v) || v != -ENOSYS)
                        return;
        }
        for (size_t i = 0; i < n; i++)
                (void)rcall(a, ARCH_SYS_CLOSE, (uint64_t)fds[i], 0, 0, 0);
}

/* Reverse of everything done so far, newest first. */
static void undo(struct adoption *a) {
        if (a->t.gone)
                goto ours;
        if (a->ctty_set) {
                /* Give the new terminal up again before its master goes
                 * away, or the hangup would hit the target. Like any
                 * TIOCNOTTY by a session leader it makes the kernel send
                 * SIGHUP and SIGCONT, which are dropped as before. */
                arm_drop_own_hangup(a);
                (void)rcall(a, ARCH_SYS_IOCTL, (uint64_t)a->t_slave[0], TIOCNOTTY, 0, 0);
                drop_own_hangup(a);
                a->ctty_set = false;
                a->restop = a->t.was_stopped;
        }
        if (a->noreturn && a->res->was_leader && a->ctty) {
                long fd = old_ctty_fd(a);
                /* A session leader without a terminal may take its old one
                 * back (nobody else can have claimed it meanwhile: the old
                 * session is its own). */
                if (fd >= 0)
                        (void)rcall(a, ARCH_SYS_IOCTL, (uint64_t)fd, TIOCSCTTY, 0, 0);
        }
        for (size_t i = a->n_ep; i-- > 0;)
                if (a->ep[i].added) {
                        (void)rcall(a, ARCH_SYS_EPOLL_CTL, (uint64_t)a->ep[i].epfd, EPOLL_CTL_DEL,
                                    (uint64_t)a->ep[i].e.tfd, 0);
                        a->ep[i].added = false;
                }
        for (size_t i = a->n_term; i-- > 0;) {
                struct term_fd *t = &a->term[i];
                if (t->replaced && t->saved >= 0)
                        (void)rcall(a, ARCH_SYS_DUP3, (uint64_t)t->saved, (uint64_t)t->fd,
                                    t->flags & O_CLOEXEC ? O_CLOEXEC : 0, 0);
                t->replaced = false;
        }
        for (size_t i = a->n_ep; i-- > 0;)
                if (a->ep[i].deleted && write_event(a, &a->ep[i].e) == 0) {
                        (void)rcall(a, ARCH_SYS_EPOLL_CTL, (uint64_t)a->ep[i].epfd, EPOLL_CTL_ADD,
                                    (uint64_t)a->ep[i].e.tfd, a->r.scratch + SCR_EVENT);
                        a->ep[i].deleted = false;
                }
        if (a->pgid_moved && !a->noreturn) {
                /* Lead its own group again, as before. */
                (void)rcall(a, ARCH_SYS_SETPGID, 0, 0, 0, 0);
                a->pgid_moved = false;
        }
ours:
        drop_dummy(a);
        close_temporaries(a);
        if (a->master >= 0) {
                close(a->master);
                a->master = -1;
        }
}

/* Let go of the target: temporaries closed, scratch unmapped, deferred
 * signals re-queued, mask and registers restored, every thread detached. */
static void leave(struct adoption *a) {
        if (!a->seized)
                return;
        if (a->remote_ready && !a->t.gone) {
                (void)remote_requeue_deferred(&a->r);
                (void)remote_scratch_unmap(&a->r);
                (void)remote_restore(&a->r);
                if (a->restop)
                        (void)syscall(SYS_pidfd_send_signal, a->pidfd, a->t.stop_sig, NULL, 0);
        }
        unpin_target(&a->pin);
        tracee_release(&a->t);
        a->seized = a->frozen = a->remote_ready = false;
}

static void fill_result(struct adoption *a) {
        char path[32];
        ssize_t n;

        a->res->n_replaced = a->n_term;
        for (size_t i = 0; i < a->n_term; i++)
                a->res->replaced_fds[i] = a->term[i].fd;
        snprintf(path, sizeof(path), "fd/%d", a->term[0].fd);
        n = readlinkat(a->dirfd, path, a->res->old_tty, sizeof(a->res->old_tty) - 1);
        a->res->old_tty[n > 0 ? n : 0] = '\0';
}

int engine_identify(int pidfd, struct engine_target *target, struct engine_error *err) {
        static const struct engine_options none;
        struct engine_result res = {0};
        struct adoption a = {
                .pidfd = pidfd,
                .dirfd = -1,
                .opts = &none,
                .res = &res,
                .err = err,
        };
        int r;

        memset(err, 0, sizeof(*err));
        r = identify(&a);
        if (a.dirfd >= 0)
                close(a.dirfd);
        *target = res.target;
        /* Even a refusal names whom it refused. */
        target->pid = a.pid;
        if (!target->comm[0])
                snprintf(target->comm, sizeof(target->comm), "%s", a.stat.comm);
        return r;
}

int engine_adopt(int pidfd, const struct engine_options *opts, struct engine_result *res,
                 struct engine_error *err) {
        struct adoption a = {
                .pidfd = pidfd,
                .dirfd = -1,
                .opts = opts,
                .res = res,
                .err = err,
                .t_master = -1,
                .master = -1,
        };
        int r;

        memset(res, 0, sizeof(*res));
        memset(err, 0, sizeof(*err));
        res->master_fd = -1;
        if (opts->mode == ENGINE_MODE_SESSION)
                return engine_adopt_session(pidfd, opts, res, err);
        for (size_t i = 0; i < MAX_SLAVES; i++)
                a.t_slave[i] = -1;

        r = inspect(&a);
        if (r < 0)
                goto out;
        fill_result(&a);
        if (opts->dry_run)
                goto out;

        r = freeze(&a);
        if (r < 0)
                goto undo;
        pin_together(&a.pin, tracee_work_tid(&a.t));
        fill_result(&a);
        if ((r = build_pty(&a)) < 0)
                goto undo;
        configure_pty(&a);
        if ((r = move_fds(&a)) < 0 || (r = leave_old_tty(&a)) < 0 || (r = take_new_tty(&a)) < 0)
                goto undo;
        if ((r = checkpoint(&a)) < 0) {
                r = step_error(&a, "cleaning up", r);
                goto undo;
        }

        /* Committed. The saved copies of the old terminal go now. */
        drop_dummy(&a);
        close_temporaries(&a);
        leave(&a);
        if (a.t.gone || !proc_pidfd_alive(pidfd)) {
                close(a.master);
                r = gone_error(&a);
                goto out;
        }
        /* Programs redraw on SIGWINCH; SIGCONT wakes one that stopped on
         * the old terminal's job control. A job-control stopped target is
         * left stopped. */
        (void)syscall(SYS_pidfd_send_signal, pidfd, SIGWINCH, NULL, 0);
        if (!res->was_stopped)
                (void)syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0);
        res->master_fd = a.master;
        res->steps = a.step;
        r = 0;
        goto out;

undo:
        if (a.remote_ready)
                undo(&a);
        leave(&a);
out:
        unpin(&a.pin);
        res->steps = a.step;
        if (a.dirfd >= 0)
                close(a.dirfd);
        return r;
}
