/* SPDX-License-Identifier: MIT */
/*
 * Session mode: take over a whole terminal session (a shell with its jobs,
 * pipelines, children) by taking over its pseudo-terminal's master.
 *
 * Nothing in the session moves: the shell and its jobs stay on the same pty
 * slave, with their own job control. What changes hands is the master. The
 * processes holding it ("holders": a terminal emulator, sshd, tmux, or an
 * earlier reptyrctl) are found by their ptmx fds whose fdinfo tty-index is
 * the session's pty, never by guessing a parent. We take a copy of the
 * master first (pidfd_getfd), so the slave is never hung up, and only then
 * make every holder's copy /dev/null, with its epoll registrations of that
 * copy dropped: the holder goes on running and no longer sees the session.
 * A second takeover finds the first reptyrctl as the holder, which then
 * reads end-of-file and ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
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

#define MAX_HOLDERS ENGINE_MAX_HOLDERS
#define MAX_EPOLL 16

enum { SCR_DEVNULL = 0, SCR_EVENT = 16 };

struct holder {
        pid_t pid;
        int pidfd, dirfd;
        int fd; /* its copy of the master */
        unsigned flags;
        dev_t dev;
        ino_t ino;
        char comm[64];
        struct tracee t;
        bool frozen;
        struct remote r;
        long saved, nullfd;
        bool replaced;
        const struct engine_options *opts; /* for the fault-injection tests */
        unsigned *step;
        struct proc_epoll_watch ep[MAX_EPOLL];
        bool ep_deleted[MAX_EPOLL];
        size_t n_ep;
};

struct takeover {
        const struct engine_options *opts;
        struct engine_result *res;
        struct engine_error *err;
        pid_t pid; /* the process named by the caller */
        struct proc_stat stat;
        dev_t tty;
        unsigned index;  /* N of /dev/pts/N */
        dev_t slave_dev; /* st_dev of its devpts, 0 if unknown */
        struct holder h[MAX_HOLDERS];
        size_t n;
        int master;
        unsigned unreadable; /* processes whose fds we may not look at */
};

/* Is `m` (a pty master) the master of the session's slave? Its peer must
 * be that very device of that very devpts instance. */
static bool master_matches(struct takeover *s, int m) {
        int peer = ioctl(m, TIOCGPTPEER, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        bool ok;

        if (peer < 0)
                return false;
        ok = fstat(peer, &st) == 0 && st.st_rdev == s->tty &&
             (s->slave_dev == 0 || st.st_dev == s->slave_dev);
        close(peer);
        return ok;
}

static int tty_index(const char *fdinfo) {
        const char *p = strstr(fdinfo, "tty-index:");
        return p ? atoi(p + 10) : -1;
}

static void add_holder(struct takeover *s, pid_t pid, int dirfd, int fd, const struct stat *st,
                       unsigned flags) {
        int pidfd, m;
        struct holder *h;
        struct proc_stat ps;

        if (s->n == MAX_HOLDERS)
                return;
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return;
        m = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        if (m < 0 || !master_matches(s, m)) {
                if (m >= 0)
                        close(m);
                close(pidfd);
                return;
        }
        if (s->master < 0)
                s->master = m; /* ours from now on: the slave can no longer hang up */
        else
                close(m);
        h = &s->h[s->n++];
        *h = (struct holder){
                .pid = pid,
                .pidfd = pidfd,
                .dirfd = -1,
                .fd = fd,
                .flags = flags,
                .dev = st->st_dev,
                .ino = st->st_ino,
                .saved = -1,
                .nullfd = -1,
                .opts = s->opts,
                .step = &s->res->steps,
        };
        h->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (proc_read_stat(dirfd, &ps) == 0)
                snprintf(h->comm, sizeof(h->comm), "%s", ps.comm);
}

/* Every process's ptmx fds whose tty-index is ours. */
static int find_holders(struct takeover *s) {
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (procfd < 0)
                return -errno;
        d = fdopendir(procfd);
        if (!d)
                return -errno;
        procfd = -1;
        while ((de = readdir(d))) {
                pid_t p = proc_name_to_pid(de->d_name);
                _cleanup_close_ int pd = -1;
                _cleanup_free_ struct proc_fd *fds = NULL;
                ssize_t n;

                if (p < 0 || p == getpid())
                        continue;
                if (p == s->pid && s->res->n_members < ENGINE_MAX_MEMBERS) {
                        s->res->members[s->res->n_members++] = p;
                        continue; /* the target never holds its own master */
                }
                pd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (pd < 0)
                        continue;
                {
                        struct proc_stat ps;
                        if (proc_read_stat(pd, &ps) == 0 && ps.session == s->stat.session &&
                            s->res->n_members < ENGINE_MAX_MEMBERS)
                                s->res->members[s->res->n_members++] = p;
                }
                n = proc_list_fds(pd, &fds);
                if (n == -EACCES || n == -EPERM)
                        s->unreadable++;
                for (ssize_t i = 0; i < n; i++) {
                        char path[32], info[1024];
                        struct stat st = {.st_dev = fds[i].dev, .st_ino = fds[i].ino};

                        if (!S_ISCHR(fds[i].mode) || fds[i].rdev != makedev(5, 2))
                                continue;
                        snprintf(path, sizeof(path), "fdinfo/%d", fds[i].fd);
                        if (proc_read(pd, path, info, sizeof(info)) < 0 ||
                            tty_index(info) != (int)s->index)
                                continue;
                        add_holder(s, p, pd, fds[i].fd, &st, fds[i].flags);
                }
        }
        closedir(d);
        return 0;
}

/* The devpts instance of the session's slave, from any fd of the target
 * open on it (0 if it has none: then the device number alone decides). */
static dev_t slave_devpts(int dirfd, dev_t tty) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        ssize_t n = proc_list_fds(dirfd, &fds);

        for (ssize_t i = 0; i < n; i++)
                if (S_ISCHR(fds[i].mode) && fds[i].rdev == tty)
                        return fds[i].dev;
        return 0;
}

