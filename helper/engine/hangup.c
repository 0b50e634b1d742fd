/* SPDX-License-Identifier: MIT */
/*
 * The hangup guard (see struct engine_hangup_guard): armed by the recipe,
 * watched and released by the caller once the old session is gone.
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

#include "adoption.h"
#include "engine-internal.h"
#include "engine.h"
#include "proc.h"
#include "remote.h"
#include "tracee.h"
#include "util.h"

static unsigned long long starttime_of(pid_t pid) {
        char path[32];
        _cleanup_close_ int d = -1;
        struct proc_stat st;

        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        d = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (d < 0 || proc_read_stat(d, &st) < 0)
                return 0;
        return st.starttime;
}

/* See struct engine_hangup_guard: SIGHUP ignored while the old shell may
 * still send its jobs one. Best effort: on failure the target keeps its own
 * action and the guard stays unarmed. */
void arm_hangup_guard(struct adoption *a) {
        struct engine_hangup_guard *g = &a->res->hangup;
        unsigned w = a->r.pers->word_size;
        size_t len = w == 4 ? 20 : 32; /* handler, flags, restorer, 64-bit mask */
        unsigned char act[32] = {0}, old[32] = {0};
        uint64_t ign = (uint64_t)(uintptr_t)SIG_IGN, handler = 0;
        pid_t sid = a->stat.session;
        long v;

        /* res->target is what freeze() verified once it was seized (an
         * exec since would have stopped the adoption): what was adopted.
         * Without an identity to compare with at release, no guard. */
        if (!a->res->target.exe[0] || !a->res->target.start_stack)
                return;
        memcpy(act, &ign, w);
        if (remote_write(&a->r, a->r.scratch + SCR_ACT_NEW, act, len) < 0)
                return;
        v = rcall(a, ARCH_SYS_RT_SIGACTION, SIGHUP, a->r.scratch + SCR_ACT_NEW,
                  a->r.scratch + SCR_ACT_OLD, 8);
        if (remote_failed(v))
                return;
        if (remote_read(&a->r, a->r.scratch + SCR_ACT_OLD, old, len) < 0) {
                /* What it had is unknown: ignoring is the lesser harm. */
                return;
        }
        memcpy(&handler, old, w);
        if (handler == ign) {
                /* It ignores hangups already: exactly its own action back. */
                (void)rcall(a, ARCH_SYS_RT_SIGACTION, SIGHUP, a->r.scratch + SCR_ACT_OLD, 0, 8);
                return;
        }
        *g = (struct engine_hangup_guard){
                .armed = true,
                .word_size = w,
                .saved_len = len,
                .starttime = a->stat.starttime,
                .target = a->res->target,
        };
        memcpy(g->saved, old, len);
        g->watch[g->n_watch] = a->parent;
        g->watch_starttime[g->n_watch++] = a->parent_stat.starttime;
        if (sid > 1 && sid != a->parent && sid != a->pid) {
                unsigned long long st = starttime_of(sid);
                if (st) {
                        g->watch[g->n_watch] = sid;
                        g->watch_starttime[g->n_watch++] = st;
                }
        }
}

int engine_hangup_watch(const struct engine_hangup_guard *g, int fds[ENGINE_HANGUP_MAX_WATCH],
                        size_t *n) {
        *n = 0;
        for (size_t i = 0; i < g->n_watch && i < ENGINE_HANGUP_MAX_WATCH; i++) {
                int fd = (int)syscall(SYS_pidfd_open, g->watch[i], 0);

                if (fd < 0)
                        continue; /* gone */
                /* Opened, it is pinned: is it still the same process? */
                if (starttime_of(g->watch[i]) != g->watch_starttime[i]) {
                        close(fd);
                        continue;
                }
                fds[(*n)++] = fd;
        }
        return 0;
}

/* engine_hangup_release()'s verify: checked once it is identified (nothing
 * seized yet) and again once seized, before it is stopped; an exec after
 * that stops it before the new program runs (-ESTALE). */
static int still_adopted(const struct engine_target *t, void *userdata, struct engine_error *err) {
        const struct engine_hangup_guard *g = userdata;
        const char *what = engine_target_changed(&g->target, t);

        if (!what)
                return 0;
        return engine_fail(err, ENGINE_ERR_PERMISSION, -EPERM,
                           "process %d (%s) is not what was adopted any more (%s changed)",
                           (int)t->pid, t->comm, what);
}

int engine_hangup_release(int pidfd, const struct engine_hangup_guard *g,
                          const struct engine_options *caller_opts, struct engine_error *err) {
        struct engine_result res = {0};
        struct engine_options opts = *caller_opts;
        struct adoption a = {
                .pidfd = pidfd,
                .dirfd = -1,
                .opts = &opts,
                .res = &res,
                .err = err,
                .t_master = -1,
                .master = -1,
        };
        unsigned char old[32] = {0};
        uint64_t handler = 0, ign = (uint64_t)(uintptr_t)SIG_IGN;
        long v;
        int r;

        memset(err, 0, sizeof(*err));
        for (size_t i = 0; i < MAX_SLAVES; i++)
                a.t_slave[i] = -1;
        if (!g->armed)
                return 0;
        opts.verify = still_adopted;
        opts.userdata = (void *)g;
        r = identify(&a);
        if (r < 0)
                goto out;
        if (a.stat.starttime != g->starttime) {
                r = engine_fail(err, ENGINE_ERR_TARGET_GONE, -ESRCH,
                                "process %d is not the adopted process any more", (int)a.pid);
                goto out;
        }
        r = verify(&a);
        if (r < 0)
                goto out;
        r = freeze(&a);
        if (r < 0)
                goto leave;
        if (a.r.pers->word_size != g->word_size) {
                r = engine_fail(err, ENGINE_ERR_FAILED, -EINVAL,
                                "process %d (%s) changed its word size", (int)a.pid, a.stat.comm);
                goto leave;
        }
        if ((r = remote_scratch_map(&a.r)) < 0 ||
            (r = remote_write(&a.r, a.r.scratch + SCR_ACT_NEW, g->saved, g->saved_len)) < 0) {
                r = step_error(&a, "restoring its hangup action", r);
                goto leave;
        }
        v = rcall(&a, ARCH_SYS_RT_SIGACTION, SIGHUP, a.r.scratch + SCR_ACT_NEW,
                  a.r.scratch + SCR_ACT_OLD, 8);
        if (remote_failed(v)) {
                r = step_error(&a, "restoring its hangup action", v);
                goto leave;
        }
        if (remote_read(&a.r, a.r.scratch + SCR_ACT_OLD, old, g->saved_len) == 0) {
                memcpy(&handler, old, g->word_size);
                /* It chose an action of its own since: that one stays. */
                if (handler != ign)
                        (void)rcall(&a, ARCH_SYS_RT_SIGACTION, SIGHUP, a.r.scratch + SCR_ACT_OLD, 0,
                                    8);
        }
        r = 0;
leave:
        a.committed = false;
        leave(&a);
out:
        if (a.dirfd >= 0)
                close(a.dirfd);
        return r;
}
