/* SPDX-License-Identifier: MIT */
/*
 * Remote syscalls: making a stopped target thread run a syscall of ours.
 *
 * The thread's registers are saved once. For each call the program counter
 * is pointed at an existing syscall instruction of the target (the one its
 * interrupted syscall used, or one in its vDSO), number and arguments are
 * loaded, and PTRACE_SYSCALL runs exactly that instruction to its exit stop.
 * No code is written into the target, so threads, shared text and SIGTRAP
 * handlers are never an issue, and CPU-bound targets that never make a
 * syscall work just like blocked ones. At the end the saved registers are
 * put back, normalised so that an interrupted blocking syscall runs again.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "tracee.h"

struct remote {
        struct tracee *tracee;
        const struct arch_personality *pers;
        struct arch_regs saved; /* as the first stop found them */
        struct arch_regs work;
        uint64_t gadget;  /* address of a syscall instruction */
        uint64_t scratch; /* our page in the target, 0 if none */
        size_t scratch_size;
        bool regs_dirty; /* registers differ from `saved` */
        bool moved;      /* it left its first stop to run a call of ours */
};

/* Read registers, decide the personality, find a syscall instruction.
 * -ENOEXEC: unsupported personality; -ENOENT: no syscall instruction. */
int remote_init(struct remote *r, struct tracee *t);

/* Run one syscall. Returns its result (>= 0) or -errno from the target.
 * Failures of ours are distinguished by r->tracee->gone (-ESRCH) and
 * r->tracee->execd (-ESTALE). */
long remote_syscall(struct remote *r, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                    uint64_t a3, uint64_t a4, uint64_t a5);

/* Map / unmap one page of private anonymous scratch memory. */
int remote_scratch_map(struct remote *r);
int remote_scratch_unmap(struct remote *r);

int remote_write(struct remote *r, uint64_t addr, const void *buf, size_t len);
int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len);

/* Write a struct epoll_event in the target's layout at addr. */
int remote_write_epoll_event(struct remote *r, uint64_t addr, uint32_t events, uint64_t data);

/* Re-queue in the target the signals its tracee deferred while we held it
 * (see tracee.h), mapping scratch memory if there is none. The re-queued
 * signals are held blocked, on top of the target's own mask, only for the
 * few calls this takes. */
int remote_requeue_deferred(struct remote *r);

/* Put the saved registers back (normalised for restart). */
int remote_restore(struct remote *r);

/* The last step before the work thread is let go: it is brought back into
 * the kernel's signal code (an interrupt stop, as where we found it) and
 * given its registers exactly as they were when it was interrupted, not
 * normalised. Whatever it then finds pending (a SIGWINCH from its new
 * terminal, a signal that arrived while we held it) is delivered with the
 * kernel's own restart rules: a handler makes an interrupted select, poll
 * or pselect return EINTR (-ERESTARTNOHAND), a read restart only under
 * SA_RESTART (-ERESTARTSYS); with no handler, every call restarts. That is
 * what a real resize or a real signal does to it. Personalities whose
 * kernel fixes the restart up before the stop are simply restored. */
int remote_finish(struct remote *r);

/* True for a syscall result that is an error in the target's ABI. */
static inline bool remote_failed(long v) { return v < 0 && v >= -4095; }