/* ---- switching one holder's copy to /dev/null ---- */

static long rcall(struct holder *h, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                  uint64_t a3) {
        return remote_syscall(&h->r, sys, a0, a1, a2, a3, 0, 0);
}

static void find_epoll(struct holder *h) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        struct proc_fd target = {.fd = h->fd, .dev = h->dev, .ino = h->ino};
        ssize_t n = proc_list_fds(h->dirfd, &fds);

        if (n > 0)
                h->n_ep =
                        proc_epoll_watches(h->dirfd, fds, (size_t)n, &target, 1, h->ep, MAX_EPOLL);
}

static int holder_freeze(struct holder *h) {
        int r = tracee_seize(&h->t, h->pid, h->dirfd, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC);

        if (r < 0)
                return r;
        h->frozen = true;
        r = tracee_block_signals(&h->t);
        if (r < 0)
                return r;
        find_epoll(h);
        return remote_init(&h->r, &h->t);
}

/* A checkpoint before each step of a switch, as in process mode: tests make
 * the step fail, or kill the holder just before it. */
static int checkpoint(struct holder *h) {
        if (++*h->step != h->opts->fault.step)
                return 0;
        if (h->opts->fault.action == ENGINE_FAULT_FAIL)
                return -EIO;
        if (h->opts->fault.action == ENGINE_FAULT_KILL)
                (void)syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0);
        return 0;
}

/* One forward step: a checkpoint, then the remote call. */
static long step(struct holder *h, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                 uint64_t a3) {
        int r = checkpoint(h);

        return r < 0 ? r : rcall(h, sys, a0, a1, a2, a3);
}

static int holder_switch(struct holder *h) {
        long v;
        int r;

        r = checkpoint(h);
        if (r < 0)
                return r;
        r = remote_scratch_map(&h->r);
        if (r < 0)
                return r;
        r = remote_write(&h->r, h->r.scratch + SCR_DEVNULL, "/dev/null", 10);
        if (r < 0)
                return r;
        v = step(h, ARCH_SYS_FCNTL, (uint64_t)h->fd, F_DUPFD_CLOEXEC, 3, 0);
        if (remote_failed(v))
                return (int)v;
        h->saved = v;
        v = step(h, ARCH_SYS_OPENAT, (uint64_t)(int64_t)AT_FDCWD, h->r.scratch + SCR_DEVNULL,
                 O_RDWR | O_CLOEXEC, 0);
        if (remote_failed(v))
                return (int)v;
        h->nullfd = v;
        /* Its event loop must stop hearing about the master: drop the
         * registrations of that fd (the file stays alive through our copy,
         * so the kernel would not drop them by itself). */
        for (size_t i = 0; i < h->n_ep; i++) {
                v = step(h, ARCH_SYS_EPOLL_CTL, (uint64_t)h->ep[i].epfd, EPOLL_CTL_DEL,
                         (uint64_t)h->fd, 0);
                if (remote_failed(v))
                        return (int)v;
                h->ep_deleted[i] = true;
        }
        v = step(h, ARCH_SYS_DUP3, (uint64_t)h->nullfd, (uint64_t)h->fd,
                 h->flags & O_CLOEXEC ? O_CLOEXEC : 0, 0);
        if (remote_failed(v))
                return (int)v;
        h->replaced = true;
        return 0;
}

