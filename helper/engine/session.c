/* SPDX-License-Identifier: MIT */
/*
 * Session mode: take over a whole terminal session (a shell with its jobs,
 * pipelines, children) by taking over its pseudo-terminal's master.
 *
 * Nothing in the session moves: the shell and its jobs stay on the same pty
 * slave, with their own job control. What changes hands is the master. The
 * processes holding it ("holders": a terminal emulator, sshd, tmux, or an
 * earlier reptyrctl) are found by their ptmx fds whose fdinfo tty-index is
 * the session's pty, never by guessing a parent. We take a copy of the
 * master first (pidfd_getfd), so the slave is never hung up, and only then
 * make every holder's copy /dev/null, with its epoll registrations of that
 * copy dropped: the holder goes on running and no longer sees the session.
 * A second takeover finds the first reptyrctl as the holder, which then
 * reads end-of-file and ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "engine-internal.h"
#include "engine.h"
#include "proc.h"
#include "remote.h"
#include "session.h"
#include "tracee.h"
#include "util.h"

/* ---- finding holders and members, touching nobody ---- */

struct probe_walk {
        struct engine_session_info *info;
        pid_t target, sid;
        unsigned index;
};

static int probe_cb(pid_t p, int dirfd, void *userdata) {
        struct probe_walk *w = userdata;
        struct engine_session_info *info = w->info;
        char name[16];
        _cleanup_close_ int pd = -1;
        _cleanup_free_ struct proc_fd *fds = NULL;
        struct engine_holder *h = NULL;
        struct proc_stat ps;
        ssize_t n;

        if (p == getpid())
                return 0;
        snprintf(name, sizeof(name), "%d", (int)p);
        pd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pd < 0 || proc_read_stat(pd, &ps) < 0)
                return 0;
        if ((p == w->target || ps.session == w->sid) && info->n_members < ENGINE_MAX_MEMBERS)
                info->members[info->n_members++] = p;
        if (p == w->target)
                return 0; /* the target never holds its own master */
        n = proc_list_fds(pd, &fds);
        if (n == -EACCES || n == -EPERM)
                info->unreadable++;
        for (ssize_t i = 0; i < n; i++) {
                char path[32], text[1024];

                if (!S_ISCHR(fds[i].mode) || fds[i].rdev != makedev(5, 2))
                        continue;
                snprintf(path, sizeof(path), "fdinfo/%d", fds[i].fd);
                if (proc_read(pd, path, text, sizeof(text)) < 0 ||
                    proc_parse_tty_index(text) != (int)w->index)
                        continue;
                if (!h) {
                        if (info->n_holders == ENGINE_MAX_HOLDERS)
                                return 0;
                        h = &info->holders[info->n_holders++];
                        *h = (struct engine_holder){.pid = p};
                }
                if (h->n_fds < ENGINE_MAX_HOLDER_FDS)
                        h->fds[h->n_fds++] = fds[i].fd;
        }
        return 0;
}

static int probe(struct takeover *s, struct engine_session_info *info) {
        struct probe_walk w = {
                .info = info, .target = s->pid, .sid = s->stat.session, .index = s->index};

        memset(info, 0, sizeof(*info));
        info->pid = s->pid;
        snprintf(info->tty, sizeof(info->tty), "/dev/pts/%u", s->index);
        return proc_for_each_pid(AT_FDCWD, "/proc", probe_cb, &w);
}

/* ---- the takeover ---- */

/* The devpts instance of the session's slave, from any fd of the target
 * open on it (0 if it has none: then the device number alone decides). */
static dev_t slave_devpts(int dirfd, dev_t tty) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        ssize_t n = proc_list_fds(dirfd, &fds);

        for (ssize_t i = 0; i < n; i++)
                if (S_ISCHR(fds[i].mode) && fds[i].rdev == tty)
                        return fds[i].dev;
        return 0;
}

/* A process whose terminal was hung up (its master closed: the window or
 * the ssh connection went away) has no controlling terminal any more, but
 * its stdio still points at the dead pty slave: that is the terminal it
 * lost, and finding no holder for it is then the right answer. */
