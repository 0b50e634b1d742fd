/* SPDX-License-Identifier: MIT */
/*
 * Holding a whole target under ptrace and letting it go again, in two
 * phases so that nothing unauthorized is ever stopped:
 *
 *   tracee_seize()      every thread is attached with PTRACE_SEIZE, which
 *                       neither stops nor signals it; PTRACE_O_TRACECLONE
 *                       attaches threads created from then on, and
 *                       PTRACE_O_TRACEEXEC catches an exec before the new
 *                       program runs a single instruction. The caller now
 *                       re-reads /proc and decides whether it may go on.
 *   tracee_interrupt()  only then: every thread is interrupted and its first
 *                       stop collected, within a deadline. One thread (the
 *                       "work thread") then runs our remote syscalls.
 *
 * The target's signal mask is never changed while we hold it (a tracer that
 * dies would leave it behind): a signal the kernel delivers meanwhile shows
 * up as a signal-delivery stop, which is suppressed and the signal re-queued
 * before we leave (stop signals are let through at once: the kernel puts the
 * group stop in force after we detach).
 *
 * Waiting never blocks without a deadline for a thread that may never stop
 * (one blocked in vfork() or in an uninterruptible wait): SIGCHLD is blocked
 * in the calling thread and waited for with sigtimedwait(). The caller must
 * be single-threaded, or have SIGCHLD blocked in every other thread.
 *
 * A thread that was seized but never stopped cannot be detached (the kernel
 * detaches only a thread in a ptrace stop); it stays seized, running
 * normally, until the calling thread exits, at which point the kernel
 * releases it and clears its pending interrupt. Callers that live on run the
 * engine in a process of its own.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct tracee_thread {
        pid_t tid;
        bool seized;
        bool interrupted; /* PTRACE_INTERRUPT sent */
        bool stopped;     /* in a ptrace stop we collected and have not resumed */
        bool dead;        /* exited while we held it; already reaped by us */
        int stop_sig;     /* signal of a signal-delivery stop it sits in, or 0 */
};

/* Standard signals coalesce in the kernel, so each is held at most once;
 * real-time signals queue, and up to this many of them are held. */
#define TRACEE_MAX_DEFERRED 96

struct tracee {
        pid_t pid;
        int dirfd; /* /proc/PID, not owned */
        unsigned options;
        struct tracee_thread *threads;
        size_t n_threads;
        size_t work; /* index into threads */

        bool was_stopped; /* in a job-control stop when we came */
        int stop_sig;

        siginfo_t deferred[TRACEE_MAX_DEFERRED]; /* to re-queue before leaving */
        size_t n_deferred;
        bool overflow; /* a signal had to be delivered early: more came than we can hold */

        /* Signals our own TIOCNOTTY makes the kernel send the target (SIGHUP
         * and SIGCONT to its foreground group, sent in the target's own
         * name): while armed, one of each from `self_pid` is dropped. */
        unsigned drop_pending; /* bit (sig - 1) */
        pid_t self_pid;        /* the target's pid as it sees itself */

        /* Why tracee_interrupt() gave up (-ETIMEDOUT). */
        pid_t stuck_tid;
        char stuck_state;
        char stuck_wchan[64];

        pid_t event_child; /* tracer-namespace pid from the last clone event */
        bool gone;         /* the process died (or was killed) while held */
        bool execd;        /* its image was replaced while held */
};

/* Attach to every thread without stopping any. options (PTRACE_O_*) go to
 * every thread; TRACECLONE and TRACEEXEC are always added. The work thread
 * is the thread group leader. On failure nothing that can be detached stays
 * attached. -EPERM: the kernel refuses ptrace; -ESRCH: gone; -EBUSY:
 * already traced by someone else. */
int tracee_seize(struct tracee *t, pid_t pid, int dirfd, unsigned options);

/* Stop every seized thread and collect its first stop, giving up after
 * timeout_ms (0: 1000 ms). -ETIMEDOUT: a thread did not stop in time
 * (stuck_* say which and why); -ESTALE: the target exec'd since it was
 * seized; -ESRCH: it died. After a failure, tracee_release() lets go of
 * every thread that did stop, unchanged. */
int tracee_interrupt(struct tracee *t, unsigned timeout_ms);

static inline pid_t tracee_work_tid(const struct tracee *t) { return t->threads[t->work].tid; }

/* Wait for the next stop of the work thread that is a syscall stop. Clone
 * events record event_child, stop signals are let through (the kernel keeps
 * the group stopped after we detach), other signals are deferred (or
 * dropped, see drop_pending). -ESRCH if the target died, -ESTALE if it
 * exec'd. `resume` is the ptrace request used to continue past
 * uninteresting stops. */
int tracee_wait_syscall(struct tracee *t, int resume);

/* Wait (without deadline: the thread is ours and running one of our calls)
 * for one stop or the exit of a thread of the tracer's. */
int tracee_wait_tid(pid_t tid, int *status);

/* The deferred signals as a mask (bit sig - 1), for holding them blocked
 * while they are re-queued. */
uint64_t tracee_deferred_mask(const struct tracee *t);

/* Make the whole held process enter a group stop (SIGSTOP), every thread
 * in turn, so that its parent's waitpid(WUNTRACED) reports it stopped as
 * for a ^Z. Signals found pending on the way are delivered, not held. The
 * threads stay in their group-stop traps; detached, they stay stopped
 * until a SIGCONT. -ESRCH if it died. */
int tracee_group_stop(struct tracee *t, int pidfd);

/* Detach every thread in a ptrace stop (reaping the ones that died),
 * handing back a signal it was about to receive, and free. Threads still
 * running stay seized until the calling thread exits (see above). */
void tracee_release(struct tracee *t);
