/* SPDX-License-Identifier: MIT */
/*
 * Inspection: pids and pidfds, who the target is, which of its fds are its terminal, and
 * every refusal that can be decided before it is touched. Reads /proc and
 * copies fds out to look at them (pidfd_getfd); never stops, writes or
 * signals the target.
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

/* ---- pids and pidfds ---- */

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

/* ---- the terminal's fds ---- */

static bool fd_is_tty(int pidfd, int fd) {
        int ours = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        bool r;

        if (ours < 0)
                return false;
        /* A terminal that was hung up (its master closed: the window or the
         * ssh connection is gone) answers EIO, not ENOTTY: still a
         * terminal, the very one an orphaned process is adopted from. */
        r = isatty(ours) || errno == EIO;
        close(ours);
        return r;
}

/* Which fds are "the terminal": with a controlling tty, the fds open on it
 * (or on /dev/tty); without one, the fds open on the terminal that stdio
 * uses; nothing else, ever (regular files must never match, see tty_nr 0). */
int select_term_fds(struct adoption *a, const struct proc_fd *fds, size_t n) {
        dev_t tty = a->ctty;

        a->n_term = 0;
        if (a->opts->fds == ENGINE_FDS_TERMINAL && !tty) {
                for (int want = 0; want <= 2 && !tty; want++)
                        for (size_t i = 0; i < n; i++)
                                if (fds[i].fd == want && S_ISCHR(fds[i].mode) &&
                                    fd_is_tty(a->pidfd, want))
                                        tty = fds[i].rdev;
        }
        for (size_t i = 0; i < n; i++) {
                const struct proc_fd *f = &fds[i];
                bool take;

                if (!S_ISCHR(f->mode))
                        continue;
                if (a->opts->fds == ENGINE_FDS_STDIO)
                        take = f->fd <= 2 && fd_is_tty(a->pidfd, f->fd);
                else
                        take = tty && (f->rdev == tty || (a->ctty && f->rdev == makedev(5, 0)));
                if (!take)
                        continue;
                if (a->n_term == ENGINE_MAX_FDS)
                        return -E2BIG;
                a->term[a->n_term++] = (struct term_fd){
                        .fd = f->fd,
                        .flags = f->flags,
                        .rdev = f->rdev,
                        .dev = f->dev,
                        .ino = f->ino,
                        .saved = -1,
                };
        }
        return 0;
}

/* ---- inspection ---- */

bool engine_is_self_or_ancestor(pid_t pid) {
        /* pid 1 is everyone's ancestor; it is refused with its own message. */
        for (pid_t p = getpid(); p > 1 && pid > 1;) {
                char path[32];
                _cleanup_close_ int d = -1;
                struct proc_stat st;

                if (p == pid)
                        return true;
                snprintf(path, sizeof(path), "/proc/%d", (int)p);
                d = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (d < 0 || proc_read_stat(d, &st) < 0)
                        return false;
                p = st.ppid;
        }
        return false;
}

/* Other processes in the target's process group (and, for a session
 * leader, in its session): moving only the target would split them from
 * their terminal. Lists up to a few of them in `names`. */
struct companions {
        struct adoption *a;
        char *names;
        size_t size, used;
        int count;
};

static int companion_cb(pid_t p, int dirfd, void *userdata) {
        struct companions *c = userdata;
        char name[16];
        _cleanup_close_ int pd = -1;
        struct proc_stat st;

        if (p == c->a->pid)
                return 0;
        snprintf(name, sizeof(name), "%d", (int)p);
        pd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pd < 0 || proc_read_stat(pd, &st) < 0)
                return 0;
        if (st.pgrp != c->a->stat.pgrp && !(c->a->leader && st.session == c->a->stat.session))
                return 0;
        if (c->count < 4 && c->used < c->size) {
                int w = snprintf(c->names + c->used, c->size - c->used, "%s%d (%s)",
                                 c->count ? ", " : "", (int)p, st.comm);
                if (w > 0)
                        c->used += (size_t)w;
        }
        c->count++;
        return 0;
}

static int find_companions(struct adoption *a, char *names, size_t size) {
        struct companions c = {.a = a, .names = names, .size = size};
        int r;

        names[0] = '\0';
        r = proc_for_each_pid(AT_FDCWD, "/proc", companion_cb, &c);
        if (r < 0)
                return r;
        if (c.count > 4 && c.used < size)
                snprintf(names + c.used, size - c.used, " and %d more", c.count - 4);
        return c.count;
}