static dev_t stdio_pty(int dirfd) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        ssize_t n = proc_list_fds(dirfd, &fds);

        for (ssize_t i = 0; i < n; i++)
                if (fds[i].fd <= 2 && S_ISCHR(fds[i].mode) && major(fds[i].rdev) >= 136 &&
                    major(fds[i].rdev) <= 143)
                        return fds[i].rdev;
        return 0;
}

static int identify_session(struct takeover *s, int pidfd) {
        _cleanup_close_ int dirfd = -1;
        int r;

        r = engine_pidfd_to_pid(pidfd, &s->pid);
        if (r < 0)
                return engine_fail(s->err, ENGINE_ERR_TARGET_GONE, r, "the process has exited");
        s->res->pid = s->pid;
        r = proc_open(pidfd, s->pid, &dirfd);
        if (r < 0 || proc_read_stat(dirfd, &s->stat) < 0)
                return engine_fail(s->err, ENGINE_ERR_TARGET_GONE, -ESRCH, "process %d has exited",
                                   (int)s->pid);
        s->tty = s->stat.tty_nr ? proc_tty_nr_to_dev(s->stat.tty_nr) : stdio_pty(dirfd);
        if (s->tty == 0)
                return engine_fail(s->err, ENGINE_ERR_NOT_A_TERMINAL, -ENOTTY,
                                   "process %d (%s) has no controlling terminal, so it is in no "
                                   "terminal session to take over; adopt it alone (process mode)",
                                   (int)s->pid, s->stat.comm);
        if (major(s->tty) < 136 || major(s->tty) > 143)
                return engine_fail(s->err, ENGINE_ERR_UNSUPPORTED, -ENOTTY,
                                   "process %d (%s) runs on a terminal that is not a "
                                   "pseudo-terminal (a console or serial line has no master to "
                                   "take over); adopt single processes (process mode)",
                                   (int)s->pid, s->stat.comm);
        s->index = (major(s->tty) - 136) * 256 + minor(s->tty);
        snprintf(s->res->tty, sizeof(s->res->tty), "/dev/pts/%u", s->index);
        snprintf(s->res->old_tty, sizeof(s->res->old_tty), "/dev/pts/%u", s->index);
        s->slave_dev = slave_devpts(dirfd, s->tty);
        return 0;
}

int engine_session_probe(int pidfd, struct engine_session_info *info, struct engine_error *err) {
        struct engine_result res = {0};
        struct takeover s = {.opts = NULL, .res = &res, .err = err, .master = -1};
        int r;

        memset(err, 0, sizeof(*err));
        memset(info, 0, sizeof(*info));
        r = identify_session(&s, pidfd);
        if (r < 0)
                return r;
        r = probe(&s, info);
        if (r < 0)
                return engine_fail(err, ENGINE_ERR_FAILED, r, "cannot list processes: %s",
                                   strerror(-r));
        return 0;
}

/* A holder of the probe, opened for the takeover: its pidfd and /proc
 * directory, proven to be the same process. */
static int open_holder(struct takeover *s, const struct engine_holder *ph, struct holder *h) {
        struct proc_stat ps;

        *h = (struct holder){.pid = ph->pid,
                             .pidfd = -1,
                             .dirfd = -1,
                             .nullfd = -1,
                             .opts = s->opts,
                             .step = &s->res->steps};
        for (size_t k = 0; k < MAX_FDS; k++)
                h->saved[k] = -1;
        h->pidfd = (int)syscall(SYS_pidfd_open, ph->pid, 0);
        if (h->pidfd < 0 || proc_open(h->pidfd, ph->pid, &h->dirfd) < 0)
                return -ESRCH;
        if (proc_read_stat(h->dirfd, &ps) == 0)
                snprintf(h->comm, sizeof(h->comm), "%s", ps.comm);
        memcpy(h->fd, ph->fds, ph->n_fds * sizeof(h->fd[0]));
        h->n_fds = ph->n_fds;
        return 0;
}

