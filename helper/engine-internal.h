/* SPDX-License-Identifier: MIT */
/* Shared between the engine's files (engine.c, session.c); not an API. */
#pragma once

#include <sys/types.h>

#include "engine.h"

/* Fill err (message formatted like printf) and return r if negative, else
 * -EIO. */
__attribute__((format(printf, 4, 5))) int engine_fail(struct engine_error *err,
                                                      enum engine_error_kind kind, int r,
                                                      const char *fmt, ...);

/* The pid (in our namespace) a pidfd refers to: -ESRCH if it exited,
 * -EXDEV if it is in a pid namespace we cannot see, -EBADF if not a pidfd. */
int engine_pidfd_to_pid(int pidfd, pid_t *ret);

/* /proc/PID/stat's tty_nr as a dev_t. */
dev_t engine_tty_nr_to_dev(unsigned tty_nr);

/* Session mode (session.c). */
int engine_adopt_session(int pidfd, const struct engine_options *opts, struct engine_result *res,
                         struct engine_error *err);

/* The word size of a process from the layout of its auxiliary vector (the
 * bytes of /proc/PID/auxv): 8 or 4, 0 if neither fits. */
unsigned engine_auxv_word_size(const unsigned char *buf, size_t len);