/* Processes outside the target's session that have its terminal open, the
 * master's holders excepted (a terminal emulator may keep its slave open
 * too): a tmux or screen server holds its client's terminal and draws on
 * it by itself. Moving only the client would leave the server drawing on
 * the old terminal and reading its keys, and the new one dead. Processes
 * this user may not look at are not seen (the helper sees all). */
struct sharers {
        struct adoption *a;
        dev_t tty, dev;
        int index; /* N of /dev/pts/N, -1 for other terminals */
        pid_t first;
        char comm[64];
        int count;
};

static bool is_multiplexer(const char *comm) {
        return strncmp(comm, "tmux", 4) == 0 || strcmp(comm, "screen") == 0 ||
               strcmp(comm, "SCREEN") == 0;
}

static int sharer_cb(pid_t p, int dirfd, void *userdata) {
        struct sharers *sh = userdata;
        char name[16];
        _cleanup_close_ int pd = -1;
        struct proc_tty_use u;
        struct proc_stat st;

        if (p == sh->a->pid || p == getpid())
                return 0;
        snprintf(name, sizeof(name), "%d", (int)p);
        pd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pd < 0 || proc_read_stat(pd, &st) < 0 || st.session == sh->a->stat.session ||
            (st.flags & PROC_PF_KTHREAD))
                return 0;
        if (proc_tty_use(pd, sh->tty, sh->dev, sh->index, &u) < 0 || u.n_on_dev == 0 ||
            u.holds_master)
                return 0;
        /* A vfork()ed child that has not exec'd yet runs in the target's
         * own memory: it is part of the target's program, not a sharer. */
        if (syscall(SYS_kcmp, sh->a->pid, p, KCMP_VM, 0, 0) == 0)
                return 0;
        /* Name a multiplexer first: its advice is the useful one. */
        if (sh->count == 0 || (is_multiplexer(st.comm) && !is_multiplexer(sh->comm))) {
                sh->first = p;
                snprintf(sh->comm, sizeof(sh->comm), "%s", st.comm);
        }
        sh->count++;
        return 0;
}

static int check_shared_terminal(struct adoption *a) {
        struct sharers sh = {.a = a, .index = -1};
        const char *tty = a->res->old_tty[0] ? a->res->old_tty : "its terminal";
        char others[48] = "";
        int r;

        for (size_t i = 0; i < a->n_term && !sh.tty; i++)
                if (a->term[i].rdev != makedev(5, 0)) {
                        sh.tty = a->term[i].rdev;
                        sh.dev = a->term[i].dev;
                }
        if (!sh.tty)
                return 0;
        if (major(sh.tty) >= 136 && major(sh.tty) <= 143)
                sh.index = (int)((major(sh.tty) - 136) * 256 + minor(sh.tty));
        r = proc_for_each_pid(AT_FDCWD, "/proc", sharer_cb, &sh);
        if (r < 0 || sh.count == 0)
                return 0; /* cannot list processes: nothing to warn about */
        if (sh.count > 1)
                snprintf(others, sizeof(others), " (and %d other process%s)", sh.count - 1,
                         sh.count > 2 ? "es" : "");
        if (is_multiplexer(sh.comm)) {
                bool tmux = sh.comm[0] == 't';
                return engine_fail(
                        a->err, ENGINE_ERR_HAS_CHILDREN, -EBUSY,
                        "process %d (%s) is on %s, which the %s server %d (%s)%s also has open: "
                        "the server draws there and reads its keys itself, so the adopted %s "
                        "would be a dead end; to see this session here, run `%s` on this "
                        "terminal instead (or adopt anyway with --force)",
                        (int)a->pid, a->stat.comm, tty, tmux ? "tmux" : "screen", (int)sh.first,
                        sh.comm, others, tmux ? "client" : "program",
                        tmux ? "tmux attach" : "screen -x");
        }
        return engine_fail(a->err, ENGINE_ERR_HAS_CHILDREN, -EBUSY,
                           "process %d (%s) is on %s, which process %d (%s)%s, outside its "
                           "session, also has open and would go on using; end or adopt %d (%s) "
                           "first (or adopt anyway with --force)",
                           (int)a->pid, a->stat.comm, tty, (int)sh.first, sh.comm, others,
                           (int)sh.first, sh.comm);
}

