/* SPDX-License-Identifier: MIT */
/* Scope-based cleanup, as in systemd: early returns never leak. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void freep(void *p) { free(*(void **)p); }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_ _cleanup_(freep)

/* Hand an owned pointer/fd out of a cleanup scope. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _fd;                                                                               \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
