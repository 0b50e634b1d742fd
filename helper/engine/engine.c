/* SPDX-License-Identifier: MIT */
/*
 * The engine's front door: engine_adopt() hands the work to process mode
 * (adopt.c), session mode (session.c) or, for a dry run, to inspection
 * (inspect.c).
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
