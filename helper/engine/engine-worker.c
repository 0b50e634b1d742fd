/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine-worker.h"
#include "util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* ---- the worker's side ---- */

static int worker_sock = -1;
static engine_proceed_t worker_next_proceed;

/* The engine's last look before its point of no return: a byte from the
 * parent, or its end closed (the parent died), means give up and undo. */
static int worker_proceed(void *userdata, struct engine_error *err) {
        struct pollfd p = {.fd = worker_sock, .events = POLLIN};

        if (poll(&p, 1, 0) != 0) {
                err->kind = ENGINE_ERR_FAILED;
                err->errnum = ECANCELED;
                snprintf(err->message, sizeof(err->message),
                         "the adoption was cancelled (its caller went away, or the helper is "
                         "stopping); the process was left as it was");
                return -ECANCELED;
        }
        return worker_next_proceed ? worker_next_proceed(userdata, err) : 0;
}

static int send_outcome(int sock, const struct engine_outcome *out) {
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control = {0};
        struct iovec iov = {.iov_base = (void *)out, .iov_len = sizeof(*out)};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

        if (out->r == 0 && out->res.master_fd >= 0) {
                struct cmsghdr *c;

                msg.msg_control = control.buf;
                msg.msg_controllen = sizeof(control.buf);
                c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &out->res.master_fd, sizeof(int));
        }
        return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(*out) ? 0 : -errno;
}

static _Noreturn void worker_main(enum engine_job job, int pidfd, int sock,
                                  const struct engine_options *opts,
                                  const struct engine_hangup_guard *guard) {
        static struct engine_outcome out;
        struct engine_options o = *opts;
        int p, s;

        /* Keep only the pidfd (3) and the socket (4): the worker must hold
         * nothing of the parent's (its bus connection, other requests'
         * pidfds and sockets, whose peers watch them for EOF). */
        p = fcntl(pidfd, F_DUPFD_CLOEXEC, 5);
        s = fcntl(sock, F_DUPFD_CLOEXEC, 5);
        if (p < 0 || s < 0 || dup3(p, 3, O_CLOEXEC) < 0 || dup3(s, 4, O_CLOEXEC) < 0)
                _exit(127);
        (void)syscall(SYS_close_range, 5U, ~0U, 0U);
        /* The engine waits for its tracees' stops and exits: SIGCHLD must
         * be plain, whatever the parent made of it (reptyrd lets the kernel
         * reap its workers, SA_NOCLDWAIT, which would hide a tracee's exit
         * status from us). */
        (void)sigaction(SIGCHLD, &(struct sigaction){.sa_handler = SIG_DFL}, NULL);
        worker_sock = 4;
        worker_next_proceed = o.proceed;
        o.proceed = worker_proceed;

        memset(&out, 0, sizeof(out));
        out.res.master_fd = -1;
        if (job == ENGINE_JOB_PROBE)
                out.r = engine_session_probe(3, &out.session, &out.err);
        else if (job == ENGINE_JOB_HANGUP_RELEASE)
                out.r = guard ? engine_hangup_release(3, guard, &o, &out.err) : -EINVAL;
        else if (job == ENGINE_JOB_INSPECT)
                out.r = engine_inspect(3, &o, &out.inspection, &out.err);
        else
                out.r = engine_adopt(3, &o, &out.res, &out.err);
        if (job == ENGINE_JOB_INSPECT && out.r == 0) {
                struct engine_error ignored;
                if (engine_session_probe(3, &out.session, &ignored) < 0)
                        memset(&out.session, 0, sizeof(out.session));
        }
        (void)send_outcome(4, &out);
        _exit(0);
}

/* ---- the parent's side ---- */

int engine_worker_start(enum engine_job job, int pidfd, const struct engine_options *opts,
                        const struct engine_hangup_guard *guard, struct engine_worker *w) {
        int sv[2];
        pid_t pid;

        *w = (struct engine_worker){.pid = -1, .pidfd = -1, .sock = -1};
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                close(sv[0]);
                worker_main(job, pidfd, sv[1], opts, guard);
        }
        close(sv[1]);
        w->pid = pid;
        w->sock = sv[0];
        /* Our own child: a zombie until we reap it, so never recycled
         * before this pidfd pins it (callers must not auto-reap children:
         * no SA_NOCLDWAIT, SIGCHLD not ignored). */
        w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (w->pidfd < 0) {
                int r = -errno;
                engine_worker_free(w);
                return r;
        }
        return 0;
}