/* The word size of a process from the layout of its auxiliary vector
 * (pairs of words, ending with a zero type): 8 or 4, 0 if neither fits. */
/* The layout itself is the arch layer's business (byte order, word sizes
 * of the personalities it has): one definition, in arch/common.c. */
unsigned engine_auxv_word_size(const unsigned char *buf, size_t len) {
        return arch_auxv_word_size(buf, len);
}

/* Refuse a target of a personality this build cannot adopt before touching
 * it. Decided from /proc/PID/auxv, which is kernel memory: the target's
 * executable is never opened, as it may sit on a filesystem its owner
 * serves (FUSE) and block a privileged helper. The regset decides again
 * once it is stopped. */
static int check_personality(struct adoption *a) {
        unsigned char buf[4096];
        ssize_t n = proc_read(a->dirfd, "auxv", (char *)buf, sizeof(buf));
        unsigned w = n > 0 ? engine_auxv_word_size(buf, (size_t)n) : 0;

        if (w == 0)
                return 0;
        for (size_t i = 0; arch_personalities[i]; i++)
                if (arch_personalities[i]->word_size == w) {
                        a->res->personality = arch_personalities[i]->name;
                        return 0;
                }
        return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, -ENOEXEC,
                           "process %d (%s) is a %u-bit program this %s build cannot adopt; use a "
                           "build for its architecture",
                           (int)a->pid, a->stat.comm, w * 8, arch_build_name);
}

/* The facts a permission model needs, from what inspect()/freeze() read. */
static void fill_target(struct adoption *a) {
        struct engine_target *t = &a->res->target;
        char ours[64], theirs[64];
        struct proc_stat stat;
        struct stat st;
        ssize_t n, m;

        t->pid = a->pid;
        memcpy(t->uid, a->status.uid, sizeof(t->uid));
        memcpy(t->gid, a->status.gid, sizeof(t->gid));
        t->cap_prm = a->status.cap_prm;
        t->cap_eff = a->status.cap_eff;
        t->seccomp = a->status.seccomp;
        snprintf(t->comm, sizeof(t->comm), "%s", a->stat.comm);
        /* The kernel hands the files of /proc/PID of a non-dumpable process
         * (setuid, PR_SET_DUMPABLE 0) to root instead of its euid. Not the
         * directory itself: that always shows the euid, for ps. */
        t->dumpable = fstatat(a->dirfd, "status", &st, 0) == 0 && st.st_uid == a->status.uid[1];
        /* Fail closed: a namespace we cannot read is not ours. */
        n = readlink("/proc/self/ns/user", ours, sizeof(ours) - 1);
        m = readlinkat(a->dirfd, "ns/user", theirs, sizeof(theirs) - 1);
        t->same_userns = n > 0 && n == m && memcmp(ours, theirs, (size_t)n) == 0;
        n = readlinkat(a->dirfd, "exe", t->exe, sizeof(t->exe) - 1);
        t->exe[n > 0 ? n : 0] = '\0';
        /* Read again: a->stat may be from before it was seized. */
        if (proc_read_stat(a->dirfd, &stat) == 0) {
                t->start_code = stat.start_code;
                t->start_stack = stat.start_stack;
        } else
                t->start_code = t->start_stack = 0;
}

/* The length of exe without the " (deleted)" the kernel appends once the
 * file was removed or replaced (a package upgrade): the running program is
 * the same. */
static size_t exe_len(const char *exe) {
        static const char deleted[] = " (deleted)";
        size_t n = strlen(exe), d = sizeof(deleted) - 1;

        return n > d && strcmp(exe + n - d, deleted) == 0 ? n - d : n;
}

const char *engine_target_changed(const struct engine_target *was,
                                  const struct engine_target *now) {
        if (memcmp(was->uid, now->uid, sizeof(was->uid)) != 0)
                return "its user ids";
        if (memcmp(was->gid, now->gid, sizeof(was->gid)) != 0)
                return "its group ids";
        if (was->cap_prm != now->cap_prm || was->cap_eff != now->cap_eff)
                return "its capabilities";
        if (was->dumpable != now->dumpable)
                return "whether it may be traced (dumpable)";
        if (was->same_userns != now->same_userns)
                return "its user namespace";
        if (was->seccomp != now->seccomp)
                return "its seccomp mode";
        /* Unreadable counts as changed: fail closed. */
        if (!was->exe[0] || exe_len(was->exe) != exe_len(now->exe) ||
            memcmp(was->exe, now->exe, exe_len(was->exe)) != 0)
                return "the program it runs";
        if (!was->start_stack || was->start_code != now->start_code ||
            was->start_stack != now->start_stack)
                return "the program it runs (it started one anew)";
        return NULL;
}

