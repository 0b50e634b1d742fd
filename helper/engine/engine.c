/* SPDX-License-Identifier: MIT */
/*
 * The engine's front door: pid and pidfd helpers, and engine_adopt(), which
 * hands the work to process mode (adopt.c) or session mode (session.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "engine-internal.h"
#include "engine.h"
#include "proc.h"
#include "remote.h"
#include "tracee.h"
#include "util.h"

/* ---- small public helpers ---- */

int engine_parse_pid(const char *s, pid_t *ret) {
        unsigned long long v = 0;

        if (!s || !*s || strlen(s) > 10)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(*p - '0');
        }
        /* pid 0 is nobody; pid 1 is init and never adoptable, but that is
         * the engine's refusal with its own message, not a syntax error. */
        if (v == 0 || v > 4194304 /* PID_MAX_LIMIT */)
                return -EINVAL;
        *ret = (pid_t)v;
        return 0;
}

int engine_pidfd_open(pid_t pid, int *ret_pidfd, struct engine_error *err) {
        int fd;

        if (pid <= 0)
                return engine_fail(err, ENGINE_ERR_INVALID, -EINVAL, "%d is not a process id",
                                   (int)pid);
        fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0) {
                int r = -errno;
                if (r == -ESRCH)
                        return engine_fail(err, ENGINE_ERR_NO_SUCH_PROCESS, r,
                                           "no process %d; check the pid with ps or pgrep",
                                           (int)pid);
                if (r == -EINVAL)
                        return engine_fail(err, ENGINE_ERR_INVALID, r,
                                           "%d is a thread, not a process; adopt its process (see "
                                           "/proc/%d/status Tgid)",
                                           (int)pid, (int)pid);
                return engine_fail(err, ENGINE_ERR_FAILED, r,
                                   "cannot open a pidfd for %d: %s (Linux >= 5.3 needed)", (int)pid,
                                   strerror(-r));
        }
        *ret_pidfd = fd;
        return 0;
}

/* The pid (in our namespace) that a pidfd refers to. */
int engine_pidfd_to_pid(int pidfd, pid_t *ret) {
        char path[64], buf[2048];
        const char *p;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        n = proc_read(AT_FDCWD, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        p = strstr(buf, "\nPid:");
        if (!p)
                return -EBADF; /* not a pidfd */
        *ret = (pid_t)atoi(p + 5);
        if (*ret == -1)
                return -ESRCH;
        if (*ret == 0)
                return -EXDEV; /* in a pid namespace we cannot see */
        return 0;
}

/* A dry run: engine_inspect()'s answer in the shape of a result, with what
 * an adoption's reply carries of it (a dry run reports no stop and no
 * thread count: nothing was frozen). */
static int engine_dry_run(int pidfd, const struct engine_options *opts, struct engine_result *res,
                          struct engine_error *err) {
        struct engine_inspection in;
        int r;

        r = engine_inspect(pidfd, opts, &in, err);
        res->pid = in.pid;
        res->target = in.target;
        res->personality = in.personality;
        snprintf(res->old_tty, sizeof(res->old_tty), "%s", in.old_tty);
        res->n_replaced = in.n_fds;
        memcpy(res->replaced_fds, in.fds, in.n_fds * sizeof(int));
        return r;
}

int engine_adopt(int pidfd, const struct engine_options *opts, struct engine_result *res,
                 struct engine_error *err) {
        memset(res, 0, sizeof(*res));
        memset(err, 0, sizeof(*err));
        res->master_fd = -1;
        if (opts->mode == ENGINE_MODE_SESSION)
                return engine_adopt_session(pidfd, opts, res, err);
        if (opts->dry_run)
                return engine_dry_run(pidfd, opts, res, err);
        return engine_adopt_process(pidfd, opts, res, err);
}
