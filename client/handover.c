/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "handover.h"
#include "util.h"

static int wait_readable(int fd, int timeout_ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n;

        do
                n = poll(&p, 1, timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return n == 0 ? -ETIMEDOUT : 0;
}

int handover_listen(struct handover_listener *l) {
        const char *base = getenv("XDG_RUNTIME_DIR");
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;

        *l = (struct handover_listener){.fd = -1};
        /* Only a runtime directory that is really ours; else /tmp, where
         * mkdtemp() makes a directory nobody else can enter. */
        if (!base || base[0] != '/' || stat(base, &st) < 0 || st.st_uid != getuid() ||
            (st.st_mode & 077))
                base = "/tmp";
        snprintf(l->dir, sizeof(l->dir), "%s/reptyrctl-XXXXXX", base);
        if (!mkdtemp(l->dir)) {
                l->dir[0] = '\0';
                return -errno;
        }
        snprintf(l->path, sizeof(l->path), "%s/handover", l->dir);
        if (strlen(l->path) >= sizeof(sa.sun_path)) {
                handover_close(l);
                return -ENAMETOOLONG;
        }
        memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
        l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(l->fd, 1) < 0) {
                int r = -errno;
                handover_close(l);
                return r;
        }
        return 0;
}

int handover_accept(struct handover_listener *l, int timeout_ms) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int r, fd;

        r = wait_readable(l->fd, timeout_ms);
        if (r < 0)
                return r;
        fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* The directory already keeps others out; this is the second lock. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
                close(fd);
                return -EPERM;
        }
        return fd;
}

void handover_close(struct handover_listener *l) {
        if (l->fd >= 0)
                close(l->fd);
        l->fd = -1;
        if (l->path[0])
                (void)unlink(l->path);
        if (l->dir[0])
                (void)rmdir(l->dir);
        l->path[0] = l->dir[0] = '\0';
}

int handover_send(int conn, const struct handover_info *info, int pidfd, int master,
                  int timeout_ms) {
        union {
                char buf[CMSG_SPACE(2 * sizeof(int))];
                struct cmsghdr align;
        } control = {0};
        struct iovec iov = {.iov_base = (void *)info, .iov_len = sizeof(*info)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        int fds[2] = {pidfd, master}, r;
        char ack;

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(c), fds, sizeof(fds));
        if (sendmsg(conn, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(*info))
                return -errno;
        r = wait_readable(conn, timeout_ms);
        if (r < 0)
                return r;
        return recv(conn, &ack, 1, 0) == 1 && ack == 'k' ? 0 : -EPIPE;
}

int handover_receive(const char *path, struct handover_info *info, int *ret_pidfd,
                     int *ret_master) {
        union {
                char buf[CMSG_SPACE(2 * sizeof(int))];
                struct cmsghdr align;
        } control;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct iovec iov = {.iov_base = info, .iov_len = sizeof(*info)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        _cleanup_close_ int fd = -1;
        int fds[2] = {-1, -1};
        ssize_t n;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        do
                n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                    c->cmsg_len == CMSG_LEN(sizeof(fds)))
                        memcpy(fds, CMSG_DATA(c), sizeof(fds));
        if (n != (ssize_t)sizeof(*info) || fds[0] < 0 || fds[1] < 0 ||
            (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                if (fds[0] >= 0)
                        close(fds[0]);
                if (fds[1] >= 0)
                        close(fds[1]);
                return -EPIPE;
        }
        info->comm[sizeof(info->comm) - 1] = '\0';
        info->tty[sizeof(info->tty) - 1] = '\0';
        info->old_tty[sizeof(info->old_tty) - 1] = '\0';
        if (send(fd, "k", 1, MSG_NOSIGNAL) != 1) {
                close(fds[0]);
                close(fds[1]);
                return -EPIPE;
        }
        *ret_pidfd = fds[0];
        *ret_master = fds[1];
        return 0;
}
