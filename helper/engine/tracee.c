/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "tracee.h"
#include "util.h"

static bool is_stop_signal(int sig) {
        return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

int tracee_wait_tid(pid_t tid, int *status) {
        for (;;) {
                pid_t r = waitpid(tid, status, __WALL);
                if (r == tid)
                        return 0;
                if (r < 0 && errno == EINTR)
                        continue;
                return r < 0 ? -errno : -ECHILD;
        }
}

/* One more stop of tid, if it has one to report: 1 (status filled), 0 (none
 * yet) or -errno. */
static int poll_tid(pid_t tid, int *status) {
        for (;;) {
                pid_t r = waitpid(tid, status, __WALL | WNOHANG);
                if (r == tid)
                        return 1;
                if (r == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                return -errno;
        }
}

/* Hold a signal the kernel wanted to deliver while we worked. Returns false
 * when there is no room left (it must then be delivered now). */
static bool defer_signal(struct tracee *t, pid_t tid) {
        siginfo_t si;

        if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0)
                return true; /* killed meanwhile: nothing to keep */
        if (si.si_signo < SIGRTMIN)
                for (size_t i = 0; i < t->n_deferred; i++)
                        if (t->deferred[i].si_signo == si.si_signo)
                                return true; /* pending twice is pending once */
        if (t->n_deferred == TRACEE_MAX_DEFERRED) {
                t->overflow = true;
                return false;
        }
        t->deferred[t->n_deferred++] = si;
        return true;
}

uint64_t tracee_deferred_mask(const struct tracee *t) {
        uint64_t m = 0;

        for (size_t i = 0; i < t->n_deferred; i++)
                if (t->deferred[i].si_signo >= 1 && t->deferred[i].si_signo <= 64)
                        m |= 1ULL << (t->deferred[i].si_signo - 1);
        return m;
}

/* A signal-delivery stop of the work thread while we hold it: the signal to
 * resume with (0 = suppressed). */
static int on_signal_stop(struct tracee *t, pid_t tid, int sig) {
        if (is_stop_signal(sig))
                return sig; /* the group stops, as it would have */
        if (sig == SIGHUP || sig == SIGCONT) {
                siginfo_t si;
                unsigned bit = 1U << (sig - 1);
                if ((t->drop_pending & bit) && ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == 0 &&
                    si.si_code == SI_USER && si.si_pid == t->self_pid) {
                        t->drop_pending &= ~bit;
                        return 0;
                }
        }
        return defer_signal(t, tid) ? 0 : sig;
}

static int add_thread(struct tracee *t, pid_t tid, bool seized) {
        struct tracee_thread *n;

        for (size_t i = 0; i < t->n_threads; i++)
                if (t->threads[i].tid == tid)
                        return 0;
        n = realloc(t->threads, (t->n_threads + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        t->threads = n;
        t->threads[t->n_threads++] = (struct tracee_thread){.tid = tid, .seized = seized};
        return 1;
}

static int list_threads_cb(pid_t tid, int dirfd, void *userdata) {
        (void)dirfd;
        return add_thread(userdata, tid, false) < 0 ? -ENOMEM : 0;
}

/* Whether tid is traced by us: a thread attached automatically (created by
 * a thread we had seized) refuses a second PTRACE_SEIZE with EPERM. */
static bool traced_by_us(struct tracee *t, pid_t tid) {
        char path[48];
        _cleanup_close_ int fd = -1;
        struct proc_status st;

        snprintf(path, sizeof(path), "task/%d", (int)tid);
        fd = openat(t->dirfd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd >= 0 && proc_read_status(fd, &st) == 0 && st.tracer_pid == getpid();
}

int tracee_seize(struct tracee *t, pid_t pid, int dirfd, unsigned options) {
        int r;

        memset(t, 0, sizeof(*t));
        t->pid = pid;
        t->dirfd = dirfd;
        t->options = options | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;

        /* The leader first: it decides whether we may trace at all, and it
         * is the work thread. Then every listed thread, listing again until
         * a round finds no thread we had to seize ourselves: from then on
         * every thread is ours, and so is every thread any of them creates
         * (TRACECLONE). */
        r = add_thread(t, pid, false);
        if (r < 0)
                return r;
        for (;;) {
                unsigned seized_now = 0;

                for (size_t i = 0; i < t->n_threads; i++) {
                        struct tracee_thread *th = &t->threads[i];
                        if (th->seized || th->dead)
                                continue;
                        if (ptrace(PTRACE_SEIZE, th->tid, NULL, (void *)(unsigned long)t->options) <
                            0) {
                                r = -errno;
                                if (th->tid != pid && r == -ESRCH) {
                                        th->dead = true; /* a thread that exited */
                                        continue;
                                }
                                if (th->tid != pid && r == -EPERM && traced_by_us(t, th->tid)) {
                                        th->seized = true;
                                        continue;
                                }
                                goto fail;
                        }
                        th->seized = true;
                        seized_now++;
                }
                if (seized_now == 0)
                        break;
                r = proc_for_each_pid(dirfd, "task", list_threads_cb, t);
                /* Its thread list vanished under us: it exited, or it is
                 * replacing its program (exec takes the other threads). */
                if (r == -ENOENT)
                        r = -ESRCH;
                if (r < 0)
                        goto fail;
        }
        t->work = 0;
        return 0;
fail:
        if (r == -EPERM) {
                struct proc_status st;
                if (proc_read_status(dirfd, &st) == 0 && st.tracer_pid != 0 &&
                    st.tracer_pid != getpid())
                        r = -EBUSY;
        }
        if (r == -ESRCH)
                t->gone = true;
        tracee_release(t);
        return r;
}

/* SIGCHLD announces every stop of a tracee: blocked in this thread, it is
 * what we sleep on. Its disposition must let the kernel send it for stops
 * (not ignored, no SA_NOCLDSTOP) while we wait. */
struct chld_wait {
        sigset_t old_mask;
        struct sigaction old_act;
        bool act_changed;
        bool consumed;
};

static void chld_begin(struct chld_wait *c) {
        sigset_t s;

        memset(c, 0, sizeof(*c));
        sigemptyset(&s);
        sigaddset(&s, SIGCHLD);
        (void)pthread_sigmask(SIG_BLOCK, &s, &c->old_mask);
        if (sigaction(SIGCHLD, NULL, &c->old_act) == 0 &&
            (c->old_act.sa_handler == SIG_IGN || (c->old_act.sa_flags & SA_NOCLDSTOP))) {
                struct sigaction dfl = {.sa_handler = SIG_DFL};
                c->act_changed = sigaction(SIGCHLD, &dfl, NULL) == 0;
        }
}

static void chld_end(struct chld_wait *c) {
        if (c->act_changed)
                (void)sigaction(SIGCHLD, &c->old_act, NULL);
        /* A SIGCHLD we took may have been meant for the caller's children
         * too (sd-event waits for it on a signalfd): give one back. */
        if (c->consumed && !c->act_changed)
                (void)raise(SIGCHLD);
        (void)pthread_sigmask(SIG_SETMASK, &c->old_mask, NULL);
}

/* Sleep until SIGCHLD or the deadline: 0, or -ETIMEDOUT. */
static int chld_sleep(struct chld_wait *c, const struct timespec *deadline) {
        sigset_t s;

        sigemptyset(&s);
        sigaddset(&s, SIGCHLD);
        for (;;) {
                struct timespec now, left;
                clock_gettime(CLOCK_MONOTONIC, &now);
                left.tv_sec = deadline->tv_sec - now.tv_sec;
                left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
                if (left.tv_nsec < 0) {
                        left.tv_nsec += 1000000000L;
                        left.tv_sec--;
                }
                if (left.tv_sec < 0)
                        return -ETIMEDOUT;
                if (sigtimedwait(&s, NULL, &left) == SIGCHLD) {
                        c->consumed = true;
                        return 0;
                }
                if (errno == EAGAIN)
                        return -ETIMEDOUT;
                /* EINTR: another signal ran a handler; sleep on. */
        }
}

static struct tracee_thread *find_thread(struct tracee *t, pid_t tid) {
        for (size_t i = 0; i < t->n_threads; i++)
                if (t->threads[i].tid == tid)
                        return &t->threads[i];
        return NULL;
}

/* Handle one reported status of a thread on its way to its first stop.
 * Returns 0, or -ESTALE (exec), -ESRCH (the process died) or -errno. */
static int first_stop_status(struct tracee *t, struct tracee_thread *th, int status) {
        int sig = WSTOPSIG(status), ev = status >> 16;

        if (WIFEXITED(status) || WIFSIGNALED(status)) {
                th->dead = true;
                th->stopped = false;
                return th->tid == t->pid ? -ESRCH : 0;
        }
        switch (ev) {
        case PTRACE_EVENT_STOP:
                /* The interrupt, or a group stop (then it was or is being
                 * job-control stopped: it stays so after we detach). */
                if (is_stop_signal(sig)) {
                        t->was_stopped = true;
                        t->stop_sig = sig;
                }
                th->stopped = true;
                return 0;
        case PTRACE_EVENT_EXEC:
                /* It exec'd between seize and now: not the program that was
                 * authorized. Stay in this stop (the new program has not
                 * run) so that the release detaches it. */
                th->stopped = true;
                t->execd = true;
                return -ESTALE;
        case PTRACE_EVENT_CLONE: {
                unsigned long msg = 0;
                if (ptrace(PTRACE_GETEVENTMSG, th->tid, NULL, &msg) == 0 && msg > 0) {
                        /* A new thread, attached for us; it stops on its own
                         * (an automatically attached thread of a seized one
                         * starts with a pending interrupt). */
                        int r = add_thread(t, (pid_t)msg, true);
                        if (r < 0)
                                return r;
                        find_thread(t, (pid_t)msg)->interrupted = true;
                }
                break;
        }
        case 0:
                /* A signal it was about to take when we interrupted it: it
                 * is held and re-queued when we leave. */
                if (!defer_signal(t, th->tid)) {
                        /* No room: keep it in this stop and hand the signal
                         * back on release. */
                        th->stopped = true;
                        th->stop_sig = sig;
                        return -ENOBUFS;
                }
                break;
        default:
                break;
        }
        /* Let it go on; the pending interrupt stops it next. */
        if (ptrace(PTRACE_CONT, th->tid, NULL, NULL) < 0 && errno != ESRCH)
                return -errno;
        return 0;
}

static void describe_stuck(struct tracee *t, pid_t tid) {
        char path[64], buf[1024];
        struct proc_stat st;

        t->stuck_tid = tid;
        t->stuck_state = '?';
        snprintf(path, sizeof(path), "task/%d/stat", (int)tid);
        if (proc_read(t->dirfd, path, buf, sizeof(buf)) > 0 && proc_parse_stat(buf, &st) == 0)
                t->stuck_state = st.state;
        snprintf(path, sizeof(path), "task/%d/wchan", (int)tid);
        if (proc_read(t->dirfd, path, t->stuck_wchan, sizeof(t->stuck_wchan)) <= 0 ||
            strcmp(t->stuck_wchan, "0") == 0)
                snprintf(t->stuck_wchan, sizeof(t->stuck_wchan), "unknown");
}

int tracee_interrupt(struct tracee *t, unsigned timeout_ms) {
        struct chld_wait c;
        struct timespec deadline;
        int r = 0;

        if (timeout_ms == 0)
                timeout_ms = 1000;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_nsec -= 1000000000L;
                deadline.tv_sec++;
        }

        chld_begin(&c);
        for (size_t i = 0; i < t->n_threads; i++) {
                struct tracee_thread *th = &t->threads[i];
                if (!th->seized || th->dead || th->interrupted)
                        continue;
                /* ESRCH: it is exiting; its exit is collected below. */
                if (ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL) < 0 && errno != ESRCH) {
                        r = -errno;
                        goto out;
                }
                th->interrupted = true;
        }
        for (;;) {
                pid_t waiting = 0;

                /* Collect everything there is to collect; new threads may be
                 * appended to the array meanwhile. */
                for (size_t i = 0; i < t->n_threads; i++) {
                        for (;;) {
                                struct tracee_thread *th = &t->threads[i];
                                int status;
                                if (!th->seized || th->dead || th->stopped)
                                        break;
                                r = poll_tid(th->tid, &status);
                                if (r < 0) {
                                        /* ECHILD: gone and reaped by someone
                                         * else (it was never ours to reap). */
                                        th->dead = true;
                                        r = th->tid == t->pid ? -ESRCH : 0;
                                        if (r < 0)
                                                goto out;
                                        break;
                                }
                                if (r == 0) {
                                        if (!waiting)
                                                waiting = th->tid;
                                        break;
                                }
                                r = first_stop_status(t, &t->threads[i], status);
                                if (r < 0)
                                        goto out;
                        }
                }
                if (!waiting)
                        break;
                r = chld_sleep(&c, &deadline);
                if (r < 0) {
                        describe_stuck(t, waiting);
                        goto out;
                }
        }
        /* The leader may be a zombie whose other threads live on: then the
         * first live thread does the work. */
        t->work = 0;
        for (size_t i = 0; i < t->n_threads; i++)
                if (t->threads[i].stopped && !t->threads[i].dead) {
                        t->work = i;
                        break;
                }
        if (!t->threads[t->work].stopped) {
                t->gone = true;
                r = -ESRCH;
        }
out:
        if (r == -ESRCH)
                t->gone = true;
        chld_end(&c);
        return r;
}

int tracee_wait_syscall(struct tracee *t, int resume) {
        pid_t tid = tracee_work_tid(t);

        for (;;) {
                int status, r = tracee_wait_tid(tid, &status), sig, ev, inject = 0;

                if (r < 0) {
                        t->gone = true;
                        return -ESRCH;
                }
                if (WIFEXITED(status) || WIFSIGNALED(status)) {
                        t->threads[t->work].dead = true;
                        t->threads[t->work].stopped = false;
                        t->gone = true;
                        return -ESRCH;
                }
                sig = WSTOPSIG(status);
                ev = status >> 16;
                if (sig == (SIGTRAP | 0x80))
                        return 0;
                switch (ev) {
                case PTRACE_EVENT_CLONE:
                case PTRACE_EVENT_FORK:
                case PTRACE_EVENT_VFORK: {
                        unsigned long msg = 0;
                        if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0)
                                t->event_child = (pid_t)msg;
                        break;
                }
                case PTRACE_EVENT_EXEC:
                        t->execd = true;
                        return -ESTALE;
                case PTRACE_EVENT_STOP:
                        /* A group stop began while we held it: keep running
                         * our calls; the kernel puts the group stop back in
                         * force when we detach. */
                        if (is_stop_signal(sig) && !t->was_stopped) {
                                t->was_stopped = true;
                                t->stop_sig = sig;
                        }
                        break;
                case 0:
                        inject = on_signal_stop(t, tid, sig);
                        break;
                default:
                        break;
                }
                if (ptrace(resume, tid, NULL, (void *)(long)inject) < 0) {
                        if (errno == ESRCH)
                                continue; /* died meanwhile; the wait says so */
                        return -errno;
                }
        }
}

int tracee_group_stop(struct tracee *t, int pidfd) {
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGSTOP, NULL, 0) < 0)
                return -errno;
        for (size_t i = 0; i < t->n_threads; i++) {
                struct tracee_thread *th = &t->threads[i];
                int status, sig = th->stop_sig;

                if (!th->seized || th->dead || !th->stopped)
                        continue;
                th->stop_sig = 0;
                for (;;) {
                        if (ptrace(PTRACE_CONT, th->tid, NULL, (void *)(long)sig) < 0 &&
                            errno != ESRCH)
                                return -errno;
                        if (tracee_wait_tid(th->tid, &status) < 0 || WIFEXITED(status) ||
                            WIFSIGNALED(status)) {
                                th->dead = true;
                                th->stopped = false;
                                if (th->tid == t->pid) {
                                        t->gone = true;
                                        return -ESRCH;
                                }
                                break;
                        }
                        sig = WSTOPSIG(status);
                        if ((status >> 16) == PTRACE_EVENT_STOP && is_stop_signal(sig))
                                break; /* in the group stop */
                        /* A signal-delivery stop: let the signal through
                         * (the SIGSTOP itself starts the group stop);
                         * anything else: go on. */
                        if ((status >> 16) != 0)
                                sig = 0;
                }
        }
        return 0;
}

void tracee_release(struct tracee *t) {
        for (size_t i = 0; i < t->n_threads; i++) {
                struct tracee_thread *th = &t->threads[i];
                int status, sig = th->stop_sig;

                if (!th->seized || th->dead)
                        continue;
                if (!th->stopped) {
                        /* A stop it reported but we never collected (we gave
                         * up halfway through stopping it): collect it now,
                         * without waiting. If it has none, it runs on and
                         * the kernel releases it when we exit. */
                        if (poll_tid(th->tid, &status) != 1)
                                continue;
                        if (WIFEXITED(status) || WIFSIGNALED(status))
                                continue;
                        /* A signal-delivery stop: hand the signal back. */
                        sig = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
                }
                if (ptrace(PTRACE_DETACH, th->tid, NULL, (void *)(long)sig) == 0 || errno != ESRCH)
                        continue;
                /* ESRCH: not in a ptrace stop, which for a thread we held
                 * means it is being killed. Collect its exit as its tracer
                 * so that its parent can reap it: no traced zombie stays. */
                (void)tracee_wait_tid(th->tid, &status);
        }
        free(t->threads);
        t->threads = NULL;
        t->n_threads = 0;
}
