/* SPDX-License-Identifier: MIT */
/*
 * Freezing a whole target under ptrace and letting it go again.
 *
 * Every thread is seized (PTRACE_SEIZE sends no signal) and interrupted, so
 * no thread can exec, exit halfway, create threads or keep a blocking read
 * on the old terminal while we work; one thread (the "work thread") then
 * runs our remote syscalls. Signals are never dropped: a signal the kernel
 * wanted to deliver while we held the target is either delivered at once
 * (stop signals, which the kernel reinstates after detach) or re-queued
 * before we leave.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct tracee_thread {
        pid_t tid;
        bool seized;
        bool stopped; /* its first stop was collected */
        bool dead;    /* exited while we held it; already reaped by us */
};

#define TRACEE_MAX_DEFERRED 8

struct tracee {
        pid_t pid;
        int dirfd; /* /proc/PID, not owned */
        struct tracee_thread *threads;
        size_t n_threads;
        size_t work; /* index into threads */

        bool was_stopped; /* in a job-control stop when we came */
        int stop_sig;
        bool mask_saved;
        uint64_t saved_mask;

        siginfo_t deferred[TRACEE_MAX_DEFERRED]; /* to re-queue before leaving */
        size_t n_deferred;

        pid_t event_child; /* tracer-namespace pid from the last clone event */
        bool gone;         /* the process died (or was killed) while held */
        bool execd;        /* its image was replaced while held */
};

/* Seize and stop every thread. options go to the work thread (the thread
 * group leader unless it is a zombie). On failure nothing stays seized.
 * -EPERM: the kernel refuses ptrace; -ESRCH: gone; -EBUSY: already traced. */
int tracee_seize(struct tracee *t, pid_t pid, int dirfd, unsigned options);

static inline pid_t tracee_work_tid(const struct tracee *t) { return t->threads[t->work].tid; }

/* Block every signal in the work thread, remembering its mask (which is the
 * pre-sigsuspend/ppoll mask if it sits in one: PTRACE_GETSIGMASK knows). */
int tracee_block_signals(struct tracee *t);

/* Put the remembered mask back. */
int tracee_restore_signals(struct tracee *t);

/* Wait for the next stop of the work thread that is a syscall stop. Clone
 * events record event_child, stop signals are let through (the kernel keeps
 * the group stopped after we detach), other signals are deferred. -ESRCH if
 * the target died, -ESTALE if it exec'd. `resume` is the ptrace request used
 * to continue past uninteresting stops. */
int tracee_wait_syscall(struct tracee *t, int resume);

/* Detach every thread (reaping the ones that died) and free. */
void tracee_release(struct tracee *t);
