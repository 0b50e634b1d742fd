/* SPDX-License-Identifier: MIT */
/*
 * The adoption recipe (process mode). See engine.h for the contract; the
 * steps live in inspect.c, hold.c, pty.c and here.
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

/* The caller's last word before the first step that cannot be undone. */
static int proceed(struct adoption *a) {
        int r;

        a->proceeded = true;
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
                if (a->parent > 0)
                        arm_hangup_guard(a);
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
        if (a->res->hangup.armed) {
                /* Back on its old terminal, the guard has no purpose: its
                 * own hangup action again. */
                const struct engine_hangup_guard *g = &a->res->hangup;
                if (remote_write(&a->r, a->r.scratch + SCR_ACT_NEW, g->saved, g->saved_len) == 0)
                        (void)rcall(a, ARCH_SYS_RT_SIGACTION, SIGHUP, a->r.scratch + SCR_ACT_NEW, 0,
                                    8);
                a->res->hangup.armed = false;
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

/* Looks at the process of /proc directory dirfd until look() says 1
 * (returns true) or -1 (false), or max_ms have passed (false); 50 us apart
 * at first, backing off to 2 ms. For moments of another process that
 * nothing signals. */
static bool look_until(int dirfd, int (*look)(int dirfd, const struct adoption *),
                       const struct adoption *a, unsigned max_ms) {
        struct timespec start, now;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (unsigned us = 50;; us = us < 2000 ? us * 2 : us) {
                int r = look(dirfd, a);

                if (r != 0)
                        return r > 0;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
                    (long)max_ms)
                        return false;
                (void)nanosleep(&(struct timespec){0, (long)us * 1000}, NULL);
        }
}

static int shell_took_tty(int dirfd, const struct adoption *a) {
        struct proc_stat st;

        if (proc_read_stat(dirfd, &st) < 0 || st.starttime != a->parent_stat.starttime)
                return -1; /* the shell is gone */
        return st.tpgid != a->stat.pgrp;
}

/* The old shell, shown its job stop, takes the old terminal back (its
 * process group becomes the foreground one again) once it has collected the
 * stop; the target must not be continued before, or the shell only ever
 * sees it continued and goes on waiting for it. Nothing signals that
 * moment to a third process, so the old session's foreground group is
 * looked at until it changes, for 500 ms at most. The target is no longer
 * held by us meanwhile: it only sits stopped, as after a ^Z. */
static bool wait_for_shell(struct adoption *a) {
        char path[32];
        _cleanup_close_ int d = -1;

        snprintf(path, sizeof(path), "/proc/%d", (int)a->parent);
        d = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return d >= 0 && look_until(d, shell_took_tty, a, 500);
}

static int not_running(int dirfd, const struct adoption *a) {
        struct proc_stat st;

        (void)a;
        return proc_read_stat(dirfd, &st) < 0 ? -1 : st.state != 'R';
}

/* Woken since the final size was set, and asleep again. */
static int slept_again(int dirfd, const struct adoption *a) {
        struct proc_status status;
        int r = not_running(dirfd, a);

        if (r <= 0)
                return r;
        if (proc_read_status(dirfd, &status) < 0)
                return -1;
        return status.nvcsw > a->slept_before_resize;
}

/* The second half of a two-step resize: once the program has drawn for the
 * size one row off (its output is waiting on the master, 250 ms at most;
 * not at all for a program that does not catch SIGWINCH) and sleeps again,
 * in its wait for input, the right size; then, until it has woken for that
 * and gone back to sleep, having drawn again (100 ms at most each). The
 * output stays queued for the caller to read.
 *
 * Why the sleeps: a program that looks at its resize flag and then waits
 * for input in a call that does not unblock SIGWINCH atomically misses a
 * SIGWINCH that arrives in between. vim, which writes its screen in one
 * go and then heads for pselect(), then slept with its screen a row short
 * until the next key, and keys typed in that state were drawn only at the
 * key after them. And a program still busy with its last SIGWINCH when
 * the user's first keys come is no better: vim's ^Z, which waits a few
 * milliseconds for a SIGCONT, was cut short by it. Nothing signals that a
 * process fell asleep, so its state is looked at until it does. The
 * target is not held meanwhile. */
static void resize_second(struct adoption *a) {
        struct pollfd p = {.fd = a->master, .events = POLLIN};
        struct proc_status st;
        bool settle;

        if (!two_step_resize(a))
                return;
        settle = a->status.sig_cgt & (1ULL << (SIGWINCH - 1)) && poll(&p, 1, 250) > 0 &&
                 a->dirfd >= 0 && look_until(a->dirfd, not_running, a, 100) &&
                 proc_read_status(a->dirfd, &st) == 0;
        if (settle)
                a->slept_before_resize = st.nvcsw;
        (void)ioctl(a->master, TIOCSWINSZ, &a->final_ws);
        if (settle)
                (void)look_until(a->dirfd, slept_again, a, 100);
}

int engine_adopt_process(int pidfd, const struct engine_options *opts, struct engine_result *res,
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

        for (size_t i = 0; i < MAX_SLAVES; i++)
                a.t_slave[i] = -1;

        r = inspect(&a);
        if (r < 0)
                goto out;
        fill_result(&a);

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
        /* A session leader without a terminal has no step that cannot be
         * undone: the last look is here, before committing. */
        if (!a.proceeded && (r = proceed(&a)) < 0)
                goto undo;

        /* Committed. The saved copies of the old terminal go now. */
        drop_dummy(&a);
        close_temporaries(&a);
        a.committed = true;
        leave(&a);
        unpin(&a.pin);
        if (a.t.gone || !proc_pidfd_alive(pidfd)) {
                close(a.master);
                r = gone_error(&a);
                goto out;
        }
        if (res->stop_notified)
                res->shell_took_tty = wait_for_shell(&a);
        /* SIGCONT wakes one that stopped on the old terminal's job control
         * (and ends the stop shown to the old shell). A job-control stopped
         * target is left stopped. */
        if (!res->was_stopped)
                (void)syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0);
        resize_second(&a);
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