static void holder_undo(struct holder *h) {
        if (!h->frozen || h->t.gone)
                return;
        if (h->replaced && h->saved >= 0)
                (void)rcall(h, ARCH_SYS_DUP3, (uint64_t)h->saved, (uint64_t)h->fd,
                            h->flags & O_CLOEXEC ? O_CLOEXEC : 0, 0);
        h->replaced = false;
        for (size_t i = 0; i < h->n_ep; i++) {
                if (!h->ep_deleted[i])
                        continue;
                if (remote_write_epoll_event(&h->r, h->r.scratch + SCR_EVENT, h->ep[i].e.events,
                                             h->ep[i].e.data) == 0)
                        (void)rcall(h, ARCH_SYS_EPOLL_CTL, (uint64_t)h->ep[i].epfd, EPOLL_CTL_ADD,
                                    (uint64_t)h->fd, h->r.scratch + SCR_EVENT);
                h->ep_deleted[i] = false;
        }
}

static void holder_leave(struct holder *h) {
        if (h->frozen) {
                if (!h->t.gone) {
                        if (h->saved >= 0)
                                (void)rcall(h, ARCH_SYS_CLOSE, (uint64_t)h->saved, 0, 0, 0);
                        if (h->nullfd >= 0)
                                (void)rcall(h, ARCH_SYS_CLOSE, (uint64_t)h->nullfd, 0, 0, 0);
                        (void)remote_scratch_unmap(&h->r);
                        (void)tracee_restore_signals(&h->t);
                        (void)remote_restore(&h->r);
                }
                tracee_release(&h->t);
                h->frozen = false;
        }
        if (h->pidfd >= 0)
                close(h->pidfd);
        if (h->dirfd >= 0)
                close(h->dirfd);
        h->pidfd = h->dirfd = -1;
}

/* ---- the takeover ---- */

/* A process whose terminal was hung up (its master closed: the window or
 * the ssh connection went away) has no controlling terminal any more, but
 * its stdio still points at the dead pty slave: that is the terminal it
 * lost, and finding no holder for it is then the right answer. */
static dev_t stdio_pty(int dirfd) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        ssize_t n = proc_list_fds(dirfd, &fds);

        for (ssize_t i = 0; i < n; i++)
                if (fds[i].fd <= 2 && S_ISCHR(fds[i].mode) && major(fds[i].rdev) >= 136 &&
                    major(fds[i].rdev) <= 143)
                        return fds[i].rdev;
        return 0;
}

static int identify_session(struct takeover *s, int pidfd) {
        _cleanup_close_ int dirfd = -1;
        int r;

        r = engine_pidfd_to_pid(pidfd, &s->pid);
        if (r < 0)
                return engine_fail(s->err, ENGINE_ERR_TARGET_GONE, r, "the process has exited");
        s->res->pid = s->pid;
        r = proc_open(pidfd, s->pid, &dirfd);
        if (r < 0 || proc_read_stat(dirfd, &s->stat) < 0)
                return engine_fail(s->err, ENGINE_ERR_TARGET_GONE, -ESRCH, "process %d has exited",
                                   (int)s->pid);
        s->tty = s->stat.tty_nr ? engine_tty_nr_to_dev(s->stat.tty_nr) : stdio_pty(dirfd);
        if (s->tty == 0)
                return engine_fail(s->err, ENGINE_ERR_NOT_A_TERMINAL, -ENOTTY,
                                   "process %d (%s) has no controlling terminal, so it is in no "
                                   "terminal session to take over; adopt it alone (process mode)",
                                   (int)s->pid, s->stat.comm);
        if (major(s->tty) < 136 || major(s->tty) > 143)
                return engine_fail(s->err, ENGINE_ERR_UNSUPPORTED, -ENOTTY,
                                   "process %d (%s) runs on a terminal that is not a "
                                   "pseudo-terminal (a console or serial line has no master to "
                                   "take over); adopt single processes (process mode)",
                                   (int)s->pid, s->stat.comm);
        s->index = (major(s->tty) - 136) * 256 + minor(s->tty);
        snprintf(s->res->tty, sizeof(s->res->tty), "/dev/pts/%u", s->index);
        snprintf(s->res->old_tty, sizeof(s->res->old_tty), "/dev/pts/%u", s->index);
        s->slave_dev = slave_devpts(dirfd, s->tty);
        return 0;
}

