/* SPDX-License-Identifier: MIT */
/* Session mode: one holder of the pty master, frozen, its copies of the
 * master switched to /dev/null (with their epoll registrations), or all of
 * it undone; see session.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
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
#include "session.h"
#include "tracee.h"
#include "util.h"

/* Is `m` (a pty master) the master of the session's slave? Its peer must
 * be that very device of that very devpts instance. */
bool master_matches(struct takeover *s, int m) {
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

/* ---- one holder ---- */

static long rcall(struct holder *h, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                  uint64_t a3) {
        return remote_syscall(&h->r, sys, a0, a1, a2, a3, 0, 0);
}

/* Whether every fd we are about to switch is still the very open file we
 * hold as the master. */
static bool holder_fds_are_master(struct takeover *s, struct holder *h) {
        for (size_t i = 0; i < h->n_fds; i++)
                if (syscall(SYS_kcmp, getpid(), h->pid, KCMP_FILE, s->master, h->fd[i]) != 0)
                        return false;
        return true;
}

/* The registrations of its fds on the master in its epoll sets, and the
 * flags of those fds, from the frozen view. */
static void holder_look(struct holder *h) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        struct proc_fd targets[MAX_FDS];
        ssize_t n = proc_list_fds(h->dirfd, &fds);

        if (n <= 0)
                return;
        for (size_t k = 0; k < h->n_fds; k++) {
                targets[k] = (struct proc_fd){.fd = h->fd[k]};
                for (ssize_t i = 0; i < n; i++)
                        if (fds[i].fd == h->fd[k]) {
                                targets[k].dev = h->dev[k] = fds[i].dev;
                                targets[k].ino = h->ino[k] = fds[i].ino;
                                h->flags[k] = fds[i].flags;
                        }
        }
        h->n_ep = proc_epoll_watches(h->dirfd, fds, (size_t)n, targets, h->n_fds, h->ep,
                                     MAX_HOLDER_EPOLL);
}

static int holder_refused(struct takeover *s, struct holder *h, enum engine_error_kind kind, int r,
                          const char *why) {
        (void)s;
        return engine_fail(s->err, kind, r,
                           "cannot stop %d (%s), which holds the terminal: %s; nothing was "
                           "changed",
                           (int)h->pid, h->comm, why);
}

/* Attach (nothing stops), check again who it is and that its fds are still
 * our master, and only then stop it. */
int holder_freeze(struct takeover *s, struct holder *h) {
        struct engine_target target;
        int r;

        r = tracee_seize(&h->t, h->pid, h->dirfd, PTRACE_O_TRACESYSGOOD);
        if (r == -EPERM)
                return holder_refused(s, h, ENGINE_ERR_PERMISSION, r,
                                      "the kernel refused ptrace (another user's process, or "
                                      "one that is protected?)");
        if (r == -EBUSY)
                return holder_refused(s, h, ENGINE_ERR_BUSY, r,
                                      "it is already traced (a debugger, or another adoption)");
        if (r == -ESRCH)
                return holder_refused(s, h, ENGINE_ERR_TARGET_GONE, r,
                                      "it exited, or started another program, meanwhile");
        if (r < 0)
                return holder_refused(s, h, ENGINE_ERR_FAILED, r, strerror(-r));
        h->seized = true;
        if (s->opts->verify) {
                r = engine_identify(h->pidfd, &target, s->err);
                if (r < 0)
                        return r;
                r = s->opts->verify(&target, s->opts->userdata, s->err);
                if (r < 0)
                        return r;
        }
        if (!holder_fds_are_master(s, h))
                return holder_refused(s, h, ENGINE_ERR_FAILED, -ESTALE,
                                      "its terminal fds changed while it was being looked at; "
                                      "try again");
        r = tracee_interrupt(&h->t, s->opts->stop_timeout_ms);
        if (r == -ETIMEDOUT)
                return engine_fail(
                        s->err, ENGINE_ERR_BUSY, -EBUSY,
                        "thread %d of process %d (%s), which holds the terminal, did not stop "
                        "(state %c, wchan %s): it may be waiting for a vfork()ed child or for a "
                        "slow filesystem; nothing was changed; try again when it has moved on",
                        (int)h->t.stuck_tid, (int)h->pid, h->comm, h->t.stuck_state,
                        h->t.stuck_wchan);
        if (r == -ESTALE)
                return holder_refused(s, h, ENGINE_ERR_TARGET_GONE, r,
                                      "it started another program meanwhile");
        if (r == -ESRCH)
                return holder_refused(s, h, ENGINE_ERR_TARGET_GONE, r, "it has exited");
        if (r < 0)
                return holder_refused(s, h, ENGINE_ERR_FAILED, r, strerror(-r));
        h->frozen = true;
        /* Frozen, its fds cannot change any more: the last look. */
        if (!holder_fds_are_master(s, h))
                return holder_refused(s, h, ENGINE_ERR_FAILED, -ESTALE,
                                      "its terminal fds changed while it was being stopped; "
                                      "try again");
        holder_look(h);
        r = remote_init(&h->r, &h->t);
        if (r == -ENOEXEC)
                return engine_fail(s->err, ENGINE_ERR_UNSUPPORTED, r,
                                   "%d (%s), which holds the terminal, runs with a register set "
                                   "this %s build does not know; use a build for its "
                                   "architecture; nothing was changed",
                                   (int)h->pid, h->comm, arch_build_name);
        if (r < 0)
                return holder_refused(s, h, ENGINE_ERR_FAILED, r, strerror(-r));
        h->remote_ready = true;
        {
                long v = rcall(h, ARCH_SYS_GETPID, 0, 0, 0, 0);
                if (remote_failed(v))
                        return holder_refused(s, h, ENGINE_ERR_TARGET_GONE, (int)v,
                                              "it has exited");
                h->t.self_pid = (pid_t)v;
        }
        return 0;
}