/* Our own copy of the master, from the first holder fd that turns out to be
 * the master of the session's slave; then every holder fd that is not that
 * same open file is dropped (a pty of the same number in another devpts
 * instance). Only after authorization: copying an fd is a privileged act. */
static int take_master(struct takeover *s) {
        size_t out = 0;

        for (size_t i = 0; i < s->n && s->master < 0; i++)
                for (size_t k = 0; k < s->h[i].n_fds && s->master < 0; k++) {
                        int m = (int)syscall(SYS_pidfd_getfd, s->h[i].pidfd, s->h[i].fd[k], 0);
                        if (m < 0)
                                continue;
                        if (master_matches(s, m))
                                s->master = m;
                        else
                                close(m);
                }
        if (s->master < 0)
                return -ENOENT;
        for (size_t i = 0; i < s->n; i++) {
                struct holder *h = &s->h[i];
                size_t kept = 0;

                for (size_t k = 0; k < h->n_fds; k++)
                        if (syscall(SYS_kcmp, getpid(), h->pid, KCMP_FILE, s->master, h->fd[k]) ==
                            0)
                                h->fd[kept++] = h->fd[k];
                h->n_fds = kept;
                if (kept == 0) {
                        holder_leave(h);
                        continue;
                }
                if (out != i)
                        s->h[out] = *h;
                out++;
        }
        s->n = out;
        return 0;
}

static int session_proceed(struct takeover *s) {
        int r;

        if (!s->opts->proceed)
                return 0;
        r = s->opts->proceed(s->opts->userdata, s->err);
        if (r >= 0)
                return 0;
        if (s->err->message[0] == '\0')
                engine_fail(s->err, ENGINE_ERR_FAILED, r,
                            "the takeover of /dev/pts/%u was called off; nothing was changed",
                            s->index);
        if (s->err->kind == ENGINE_OK)
                s->err->kind = ENGINE_ERR_FAILED;
        return r;
}

/* No holder was seen, but some processes could not be looked at (another
 * user's, or protected from tracing like sshd's session process). When the
 * process that started the session (its leader's parent: the terminal
 * emulator, sshd) is one of them, it most likely holds the master and the
 * terminal is not gone: say so, and name it. Returns 0 when that is not
 * the case. */
static int hidden_holder(struct takeover *s, unsigned unreadable) {
        char name[32], owner[48] = "yours, but protected from inspection";
        _cleanup_close_ int ld = -1, pd = -1;
        struct proc_stat leader, parent;
        struct proc_status st;

        snprintf(name, sizeof(name), "/proc/%d", (int)s->stat.session);
        ld = open(name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ld < 0 || proc_read_stat(ld, &leader) < 0 || leader.ppid <= 1)
                return 0;
        snprintf(name, sizeof(name), "/proc/%d", (int)leader.ppid);
        pd = open(name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pd < 0 || faccessat(pd, "fd", R_OK, 0) == 0 || errno != EACCES ||
            proc_read_stat(pd, &parent) < 0 || proc_read_status(pd, &st) < 0)
                return 0;
        if (st.uid[1] != geteuid())
                snprintf(owner, sizeof(owner), "uid %u's", (unsigned)st.uid[1]);
        return engine_fail(s->err, ENGINE_ERR_PERMISSION, -EACCES,
                           "the master of /dev/pts/%u is most likely held by %d (%s), which "
                           "started the session and which this user may not look at (%s; %u "
                           "process%s could not be examined); take the session over through "
                           "reptyrd (without --direct), which asks for an administrator's "
                           "authorization, or as root; nothing was changed",
                           s->index, (int)leader.ppid, parent.comm, owner, unreadable,
                           unreadable == 1 ? "" : "es");
}