int verify(struct adoption *a) {
        fill_target(a);
        if (!a->opts->verify)
                return 0;
        return a->opts->verify(&a->res->target, a->opts->userdata, a->err);
}

static bool have_cap_sys_admin(void) {
        char buf[4096];
        struct proc_status st;

        return proc_read(AT_FDCWD, "/proc/self/status", buf, sizeof(buf)) > 0 &&
               proc_parse_status(buf, &st) == 0 && (st.cap_eff & (1ULL << 21));
}

/* Who the target is; refuses what is never a candidate. Reads only what
 * /proc shows any user (no fds), so it may run before authorization. */
int identify(struct adoption *a) {
        int r;

        r = engine_pidfd_to_pid(a->pidfd, &a->pid);
        if (r == -ESRCH)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "the process has already exited");
        if (r == -EXDEV)
                return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, r,
                                   "the process is in a pid namespace this helper cannot see");
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_INVALID, r,
                                   "the file descriptor is not a pidfd");
        a->res->pid = a->pid;

        r = proc_open(a->pidfd, a->pid, &a->dirfd);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "process %d has already exited", (int)a->pid);
        r = proc_read_stat(a->dirfd, &a->stat);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "process %d has already exited", (int)a->pid);
        r = proc_read_status(a->dirfd, &a->status);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, r,
                                   "process %d has already exited", (int)a->pid);

        if (a->stat.flags & PROC_PF_KTHREAD)
                return engine_fail(
                        a->err, ENGINE_ERR_NO_SUCH_PROCESS, -EINVAL,
                        "%d (%s) is a kernel thread, not a program that could use a terminal",
                        (int)a->pid, a->stat.comm);
        if (a->pid == 1)
                return engine_fail(a->err, ENGINE_ERR_NO_SUCH_PROCESS, -EINVAL,
                                   "1 (%s) is the init process and is never adopted", a->stat.comm);
        if (a->stat.state == 'Z' || a->stat.state == 'X')
                return engine_fail(
                        a->err,
                        a->stat.num_threads > 1 ? ENGINE_ERR_UNSUPPORTED : ENGINE_ERR_TARGET_GONE,
                        -ESRCH,
                        a->stat.num_threads > 1
                                ? "process %d (%s) has exited its main thread; such processes "
                                  "cannot be adopted"
                                : "process %d (%s) has exited (it is a zombie waiting for its "
                                  "parent)",
                        (int)a->pid, a->stat.comm);
        fill_target(a);
        return 0;
}