/* A checkpoint before each step of a switch, as in process mode: tests make
 * the step fail, kill the holder, or kill us just before it. */
static int checkpoint(struct holder *h) { return engine_checkpoint(h->opts, h->step, h->pidfd); }

/* One forward step: a checkpoint, then the remote call. */
static long step(struct holder *h, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                 uint64_t a3) {
        int r = checkpoint(h);

        return r < 0 ? r : rcall(h, sys, a0, a1, a2, a3);
}

/* Every fd it has on the master becomes /dev/null; each is saved first. */
int holder_switch(struct holder *h) {
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
        for (size_t k = 0; k < h->n_fds; k++) {
                v = step(h, ARCH_SYS_FCNTL, (uint64_t)h->fd[k], F_DUPFD_CLOEXEC, 3, 0);
                if (remote_failed(v))
                        return (int)v;
                h->saved[k] = v;
        }
        v = step(h, ARCH_SYS_OPENAT, (uint64_t)(int64_t)AT_FDCWD, h->r.scratch + SCR_DEVNULL,
                 O_RDWR | O_CLOEXEC, 0);
        if (remote_failed(v))
                return (int)v;
        h->nullfd = v;
        /* Its event loop must stop hearing about the master: drop the
         * registrations of those fds (the file stays alive through our
         * copy, so the kernel would not drop them by itself). */
        for (size_t i = 0; i < h->n_ep; i++) {
                v = step(h, ARCH_SYS_EPOLL_CTL, (uint64_t)h->ep[i].epfd, EPOLL_CTL_DEL,
                         (uint64_t)h->ep[i].e.tfd, 0);
                if (remote_failed(v))
                        return (int)v;
                h->ep_deleted[i] = true;
        }
        for (size_t k = 0; k < h->n_fds; k++) {
                v = step(h, ARCH_SYS_DUP3, (uint64_t)h->nullfd, (uint64_t)h->fd[k],
                         h->flags[k] & O_CLOEXEC ? O_CLOEXEC : 0, 0);
                if (remote_failed(v))
                        return (int)v;
                h->replaced[k] = true;
        }
        return 0;
}

void holder_undo(struct holder *h) {
        if (!h->remote_ready || h->t.gone)
                return;
        for (size_t k = h->n_fds; k-- > 0;) {
                if (h->replaced[k] && h->saved[k] >= 0)
                        (void)rcall(h, ARCH_SYS_DUP3, (uint64_t)h->saved[k], (uint64_t)h->fd[k],
                                    h->flags[k] & O_CLOEXEC ? O_CLOEXEC : 0, 0);
                h->replaced[k] = false;
        }
        for (size_t i = 0; i < h->n_ep; i++) {
                if (!h->ep_deleted[i])
                        continue;
                if (remote_write_epoll_event(&h->r, h->r.scratch + SCR_EVENT, h->ep[i].e.events,
                                             h->ep[i].e.data) == 0)
                        (void)rcall(h, ARCH_SYS_EPOLL_CTL, (uint64_t)h->ep[i].epfd, EPOLL_CTL_ADD,
                                    (uint64_t)h->ep[i].e.tfd, h->r.scratch + SCR_EVENT);
                h->ep_deleted[i] = false;
        }
}

void holder_leave(struct holder *h) {
        if (h->seized) {
                if (h->remote_ready && !h->t.gone) {
                        for (size_t k = 0; k < h->n_fds; k++)
                                if (h->saved[k] >= 0)
                                        (void)rcall(h, ARCH_SYS_CLOSE, (uint64_t)h->saved[k], 0, 0,
                                                    0);
                        if (h->nullfd >= 0)
                                (void)rcall(h, ARCH_SYS_CLOSE, (uint64_t)h->nullfd, 0, 0, 0);
                        (void)remote_requeue_deferred(&h->r);
                        (void)remote_scratch_unmap(&h->r);
                        (void)remote_restore(&h->r);
                }
                tracee_release(&h->t);
                h->seized = h->frozen = h->remote_ready = false;
        }
        if (h->pidfd >= 0)
                close(h->pidfd);
        if (h->dirfd >= 0)
                close(h->dirfd);
        h->pidfd = h->dirfd = -1;
}
