/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

int proc_parse_stat(const char *text, struct proc_stat *st) {
        const char *open = strchr(text, '('), *close = strrchr(text, ')');
        size_t len;
        int n;

        if (!open || !close || close < open)
                return -EINVAL;
        len = (size_t)(close - open - 1);
        if (len >= sizeof(st->comm))
                len = sizeof(st->comm) - 1;
        memcpy(st->comm, open + 1, len);
        st->comm[len] = '\0';

        /* Fields 3..22: state ppid pgrp session tty_nr tpgid flags minflt
         * cminflt majflt cmajflt utime stime cutime cstime priority nice
         * num_threads itrealvalue starttime; 23..25 we skip, 26 is
         * startcode, 27 we skip, 28 is startstack, 29..38 we skip, and 39
         * is the processor. */
        st->processor = -1;
        st->start_code = st->start_stack = 0;
        n = sscanf(close + 1,
                   " %c %d %d %d %u %d %lu %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld %*d %llu"
                   " %*s %*s %*s %llu %*s %llu %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %d",
                   &st->state, &st->ppid, &st->pgrp, &st->session, &st->tty_nr, &st->tpgid,
                   &st->flags, &st->num_threads, &st->starttime, &st->start_code, &st->start_stack,
                   &st->processor);
        return n >= 9 ? 0 : -EINVAL;
}

static int parse_ids(const char *line, unsigned out[4]) {
        return sscanf(line, "%u %u %u %u", &out[0], &out[1], &out[2], &out[3]) == 4 ? 0 : -EINVAL;
}

int proc_parse_status(const char *text, struct proc_status *st) {
        unsigned seen = 0;

        memset(st, 0, sizeof(*st));
        for (const char *line = text; line && *line;
             line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                const char *v = strchr(line, ':');
                if (!v)
                        continue;
                v++;
#define FIELD(name) (strncmp(line, name ":", sizeof(name)) == 0)
                if (FIELD("Uid")) {
                        if (parse_ids(v, (unsigned *)st->uid) < 0)
                                return -EINVAL;
                        seen |= 1;
                } else if (FIELD("Gid")) {
                        if (parse_ids(v, (unsigned *)st->gid) < 0)
                                return -EINVAL;
                        seen |= 2;
                } else if (FIELD("Seccomp")) {
                        st->seccomp = atoi(v);
                        seen |= 4;
                } else if (FIELD("TracerPid")) {
                        st->tracer_pid = atoi(v);
                        seen |= 8;
                } else if (FIELD("SigPnd")) {
                        st->sig_pnd = strtoull(v, NULL, 16);
                        seen |= 16;
                } else if (FIELD("ShdPnd")) {
                        st->shd_pnd = strtoull(v, NULL, 16);
                } else if (FIELD("SigBlk")) {
                        st->sig_blk = strtoull(v, NULL, 16);
                } else if (FIELD("SigIgn")) {
                        st->sig_ign = strtoull(v, NULL, 16);
                } else if (FIELD("SigCgt")) {
                        st->sig_cgt = strtoull(v, NULL, 16);
                } else if (FIELD("CapEff")) {
                        st->cap_eff = strtoull(v, NULL, 16);
                } else if (FIELD("CapPrm")) {
                        st->cap_prm = strtoull(v, NULL, 16);
                } else if (FIELD("voluntary_ctxt_switches")) {
                        st->nvcsw = strtoull(v, NULL, 10);
                }
#undef FIELD
        }
        /* Fail closed: a status without the fields we decide on is not one
         * we understand. */
        return seen == 31 ? 0 : -EINVAL;
}

bool proc_pidfd_alive(int pidfd) {
        /* EPERM still proves it exists: we may merely not signal it. */
        return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM;
}

int proc_open(int pidfd, pid_t pid, int *ret_dirfd) {
        char path[32];
        int fd;

        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        /* The directory was opened after the pidfd; if the pidfd's process
         * is still alive now, its pid cannot have been reused in between. */
        if (!proc_pidfd_alive(pidfd)) {
                close(fd);
                return -ESRCH;
        }
        *ret_dirfd = fd;
        return 0;
}