int engine_adopt_session(int pidfd, const struct engine_options *opts, struct engine_result *res,
                         struct engine_error *err) {
        struct takeover s = {.opts = opts, .res = res, .err = err, .master = -1};
        int r;
        size_t i;

        r = identify_session(&s, pidfd);
        if (r < 0)
                return r;
        r = find_holders(&s);
        if (r < 0)
                return engine_fail(err, ENGINE_ERR_FAILED, r, "cannot list processes: %s",
                                   strerror(-r));
        if (s.n == 0)
                return engine_fail(
                        err, ENGINE_ERR_NOT_A_TERMINAL, -ENOENT,
                        "no process %sholds the master of /dev/pts/%u any more (its terminal "
                        "window or ssh connection is gone), so there is no session to take "
                        "over; its processes can still be adopted one by one (process mode, "
                        "without --session)",
                        s.unreadable ? "that may be looked at " : "", s.index);
        res->n_holders = s.n;
        for (i = 0; i < s.n; i++) {
                res->holders[i] = s.h[i].pid;
                if (i < ENGINE_MAX_FDS)
                        res->replaced_fds[res->n_replaced++] = s.h[i].fd;
        }
        if (opts->verify) {
                for (i = 0; i < s.n; i++) {
                        struct engine_target t;
                        if (engine_identify(s.h[i].pidfd, &t, err) < 0 ||
                            opts->verify(&t, opts->userdata, err) < 0) {
                                r = -EPERM;
                                goto out;
                        }
                }
        }
        if (opts->dry_run) {
                r = 0;
                goto out;
        }

        /* Freeze every holder, switch each, and let them go only when all
         * worked: a failure undoes every switch. */
        for (i = 0; i < s.n; i++) {
                r = holder_freeze(&s.h[i]);
                if (r == -ENOEXEC) {
                        engine_fail(err, ENGINE_ERR_UNSUPPORTED, r,
                                    "%d (%s), which holds the terminal, runs with a register set "
                                    "this %s build does not know; use a build for its "
                                    "architecture; nothing was changed",
                                    (int)s.h[i].pid, s.h[i].comm, arch_build_name);
                        goto undo;
                }
                if (r < 0) {
                        engine_fail(err,
                                    r == -EPERM   ? ENGINE_ERR_PERMISSION
                                    : r == -EBUSY ? ENGINE_ERR_BUSY
                                                  : ENGINE_ERR_FAILED,
                                    r,
                                    "cannot stop %d (%s), which holds the terminal: %s; nothing "
                                    "was changed",
                                    (int)s.h[i].pid, s.h[i].comm, strerror(-r));
                        goto undo;
                }
        }
        for (i = 0; i < s.n; i++) {
                r = holder_switch(&s.h[i]);
                if (r < 0) {
                        engine_fail(err, s.h[i].t.gone ? ENGINE_ERR_TARGET_GONE : ENGINE_ERR_FAILED,
                                    r,
                                    "cannot take the terminal away from %d (%s): %s; nothing was "
                                    "changed",
                                    (int)s.h[i].pid, s.h[i].comm, strerror(-r));
                        goto undo;
                }
        }
        for (i = 0; i < s.n; i++)
                holder_leave(&s.h[i]);

        if (opts->rows && opts->cols) {
                struct winsize ws = {.ws_row = opts->rows, .ws_col = opts->cols};
                (void)ioctl(s.master, TIOCSWINSZ, &ws);
        }
        {
                /* Whatever runs in the foreground redraws for its new
                 * viewer, even if the size did not change. */
                pid_t fg = 0;
                if (ioctl(s.master, TIOCGPGRP, &fg) == 0 && fg > 0)
                        (void)kill(-fg, SIGWINCH);
        }
        res->master_fd = s.master;
        s.master = -1;
        return 0;

undo:
        for (i = s.n; i-- > 0;)
                holder_undo(&s.h[i]);
out:
        for (i = 0; i < s.n; i++)
                holder_leave(&s.h[i]);
        if (s.master >= 0)
                close(s.master);
        return r;
}
