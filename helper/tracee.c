/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "proc.h"
#include "tracee.h"
#include "util.h"

static bool is_stop_signal(int sig) {
        return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static int wait_tid(pid_t tid, int *status) {
        for (;;) {
                pid_t r = waitpid(tid, status, __WALL);
                if (r == tid)
                        return 0;
                if (r < 0 && errno == EINTR)
                        continue;
                return r < 0 ? -errno : -ECHILD;
        }
}

static void defer_signal(struct tracee *t, pid_t tid) {
        siginfo_t si;

        if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0)
                return;
        if (t->n_deferred < TRACEE_MAX_DEFERRED)
                t->deferred[t->n_deferred++] = si;
}

/* First stop of a freshly seized and interrupted thread. A signal-delivery
 * stop can come first if the thread was already dequeuing a signal when it
 * became traced: that signal is deferred and the pending interrupt then
 * gives the event stop we want. */
static int wait_first_stop(struct tracee *t, struct tracee_thread *th) {
        for (;;) {
                int status, r = wait_tid(th->tid, &status);

                if (r < 0)
                        return r;
                if (WIFEXITED(status) || WIFSIGNALED(status)) {
                        th->dead = true;
                        return -ESRCH;
                }
                if ((status >> 16) == PTRACE_EVENT_STOP) {
                        if (is_stop_signal(WSTOPSIG(status))) {
                                t->was_stopped = true;
                                t->stop_sig = WSTOPSIG(status);
                        }
                        return 0;
                }
                if ((status >> 16) == 0)
                        defer_signal(t, th->tid);
                /* Signal or an event that raced with the seize: let it go on
                 * without the signal; the pending interrupt stops it next. */
                if (ptrace(PTRACE_CONT, th->tid, NULL, NULL) < 0)
                        return -errno;
        }
}

static int add_thread(struct tracee *t, pid_t tid) {
        struct tracee_thread *n;

        for (size_t i = 0; i < t->n_threads; i++)
                if (t->threads[i].tid == tid)
                        return 0;
        n = realloc(t->threads, (t->n_threads + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        t->threads = n;
        t->threads[t->n_threads++] = (struct tracee_thread){.tid = tid};
        return 1;
}

/* Add the threads listed in /proc/PID/task; returns how many were new. */
static int list_threads(struct tracee *t) {
        _cleanup_close_ int fd = openat(t->dirfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        int added = 0;

        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1;
        while ((de = readdir(d))) {
                pid_t tid = proc_name_to_pid(de->d_name);
                int r;
                if (tid < 0)
                        continue;
                r = add_thread(t, tid);
                if (r < 0) {
                        closedir(d);
                        return r;
                }
                added += r;
        }
        closedir(d);
        return added;
}

int tracee_seize(struct tracee *t, pid_t pid, int dirfd, unsigned options) {
        int r;

        memset(t, 0, sizeof(*t));
        t->pid = pid;
        t->dirfd = dirfd;

        /* The leader first: it decides whether we may trace at all, and it
         * is the work thread. Threads that appear while we freeze the
         * others are picked up by listing again until the list is stable
         * (all listed threads are stopped, so none can clone any more). */
        r = add_thread(t, pid);
        if (r < 0)
                return r;
        for (;;) {
                size_t before = t->n_threads;

                for (size_t i = 0; i < t->n_threads; i++) {
                        struct tracee_thread *th = &t->threads[i];
                        if (th->seized || th->dead)
                                continue;
                        if (ptrace(PTRACE_SEIZE, th->tid, NULL,
                                   (void *)(unsigned long)(th->tid == pid ? options : 0)) < 0) {
                                r = -errno;
                                if (th->tid != pid && r == -ESRCH) {
                                        th->dead = true; /* a thread that exited */
                                        continue;
                                }
                                goto fail;
                        }
                        th->seized = true;
                        if (ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL) < 0) {
                                r = -errno;
                                goto fail;
                        }
                }
                for (size_t i = 0; i < t->n_threads; i++) {
                        struct tracee_thread *th = &t->threads[i];
                        if (!th->seized || th->dead || th->stopped)
                                continue;
                        r = wait_first_stop(t, th);
                        th->stopped = r == 0;
                        if (r == -ESRCH && th->tid != pid)
                                continue;
                        if (r < 0)
                                goto fail;
                }
                r = list_threads(t);
                if (r < 0)
                        goto fail;
                if (t->n_threads == before)
                        break;
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
        if (t->threads && t->threads[0].dead)
                t->gone = true;
        tracee_release(t);
        return r;
}

int tracee_block_signals(struct tracee *t) {
        uint64_t all = ~(uint64_t)0;
        pid_t tid = tracee_work_tid(t);

        if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(t->saved_mask), &t->saved_mask) < 0)
                return -errno;
        t->mask_saved = true;
        if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(all), &all) < 0)
                return -errno;
        return 0;
}

int tracee_restore_signals(struct tracee *t) {
        if (!t->mask_saved)
                return 0;
        if (ptrace(PTRACE_SETSIGMASK, tracee_work_tid(t), (void *)sizeof(t->saved_mask),
                   &t->saved_mask) < 0)
                return -errno;
        t->mask_saved = false;
        return 0;
}

int tracee_wait_syscall(struct tracee *t, int resume) {
        pid_t tid = tracee_work_tid(t);

        for (;;) {
                int status, r = wait_tid(tid, &status), sig, ev, inject = 0;

                if (r < 0) {
                        t->gone = true;
                        return -ESRCH;
                }
                if (WIFEXITED(status) || WIFSIGNALED(status)) {
                        t->threads[t->work].dead = true;
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
                        /* Signal-delivery stop. Only unblockable signals get
                         * here once the mask is set: a stop signal is
                         * delivered now (the group stops as it would have);
                         * anything else is re-queued before we leave. */
                        if (is_stop_signal(sig))
                                inject = sig;
                        else
                                defer_signal(t, tid);
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

void tracee_release(struct tracee *t) {
        for (size_t i = 0; i < t->n_threads; i++) {
                struct tracee_thread *th = &t->threads[i];
                int status;

                if (!th->seized || th->dead)
                        continue;
                if (!th->stopped) {
                        /* Seized but its first stop was never collected (we
                         * failed halfway through freezing): collect it so
                         * the detach below finds it in a ptrace stop. */
                        int sig = 0;
                        if (wait_tid(th->tid, &status) < 0 || WIFEXITED(status) ||
                            WIFSIGNALED(status))
                                continue;
                        /* A signal-delivery stop: hand the signal back. */
                        if ((status >> 16) == 0)
                                sig = WSTOPSIG(status);
                        if (ptrace(PTRACE_DETACH, th->tid, NULL, (void *)(long)sig) == 0 ||
                            errno != ESRCH)
                                continue;
                } else if (ptrace(PTRACE_DETACH, th->tid, NULL, NULL) == 0 || errno != ESRCH)
                        continue;
                /* ESRCH: not in a ptrace stop, which for a thread we held
                 * means it is being killed. Collect its exit as its tracer
                 * so that its parent can reap it: no traced zombie stays. */
                (void)wait_tid(th->tid, &status);
        }
        free(t->threads);
        t->threads = NULL;
        t->n_threads = 0;
}