ssize_t proc_read(int dirfd, const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = 0;

        if (fd < 0)
                return -errno;
        while (len + 1 < size) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        return (ssize_t)len;
}

int proc_read_stat(int dirfd, struct proc_stat *st) {
        char buf[1024];
        ssize_t n = proc_read(dirfd, "stat", buf, sizeof(buf));

        if (n < 0)
                return n == -ENOENT ? -ESRCH : (int)n;
        if (n == 0)
                return -ESRCH;
        return proc_parse_stat(buf, st);
}

int proc_read_status(int dirfd, struct proc_status *st) {
        char buf[4096];
        ssize_t n = proc_read(dirfd, "status", buf, sizeof(buf));

        if (n < 0)
                return n == -ENOENT ? -ESRCH : (int)n;
        return proc_parse_status(buf, st);
}

pid_t proc_name_to_pid(const char *name) {
        char *end;
        long v;

        if (!name[0] || name[0] < '1' || name[0] > '9')
                return -1;
        errno = 0;
        v = strtol(name, &end, 10);
        if (errno || *end || v <= 0 || v > INT32_MAX)
                return -1;
        return (pid_t)v;
}

dev_t proc_tty_nr_to_dev(unsigned tty_nr) {
        /* new_encode_dev(): minor's low byte, major, then minor's high bits */
        return makedev((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
}

dev_t proc_kdev_to_dev(unsigned long kdev) {
        /* fdinfo's sdev is a raw kernel dev_t (major << 20 | minor);
         * stat's tty_nr is new_encode_dev()'d: proc_tty_nr_to_dev(). */
        return makedev((unsigned)(kdev >> 20), (unsigned)(kdev & 0xfffff));
}

int proc_parse_tty_index(const char *fdinfo) {
        const char *p = strstr(fdinfo, "tty-index:");
        return p ? atoi(p + 10) : -1;
}

unsigned proc_parse_fdinfo_flags(const char *text) {
        const char *f = strstr(text, "flags:");
        return f ? (unsigned)strtoul(f + 6, NULL, 8) : 0;
}

ssize_t proc_list_fds(int piddir, struct proc_fd **ret) {
        _cleanup_close_ int fddir = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int infodir = -1;
        _cleanup_free_ struct proc_fd *fds = NULL;
        size_t n = 0, cap = 0;
        DIR *d;
        struct dirent *de;

        if (fddir < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        infodir = openat(piddir, "fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (infodir < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        d = fdopendir(fddir);
        if (!d)
                return -errno;
        fddir = -1; /* owned by d now */

        while ((errno = 0, de = readdir(d))) {
                struct stat st;
                char link[64], info[4096];
                pid_t fd = proc_name_to_pid(de->d_name);
                ssize_t len;

                if (de->d_name[0] == '0' && de->d_name[1] == '\0')
                        fd = 0;
                if (fd < 0)
                        continue;
                /* stat through the magic link: the open file itself. A fd
                 * closed meanwhile is simply not there any more. */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
                        continue;
                if (n == cap) {
                        struct proc_fd *nf;
                        cap = cap ? cap * 2 : 16;
                        nf = realloc(fds, cap * sizeof(*fds));
                        if (!nf) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        fds = nf;
                }
                fds[n] = (struct proc_fd){
                        .fd = fd,
                        .rdev = st.st_rdev,
                        .dev = st.st_dev,
                        .ino = st.st_ino,
                        .mode = st.st_mode,
                };
                len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
                if (len > 0) {
                        link[len] = '\0';
                        fds[n].is_epoll = strcmp(link, "anon_inode:[eventpoll]") == 0;
                }
                if (proc_read(infodir, de->d_name, info, sizeof(info)) >= 0)
                        fds[n].flags = proc_parse_fdinfo_flags(info);
                n++;
        }
        if (errno) {
                int r = -errno;
                closedir(d);
                return r;
        }
        closedir(d);
        *ret = TAKE_PTR(fds);
        return (ssize_t)n;
}

int proc_tty_use(int piddir, dev_t rdev, dev_t dev, int pty_index, struct proc_tty_use *u) {
        _cleanup_close_ int fddir = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        *u = (struct proc_tty_use){0};
        if (fddir < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        d = fdopendir(fddir);
        if (!d)
                return -errno;
        fddir = -1; /* owned by d now */
        while ((errno = 0, de = readdir(d))) {
                char link[64];
                struct stat st;
                ssize_t len;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                /* Sockets, pipes and anonymous inodes are most of a
                 * process's fds and never a terminal: skip their stat. */
                len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
                if (len <= 0 || link[0] != '/')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISCHR(st.st_mode))
                        continue;
                if (st.st_rdev == rdev && (dev == 0 || st.st_dev == dev))
                        u->n_on_dev++;
                else if (pty_index >= 0 && st.st_rdev == makedev(5, 2) && !u->holds_master) {
                        char path[300], info[1024];
                        const char *p;

                        snprintf(path, sizeof(path), "fdinfo/%s", de->d_name);
                        if (proc_read(piddir, path, info, sizeof(info)) >= 0 &&
                            (p = strstr(info, "tty-index:")) && atoi(p + 10) == pty_index)
                                u->holds_master = true;
                }
        }
        closedir(d);
        return 0;
}

ssize_t proc_parse_epoll(const char *text, struct proc_epoll_entry *out, size_t max) {
        size_t n = 0;

        for (const char *p = strstr(text, "tfd:"); p; p = strstr(p + 4, "tfd:")) {
                int tfd;
                unsigned events;
                unsigned long long data;
                unsigned long ino, sdev = 0;
                const char *s;

                if (sscanf(p, "tfd: %d events: %x data: %llx pos:%*u ino:%lx sdev:%lx", &tfd,
                           &events, &data, &ino, &sdev) < 4)
                        return -EINVAL;
                s = strstr(p, "sdev:");
                if (s)
                        sdev = strtoul(s + 5, NULL, 16);
                if (n == max)
                        return -E2BIG;
                out[n++] = (struct proc_epoll_entry){
                        .tfd = tfd,
                        .events = events,
                        .data = data,
                        .ino = ino,
                        .dev = proc_kdev_to_dev(sdev),
                };
        }
        return (ssize_t)n;
}

size_t proc_epoll_watches(int dirfd, const struct proc_fd *fds, size_t n,
                          const struct proc_fd *targets, size_t n_targets,
                          struct proc_epoll_watch *out, size_t max) {
        size_t found = 0;

        for (size_t i = 0; i < n; i++) {
                char path[32], text[8192];
                struct proc_epoll_entry e[64];
                ssize_t m;

                if (!fds[i].is_epoll)
                        continue;
                snprintf(path, sizeof(path), "fdinfo/%d", fds[i].fd);
                if (proc_read(dirfd, path, text, sizeof(text)) < 0)
                        continue;
                m = proc_parse_epoll(text, e, ELEMENTSOF(e));
                for (ssize_t j = 0; j < m; j++)
                        for (size_t k = 0; k < n_targets && found < max; k++)
                                if (e[j].tfd == targets[k].fd && e[j].ino == targets[k].ino &&
                                    e[j].dev == targets[k].dev)
                                        out[found++] = (struct proc_epoll_watch){
                                                .epfd = fds[i].fd,
                                                .e = e[j],
                                        };
        }
        return found;
}

int proc_for_each_pid(int base, const char *path, proc_pid_cb cb, void *userdata) {
        int fd = openat(base, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                pid_t pid = proc_name_to_pid(de->d_name);
                if (pid < 0)
                        continue;
                r = cb(pid, dirfd(d), userdata);
                if (r < 0)
                        break;
        }
        if (r == 0 && errno)
                r = -errno;
        closedir(d);
        return r;
}
