/* SPDX-License-Identifier: MIT */
/*
 * The event loop's guard against one step that never ends.
 *
 * Callers hand reptyrd files (a "pidfd" that is really something else,
 * an fd riding along with a call whose signature names none), and the
 * last close of a file may wait: a TCP socket with SO_LINGER and unsent
 * data waits up to its linger time in close(), on whichever thread closes
 * it last. sd-bus closes the fds of every message it frees, on our loop,
 * so one such socket would stop reptyrd serving anyone for as long as its
 * owner likes.
 *
 * A thread of ours watches each dispatch of the loop; while one runs
 * longer than NUDGE_EVERY_MSEC, it sends the loop thread, every
 * NUDGE_EVERY_MSEC, a signal whose handler does nothing (SA_RESTART, so
 * interrupted calls that can go on do). A close() waiting for a lingering
 * socket returns on a pending signal and the socket finishes closing on
 * its own; one step may close many such fds (a message carries up to 16),
 * each cut short within a few milliseconds. Legitimate steps take well
 * under a millisecond; one that outlasts the nudges (LOG_AFTER_MSEC) is
 * logged. The watcher costs nothing while the loop is idle: it sleeps
 * until a dispatch starts.
 *
 * Not covered: a close that waits uninterruptibly (a file on a FUSE
 * filesystem whose server never answers the flush). The bus daemon closes
 * its own copy of every passed fd the same way; see dbus/README.md.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "reptyrd.h"

#define NUDGE_EVERY_MSEC 5
#define LOG_AFTER_MSEC 500

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static bool busy;                /* the loop is dispatching */
static unsigned long long steps; /* dispatches begun */
static pid_t loop_tid;
static int nudge_signal;

static void on_nudge(int sig) { (void)sig; }

static void add_msec(struct timespec *t, long msec) {
        t->tv_nsec += (msec % 1000) * 1000000L;
        t->tv_sec += msec / 1000 + t->tv_nsec / 1000000000L;
        t->tv_nsec %= 1000000000L;
}

static void *watch(void *arg) {
        (void)arg;
        pthread_mutex_lock(&lock);
        for (;;) {
                unsigned long long step;
                struct timespec deadline;
                unsigned waited = 0;

                while (!busy)
                        pthread_cond_wait(&changed, &lock);
                step = steps;
                clock_gettime(CLOCK_MONOTONIC, &deadline);
                add_msec(&deadline, NUDGE_EVERY_MSEC);
                while (busy && steps == step) {
                        if (pthread_cond_timedwait(&changed, &lock, &deadline) != ETIMEDOUT ||
                            !busy || steps != step)
                                continue;
                        (void)syscall(SYS_tgkill, getpid(), loop_tid, nudge_signal);
                        add_msec(&deadline, NUDGE_EVERY_MSEC);
                        waited += NUDGE_EVERY_MSEC;
                        if (waited == LOG_AFTER_MSEC)
                                /* Once per stuck step; stderr is unbuffered. */
                                fprintf(stderr,
                                        "reptyrd: one step of the event loop has taken over "
                                        "%d ms, nudged every %d ms (closing a caller's file "
                                        "that waits?)\n",
                                        LOG_AFTER_MSEC, NUDGE_EVERY_MSEC);
                }
        }
        return NULL;
}

int loop_guard_start(void) {
        struct sigaction sa = {.sa_handler = on_nudge, .sa_flags = SA_RESTART};
        pthread_condattr_t attr;
        sigset_t all, old;
        pthread_t thread;
        int r;

        nudge_signal = SIGRTMIN + 7;
        loop_tid = (pid_t)syscall(SYS_gettid);
        if (sigaction(nudge_signal, &sa, NULL) < 0)
                return -errno;
        if ((r = pthread_condattr_init(&attr)) != 0 ||
            (r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
            (r = pthread_cond_init(&changed, &attr)) != 0)
                return -r;
        /* The watcher takes no signal meant for the process (sd-event
         * reads SIGTERM from a signalfd: it must stay blocked everywhere). */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&thread, NULL, watch, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return -r;
        pthread_detach(thread);
        return 0;
}

static void set_busy(bool b) {
        pthread_mutex_lock(&lock);
        busy = b;
        if (b) {
                steps++;
                pthread_cond_signal(&changed);
        }
        pthread_mutex_unlock(&lock);
}

int loop_guard_run(sd_event *e) {
        int r, code = 0;

        while (sd_event_get_state(e) != SD_EVENT_FINISHED) {
                r = sd_event_prepare(e);
                if (r == 0)
                        r = sd_event_wait(e, UINT64_MAX);
                if (r < 0)
                        return r;
                if (r > 0) {
                        set_busy(true);
                        r = sd_event_dispatch(e);
                        set_busy(false);
                        if (r < 0)
                                return r;
                }
        }
        r = sd_event_get_exit_code(e, &code);
        return r < 0 ? r : code;
}