int engine_adopt_session(int pidfd, const struct engine_options *opts, struct engine_result *res,
                         struct engine_error *err) {
        struct takeover s = {.opts = opts, .res = res, .err = err, .master = -1};
        struct engine_session_info info;
        int r;
        size_t i;

        r = identify_session(&s, pidfd);
        if (r < 0)
                return r;
        r = probe(&s, &info);
        if (r < 0)
                return engine_fail(err, ENGINE_ERR_FAILED, r, "cannot list processes: %s",
                                   strerror(-r));
        memcpy(res->members, info.members, info.n_members * sizeof(res->members[0]));
        res->n_members = info.n_members;
        for (i = 0; i < info.n_holders; i++) {
                if (open_holder(&s, &info.holders[i], &s.h[s.n]) < 0) {
                        holder_leave(&s.h[s.n]);
                        continue; /* gone meanwhile */
                }
                s.n++;
        }
        if (s.n == 0 && info.unreadable && (r = hidden_holder(&s, info.unreadable)) < 0)
                return r;
        if (s.n == 0)
                return engine_fail(
                        err, ENGINE_ERR_NOT_A_TERMINAL, -ENOENT,
                        "no process %sholds the master of /dev/pts/%u any more (its terminal "
                        "window or ssh connection is gone), so there is no session to take "
                        "over; its processes can still be adopted one by one (process mode, "
                        "without --session)",
                        info.unreadable ? "that may be looked at " : "", s.index);
        if (opts->verify) {
                for (i = 0; i < s.n; i++) {
                        struct engine_target t;
                        if (engine_identify(s.h[i].pidfd, &t, err) < 0 ||
                            opts->verify(&t, opts->userdata, err) < 0) {
                                r = -EPERM;
                                goto out;
                        }
                }
        }
        if (opts->dry_run) {
                /* Nothing copied, nothing opened: what the probe saw. */
                r = 0;
                goto report;
        }

        if (take_master(&s) < 0) {
                r = engine_fail(err, ENGINE_ERR_NOT_A_TERMINAL, -ENOENT,
                                "none of the ptmx fds numbered like /dev/pts/%u is its master "
                                "(another devpts instance?); nothing was changed",
                                s.index);
                goto out;
        }

        /* Freeze every holder, switch each, and let them go only when all
         * worked: a failure undoes every switch. */
        for (i = 0; i < s.n; i++) {
                r = holder_freeze(&s, &s.h[i]);
                if (r < 0)
                        goto undo;
        }
        r = session_proceed(&s);
        if (r < 0)
                goto undo;
        for (i = 0; i < s.n; i++) {
                r = holder_switch(&s.h[i]);
                if (r < 0) {
                        engine_fail(err, s.h[i].t.gone ? ENGINE_ERR_TARGET_GONE : ENGINE_ERR_FAILED,
                                    r,
                                    "cannot take the terminal away from %d (%s): %s; nothing was "
                                    "changed",
                                    (int)s.h[i].pid, s.h[i].comm, strerror(-r));
                        goto undo;
                }
        }
        for (i = 0; i < s.n; i++)
                holder_leave(&s.h[i]);

        if (opts->rows && opts->cols) {
                struct winsize ws = {.ws_row = opts->rows, .ws_col = opts->cols};
                (void)ioctl(s.master, TIOCSWINSZ, &ws);
        }
        {
                /* Whatever runs in the foreground redraws for its new
                 * viewer, even if the size did not change. */
                pid_t fg = 0;
                if (ioctl(s.master, TIOCGPGRP, &fg) == 0 && fg > 0)
                        (void)kill(-fg, SIGWINCH);
        }
        res->master_fd = s.master;
        s.master = -1;
        r = 0;
        goto report;

undo:
        for (i = s.n; i-- > 0;)
                holder_undo(&s.h[i]);
        goto out;
report:
        res->n_holders = s.n;
        res->n_replaced = 0;
        for (i = 0; i < s.n; i++) {
                res->holders[i] = s.h[i].pid;
                for (size_t k = 0; k < s.h[i].n_fds && res->n_replaced < ENGINE_MAX_FDS; k++)
                        res->replaced_fds[res->n_replaced++] = s.h[i].fd[k];
        }
out:
        for (i = 0; i < s.n; i++)
                holder_leave(&s.h[i]);
        if (s.master >= 0)
                close(s.master);
        return r;
}