void engine_worker_cancel(struct engine_worker *w) {
        if (w->sock < 0 || w->cancelled)
                return;
        w->cancelled = true;
        (void)send(w->sock, "c", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Collect the worker's exit status if it is there (wait: block until it
 * is). */
static void reap(struct engine_worker *w, siginfo_t *si, bool wait) {
        memset(si, 0, sizeof(*si));
        if (w->pidfd >= 0) {
                while (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, si,
                              WEXITED | (wait ? 0 : WNOHANG)) < 0 &&
                       errno == EINTR)
                        ;
                close(w->pidfd);
                w->pidfd = -1;
        }
        w->pid = -1;
}

int engine_worker_finish(struct engine_worker *w, struct engine_outcome *out) {
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = out, .iov_len = sizeof(*out)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        struct cmsghdr *c;
        siginfo_t si;
        ssize_t n;
        int fd = -1;

        n = recvmsg(w->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        /* A worker that exits with our cancel byte still unread (it only
         * polls for it) resets the connection: the kernel reports
         * ECONNRESET once, ahead of the outcome that is still queued. Read
         * again, or a cancelled adoption's outcome is lost: its "left as it
         * was" becomes "died before it reported", and one that passed its
         * point of no return loses its master (and its SIGHUP guard). */
        if (n < 0 && errno == ECONNRESET) {
                msg.msg_controllen = sizeof(control.buf);
                n = recvmsg(w->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        }
        for (c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                    c->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        reap(w, &si, true);
        close(w->sock);
        w->sock = -1;
        if (n == (ssize_t)sizeof(*out) && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                out->res.master_fd = out->r == 0 ? fd : -1;
                if (out->r != 0 && fd >= 0)
                        close(fd);
                return out->r;
        }
        if (fd >= 0)
                close(fd);
        memset(out, 0, sizeof(*out));
        out->res.master_fd = -1;
        out->r = -EPIPE;
        out->err.kind = ENGINE_ERR_FAILED;
        out->err.errnum = EPIPE;
        snprintf(out->err.message, sizeof(out->err.message),
                 "the worker doing this adoption died (%s %d) before it reported; the process "
                 "may have been left in the middle of being moved: check it with reptyrctl "
                 "inspect",
                 si.si_code == CLD_EXITED ? "exit status" : "signal", si.si_status);
        if (si.si_pid == 0)
                snprintf(out->err.message, sizeof(out->err.message),
                         "the worker doing this adoption died before it reported; the process "
                         "may have been left in the middle of being moved: check it with "
                         "reptyrctl inspect");
        return out->r;
}

int engine_worker_abandon(struct engine_worker *w) {
        siginfo_t si = {0};
        int fd = -1;

        if (w->pidfd >= 0) {
                (void)syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
                /* Never blocks: one that is not dead yet (it may sit in an
                 * uninterruptible wait for a moment) is left to the caller
                 * to reap once its pidfd turns readable. */
                if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) == 0 &&
                    si.si_pid == 0)
                        fd = TAKE_FD(w->pidfd);
                else
                        reap(w, &si, false);
        }
        if (w->sock >= 0)
                close(w->sock);
        w->sock = -1;
        w->pid = -1;
        return fd;
}

void engine_worker_free(struct engine_worker *w) {
        int fd = engine_worker_abandon(w);
        siginfo_t si;

        /* For callers without an event loop: wait for the killed worker. */
        if (fd >= 0) {
                while (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
                close(fd);
        }
}

int engine_run_isolated(enum engine_job job, int pidfd, const struct engine_options *opts,
                        const struct engine_hangup_guard *guard, unsigned timeout_ms,
                        struct engine_outcome *out) {
        struct engine_worker w;
        struct pollfd p;
        int r;

        r = engine_worker_start(job, pidfd, opts, guard, &w);
        if (r < 0) {
                memset(out, 0, sizeof(*out));
                out->res.master_fd = -1;
                out->r = r;
                out->err.kind = ENGINE_ERR_FAILED;
                out->err.errnum = -r;
                snprintf(out->err.message, sizeof(out->err.message),
                         "cannot start a worker process: %s", strerror(-r));
                return r;
        }
        p = (struct pollfd){.fd = w.pidfd, .events = POLLIN};
        do
                r = poll(&p, 1, (int)timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
                engine_worker_free(&w);
                memset(out, 0, sizeof(*out));
                out->res.master_fd = -1;
                out->r = -ETIMEDOUT;
                out->err.kind = ENGINE_ERR_FAILED;
                out->err.errnum = ETIMEDOUT;
                snprintf(out->err.message, sizeof(out->err.message),
                         "the adoption did not finish within %u ms and was stopped; the process "
                         "may have been left in the middle of being moved: check it with "
                         "reptyrctl inspect",
                         timeout_ms);
                return out->r;
        }
        return engine_worker_finish(&w, out);
}
