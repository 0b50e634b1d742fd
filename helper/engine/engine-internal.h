/* SPDX-License-Identifier: MIT */
/*
 * The engine's private header, shared by its files and not an API:
 *
 *   engine.c    the front door: engine_adopt() choosing process mode,
 *               session mode or (dry run) inspection;
 *   inspect.c   pids and pidfds, who the target is and what adoption
 *               would do, nothing touched (engine_identify(),
 *               engine_inspect());
 *   hold.c      taking hold of a target (seize, interrupt, registers) and
 *               letting it go; the checkpoints and step errors;
 *   pty.c       the new pty, opened by the target itself;
 *   adopt.c     the process-mode recipe: move the fds, leave the old
 *               terminal, take the new one, or undo it all;
 *   hangup.c    the hangup guard: armed by adopt.c, released later;
 *   session.c   session mode (the pty master's holders switched over).
 *
 * Calls only go down: engine.c -> adopt.c -> hangup.c, pty.c -> hold.c ->
 * inspect.c; engine.c -> session.c -> hold.c (engine_checkpoint() only),
 * inspect.c; all of them -> tracee.c, remote.c, proc.c. The process-mode
 * recipe's state and steps are in adoption.h, which session.c does not
 * include.
 */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "arch.h"
#include "engine.h"
#include "proc.h"
#include "remote.h"
#include "tracee.h"

/* Not in every libc's headers yet (Linux 4.13). */
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* Fill err (message formatted like printf) and return r if negative, else
 * -EIO. */
__attribute__((format(printf, 4, 5))) int engine_fail(struct engine_error *err,
                                                      enum engine_error_kind kind, int r,
                                                      const char *fmt, ...);

/* The pid (in our namespace) a pidfd refers to: -ESRCH if it exited,
 * -EXDEV if it is in a pid namespace we cannot see, -EBADF if not a pidfd. */
int engine_pidfd_to_pid(int pidfd, pid_t *ret);

/* Process mode (adopt.c) and session mode (session.c); engine_adopt() has
 * cleared res and err and chosen one. */
int engine_adopt_process(int pidfd, const struct engine_options *opts, struct engine_result *res,
                         struct engine_error *err);
int engine_adopt_session(int pidfd, const struct engine_options *opts, struct engine_result *res,
                         struct engine_error *err);

/* The word size of a process from the layout of its auxiliary vector (the
 * bytes of /proc/PID/auxv): 8 or 4, 0 if neither fits. */
unsigned engine_auxv_word_size(const unsigned char *buf, size_t len);

/* A fault-injection checkpoint (opts->fault), counted in *step: 0, or the
 * injected failure. Tests kill the target, or us, or fail the step here. */
int engine_checkpoint(const struct engine_options *opts, unsigned *step, int pidfd);

/* Layout of our scratch page in the target, for both modes. */
enum {
        SCR_PTMX = 0,      /* "/dev/ptmx" */
        SCR_DEVTTY = 16,   /* "/dev/tty" */
        SCR_DEVNULL = 32,  /* "/dev/null" (session mode) */
        SCR_EVENT = 48,    /* struct epoll_event (packed or not) */
        SCR_SIGSET = 64,   /* a sigset of one signal */
        SCR_ZERO_TS = 80,  /* a zero timeout (16 zero bytes) */
        SCR_PGID = 96,     /* a pid_t for TIOCSPGRP */
        SCR_ACT_NEW = 128, /* struct sigaction in the target's layout */
        SCR_ACT_OLD = 192,
        SCR_SIGINFO = 256,
};
