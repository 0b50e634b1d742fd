/* SPDX-License-Identifier: MIT */
/*
 * Taking hold of a target and letting it go: seize, re-check, interrupt
 * every thread, read its registers (freeze), and the reverse (leave). Also
 * the checkpoints between the steps and the errors of a failed step, for
 * every recipe that holds a target.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <poll.h>
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
#include <time.h>
#include <unistd.h>

#include "adoption.h"
#include "engine-internal.h"
#include "engine.h"
#include "proc.h"
#include "remote.h"
#include "tracee.h"
#include "util.h"

void pin_together(struct pinning *p, pid_t tid) {
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

void unpin(struct pinning *p) {
        unpin_target(p);
        if (p->ours)
                (void)sched_setaffinity(0, sizeof(p->our_mask), &p->our_mask);
        p->ours = false;
}

int engine_checkpoint(const struct engine_options *opts, unsigned *step, int pidfd) {
        if (++*step != opts->fault.step)
                return 0;
        switch (opts->fault.action) {
        case ENGINE_FAULT_KILL:
                (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
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

/* A checkpoint between two steps of the recipe. Tests inject faults here:
 * the target is killed just before the step, or the step fails. */
int checkpoint(struct adoption *a) { return engine_checkpoint(a->opts, &a->step, a->pidfd); }

int gone_error(struct adoption *a) {
        return engine_fail(
                a->err, ENGINE_ERR_TARGET_GONE, -ESRCH,
                "process %d (%s) exited while it was being adopted; nothing is left to adopt",
                (int)a->pid, a->stat.comm);
}

/* Map a failed step to an error; the caller then undoes. */
int step_error(struct adoption *a, const char *what, long r) {
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

/* The shell that runs the target as a job: its parent, in the same session
 * but another process group. A job that is the old terminal's foreground
 * job is shown to stop (notify_stop), as for ^Z, so that the shell takes
 * its terminal back and prompts again. */
static void find_parent_shell(struct adoption *a) {
        char path[32];
        _cleanup_close_ int d = -1;

        a->parent = 0;
        a->notify_stop = false;
        if (a->leader || a->stat.ppid <= 1)
                return;
        snprintf(path, sizeof(path), "/proc/%d", (int)a->stat.ppid);
        d = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (d < 0 || proc_read_stat(d, &a->parent_stat) < 0)
                return;
        if (a->parent_stat.session != a->stat.session || a->parent_stat.pgrp == a->stat.pgrp)
                return;
        a->parent = a->stat.ppid;
        a->notify_stop = !a->t.was_stopped && a->ctty && a->stat.tpgid == a->stat.pgrp;
}

int freeze(struct adoption *a) {
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
        a->ctty = st.tty_nr ? proc_tty_nr_to_dev(st.tty_nr) : 0;
        a->leader = st.session == a->pid;
        find_parent_shell(a);
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

long rcall(struct adoption *a, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
           uint64_t a3) {
        return remote_syscall(&a->r, sys, a0, a1, a2, a3, 0, 0);
}

int do_step(struct adoption *a, const char *what, long v) {
        if (remote_failed(v))
                return step_error(a, what, v);
        return 0;
}

/* Whether the program would see no change of size: then a size one row
 * off comes first, and the right one once it has redrawn (programs such as
 * htop redraw on SIGWINCH only when the size changed). */
bool two_step_resize(const struct adoption *a) {
        return !a->res->was_stopped && a->final_ws.ws_row && a->final_ws.ws_col &&
               a->old_ws.ws_row == a->final_ws.ws_row && a->old_ws.ws_col == a->final_ws.ws_col;
}

static void resize_first(struct adoption *a) {
        struct winsize ws = a->final_ws;

        if (!ws.ws_row || !ws.ws_col)
                return;
        if (two_step_resize(a))
                ws.ws_row = ws.ws_row > 1 ? ws.ws_row - 1 : ws.ws_row + 1;
        (void)ioctl(a->master, TIOCSWINSZ, &ws);
}

/* Let go of the target: temporaries closed, scratch unmapped, deferred
 * signals re-queued, mask and registers restored, every thread detached. */
void leave(struct adoption *a) {
        if (!a->seized)
                return;
        if (a->remote_ready && !a->t.gone) {
                (void)remote_requeue_deferred(&a->r);
                (void)remote_scratch_unmap(&a->r);
                if (a->committed) {
                        /* Its new terminal changes size while we still hold
                         * it, and it leaves through the signal code with its
                         * own registers: the SIGWINCH interrupts what it was
                         * blocked in exactly as a real resize would. */
                        resize_first(a);
                        (void)remote_finish(&a->r);
                        if (a->notify_stop && !a->t.gone && tracee_group_stop(&a->t, a->pidfd) == 0)
                                a->res->stop_notified = true;
                } else
                        (void)remote_restore(&a->r);
                if (a->restop)
                        (void)syscall(SYS_pidfd_send_signal, a->pidfd, a->t.stop_sig, NULL, 0);
        }
        unpin_target(&a->pin);
        tracee_release(&a->t);
        a->seized = a->frozen = a->remote_ready = false;
}
