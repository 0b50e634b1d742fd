/* SPDX-License-Identifier: MIT */
/*
 * Running the engine in a process of its own.
 *
 * A ptrace tracee is tied to the thread that seized it, and waiting for a
 * tracee's stop is a wait on that thread: a target thread that never stops
 * (a parent inside vfork(), a thread in an uninterruptible wait) must not
 * hold up a daemon's event loop, and a tracee that was seized but never
 * stopped cannot be detached, only released by its tracer's exit. So every
 * job that ptraces a target, or that walks other processes' fds in /proc
 * (a stat() of an fd can wait on a file system its owner serves), runs in
 * a forked worker:
 *
 *   - the worker runs one job and sends its outcome (and the new pty
 *     master, with SCM_RIGHTS) over a socketpair, then exits, which
 *     releases anything it still held;
 *   - the parent watches the worker's pidfd (readable once it exited),
 *     never blocks on it, and may cancel it: a cancelled adoption stops
 *     right before its point of no return (the engine's `proceed` hook
 *     reads the socket) and is undone; so does one whose parent died.
 *
 * Library code like the engine: no logging, no exit().
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"

enum engine_job {
        ENGINE_JOB_ADOPT, /* engine_adopt(), dry runs included */
        ENGINE_JOB_PROBE, /* engine_session_probe() */
        /* engine_inspect() and, if it has a session with a holder,
         * engine_session_probe() (whose failure is not one). */
        ENGINE_JOB_INSPECT,
        /* engine_hangup_release() with the guard an adoption returned. */
        ENGINE_JOB_HANGUP_RELEASE,
};

struct engine_outcome {
        int r; /* 0 or a negative errno; err is filled when negative */
        struct engine_error err;
        struct engine_result res;            /* ENGINE_JOB_ADOPT */
        struct engine_inspection inspection; /* ENGINE_JOB_INSPECT */
        struct engine_session_info session;  /* ENGINE_JOB_PROBE, ENGINE_JOB_INSPECT */
};

struct engine_worker {
        pid_t pid;
        int pidfd; /* readable once the worker exited */
        int sock;  /* our end: the outcome arrives here; a byte cancels */
        bool cancelled;
};

/* Fork a worker for `job` on the process behind pidfd. The worker sees a
 * copy of opts (callbacks and their userdata included: same program, same
 * addresses) and of guard (ENGINE_JOB_HANGUP_RELEASE only, else NULL). w is
 * filled; free it with engine_worker_free(). */
int engine_worker_start(enum engine_job job, int pidfd, const struct engine_options *opts,
                        const struct engine_hangup_guard *guard, struct engine_worker *w);

/* Ask the worker to give up: an adoption not yet past its point of no
 * return is undone. Idempotent. */
void engine_worker_cancel(struct engine_worker *w);

/* Once the worker's pidfd is readable: read its outcome, reap it. A worker
 * that died without an outcome (killed) gives ENGINE_ERR_FAILED. On
 * success out->res.master_fd, if >= 0, is ours (O_CLOEXEC). */
int engine_worker_finish(struct engine_worker *w, struct engine_outcome *out);

/* SIGKILL the worker (a last resort past a deadline), reap it, and close
 * everything. Waits for it to die (at once, unless it sits in an
 * uninterruptible wait). Safe on a finished or never-started worker. */
void engine_worker_free(struct engine_worker *w);

/* The same without waiting: returns -1 if the worker was reaped, or its
 * pidfd (the caller's), to be reaped with waitid(P_PIDFD) once readable. */
int engine_worker_abandon(struct engine_worker *w);

/* Start, wait at most timeout_ms (one poll on the pidfd, no loop), finish.
 * For callers without an event loop (reptyrctl --direct). */
int engine_run_isolated(enum engine_job job, int pidfd, const struct engine_options *opts,
                        const struct engine_hangup_guard *guard, unsigned timeout_ms,
                        struct engine_outcome *out);