int inspect(struct adoption *a) {
        _cleanup_free_ struct proc_fd *fds = NULL;
        char names[256];
        ssize_t n;
        int r;

        r = identify(a);
        if (r < 0)
                return r;
        if (engine_is_self_or_ancestor(a->pid))
                return engine_fail(
                        a->err, ENGINE_ERR_INVALID, -EINVAL,
                        "%d (%s) is reptyrctl itself or one of its ancestors (the shell you "
                        "typed in?); run reptyrctl from another terminal",
                        (int)a->pid, a->stat.comm);
        if (a->status.tracer_pid)
                return engine_fail(
                        a->err, ENGINE_ERR_BUSY, -EBUSY,
                        "process %d (%s) is already traced by process %d (a debugger, or "
                        "another adoption); detach that first",
                        (int)a->pid, a->stat.comm, (int)a->status.tracer_pid);
        r = check_personality(a);
        if (r < 0)
                return r;

        a->ctty = a->stat.tty_nr ? proc_tty_nr_to_dev(a->stat.tty_nr) : 0;
        a->leader = a->stat.session == a->pid;
        n = proc_list_fds(a->dirfd, &fds);
        if (n < 0) {
                if (n == -EACCES || n == -EPERM)
                        return engine_fail(
                                a->err, ENGINE_ERR_PERMISSION, (int)n,
                                "not allowed to look at the files of process %d (%s); it "
                                "belongs to another user or is protected",
                                (int)a->pid, a->stat.comm);
                return engine_fail(a->err, ENGINE_ERR_TARGET_GONE, (int)n,
                                   "process %d has already exited", (int)a->pid);
        }
        r = select_term_fds(a, fds, (size_t)n);
        if (r < 0)
                return engine_fail(a->err, ENGINE_ERR_UNSUPPORTED, r,
                                   "process %d (%s) has more than %d terminal file descriptors",
                                   (int)a->pid, a->stat.comm, ENGINE_MAX_FDS);
        if (a->n_term == 0)
                return engine_fail(
                        a->err, ENGINE_ERR_NOT_A_TERMINAL, -ENOTTY,
                        a->opts->fds == ENGINE_FDS_STDIO
                                ? "process %d (%s) has no terminal on fds 0, 1 or 2; nothing "
                                  "to move"
                                : "process %d (%s) has no file descriptor open on a terminal; "
                                  "nothing to move (its output may go to a file or pipe)",
                        (int)a->pid, a->stat.comm);

        r = find_companions(a, names, sizeof(names));
        if (r > 0)
                return engine_fail(
                        a->err, ENGINE_ERR_HAS_CHILDREN, -EBUSY,
                        "process %d (%s) shares its %s with %s; moving it alone would cut "
                        "them off: adopt the process that leads them, or the whole session "
                        "(--session)",
                        (int)a->pid, a->stat.comm, a->leader ? "session" : "process group", names);

        if (a->status.seccomp != 0 && !have_cap_sys_admin())
                return engine_fail(
                        a->err, ENGINE_ERR_SECCOMP, -EPERM,
                        "process %d (%s) runs under a seccomp %s, which could kill it when it "
                        "makes the calls adoption needs; only a privileged adopter (reptyrd, "
                        "or root) can suspend the filter",
                        (int)a->pid, a->stat.comm,
                        a->status.seccomp == 1 ? "strict mode" : "filter");
        r = verify(a);
        if (r < 0)
                return r;
        /* Only once the caller may adopt it: the answer names processes
         * that may be another user's. */
        if (!a->opts->force) {
                fill_result(a);
                r = check_shared_terminal(a);
        }
        return r;
}

void fill_result(struct adoption *a) {
        char path[32];
        ssize_t n;

        a->res->n_replaced = a->n_term;
        for (size_t i = 0; i < a->n_term; i++)
                a->res->replaced_fds[i] = a->term[i].fd;
        snprintf(path, sizeof(path), "fd/%d", a->term[0].fd);
        n = readlinkat(a->dirfd, path, a->res->old_tty, sizeof(a->res->old_tty) - 1);
        a->res->old_tty[n > 0 ? n : 0] = '\0';
}

int engine_identify(int pidfd, struct engine_target *target, struct engine_error *err) {
        static const struct engine_options none;
        struct engine_result res = {0};
        struct adoption a = {
                .pidfd = pidfd,
                .dirfd = -1,
                .opts = &none,
                .res = &res,
                .err = err,
        };
        int r;

        memset(err, 0, sizeof(*err));
        r = identify(&a);
        if (a.dirfd >= 0)
                close(a.dirfd);
        *target = res.target;
        /* Even a refusal names whom it refused. */
        target->pid = a.pid;
        if (!target->comm[0])
                snprintf(target->comm, sizeof(target->comm), "%s", a.stat.comm);
        return r;
}

int engine_inspect(int pidfd, const struct engine_options *opts, struct engine_inspection *out,
                   struct engine_error *err) {
        struct engine_result res = {.master_fd = -1};
        struct adoption a = {
                .pidfd = pidfd,
                .dirfd = -1,
                .opts = opts,
                .res = &res,
                .err = err,
                .t_master = -1,
                .master = -1,
        };
        int r;

        memset(out, 0, sizeof(*out));
        memset(err, 0, sizeof(*err));
        r = inspect(&a);
        /* Even a refusal names whom it refused, and what it runs. */
        out->pid = a.pid;
        out->target = res.target;
        out->personality = res.personality;
        if (r < 0)
                goto out;
        fill_result(&a);
        snprintf(out->old_tty, sizeof(out->old_tty), "%s", res.old_tty);
        out->n_fds = res.n_replaced;
        memcpy(out->fds, res.replaced_fds, res.n_replaced * sizeof(int));
        out->leader = a.leader;
        out->was_stopped = a.stat.state == 'T';
        out->threads = a.stat.num_threads > 0 ? (unsigned)a.stat.num_threads : 0;
out:
        if (a.dirfd >= 0)
                close(a.dirfd);
        return r;
}
