/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "exit-status.h"
#include "util.h"

/* struct pidfd_info as of Linux 6.15 (PIDFD_INFO_SIZE_VER0, 64 bytes), under
 * our own name: system headers may lack it, or carry a longer version. The
 * kernel takes the size from the ioctl number, so this layout keeps working
 * on newer kernels. */
struct pidfd_info_v0 {
        __u64 mask;
        __u64 cgroupid;
        __u32 pid, tgid, ppid;
        __u32 ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        __s32 exit_code; /* a wait status, valid with PIDFD_INFO_EXIT */
};
_Static_assert(sizeof(struct pidfd_info_v0) == 64, "PIDFD_INFO_SIZE_VER0 is 64 bytes");

#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_EXIT_BIT (1ULL << 3)

int exit_status_parse_stat(const char *text, int *ret_status, char *ret_state,
                           unsigned long *ret_flags) {
        const char *p = strrchr(text, ')');
        long v = 0;

        if (!p)
                return -EINVAL;
        /* Fields after the comm: 3 (state) .. 52 (exit_code). */
        for (int field = 3; field <= 52; field++) {
                char *end;

                while (*++p == ' ')
                        ;
                if (!*p || *p == '\n')
                        return -EINVAL;
                if (field == 3)
                        *ret_state = *p;
                if (field == 9)
                        *ret_flags = strtoul(p, NULL, 10);
                if (field == 52) {
                        errno = 0;
                        v = strtol(p, &end, 10);
                        if (errno || end == p || (*end && *end != ' ' && *end != '\n'))
                                return -EINVAL;
                        break;
                }
                p = strchr(p, ' ');
                if (!p)
                        return -EINVAL;
                p--;
        }
        if (v < 0 || v > 0xffff)
                return -EINVAL;
        *ret_status = (int)v;
        return 0;
}

/* The kernel shows exit_code only to whoever may ptrace-read the process
 * (otherwise a 0 that means nothing): for a zombie, which has no memory map,
 * that is root or a reader whose uid and gid are all of its uids and gids. */
static bool may_read_exit_code(int proc_dirfd) {
        char buf[4096];
        const char *u, *g;
        unsigned uid[4], gid[4];
        ssize_t n;
        int fd;

        if (geteuid() == 0)
                return true;
        fd = openat(proc_dirfd, "status", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        u = strstr(buf, "\nUid:");
        g = strstr(buf, "\nGid:");
        if (!u || !g || sscanf(u + 5, "%u %u %u %u", &uid[0], &uid[1], &uid[2], &uid[3]) != 4 ||
            sscanf(g + 5, "%u %u %u %u", &gid[0], &gid[1], &gid[2], &gid[3]) != 4)
                return false;
        for (int i = 0; i < 3; i++)
                if (uid[i] != getuid() || gid[i] != getgid())
                        return false;
        return true;
}

/* The stat of the process: its state, flags and exit code. */
static int read_stat(int proc_dirfd, int *ret_status, char *ret_state, unsigned long *ret_flags) {
        char buf[2048];
        ssize_t n;
        int fd;

        if (proc_dirfd < 0)
                return -EBADF;
        fd = openat(proc_dirfd, "stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return n < 0 ? -errno : -ESRCH;
        buf[n] = '\0';
        return exit_status_parse_stat(buf, ret_status, ret_state, ret_flags) < 0 ? -EINVAL : 0;
}

#define PF_EXITING_FLAG 0x00000004UL

int exit_status_early(int proc_dirfd, int *ret_status) {
        unsigned long flags = 0;
        char state = 0;
        int r = read_stat(proc_dirfd, ret_status, &state, &flags);

        if (r < 0)
                return r;
        if (!(flags & PF_EXITING_FLAG) && state != 'Z' && state != 'X')
                return -EAGAIN;
        return may_read_exit_code(proc_dirfd) ? 0 : -EPERM;
}

static int from_zombie(int proc_dirfd, int *ret_status) {
        unsigned long flags = 0;
        char state = 0;
        int r = read_stat(proc_dirfd, ret_status, &state, &flags);

        if (r < 0)
                return r;
        /* Only a zombie's exit_code is final. */
        if (state != 'Z' && state != 'X')
                return -EAGAIN;
        return may_read_exit_code(proc_dirfd) ? 0 : -EPERM;
}

static int from_pidfd(int pidfd, int *ret_status) {
        struct pidfd_info_v0 info = {.mask = PIDFD_INFO_EXIT_BIT};

        if (ioctl(pidfd, PIDFD_GET_INFO_V0, &info) < 0)
                return -errno;
        if (!(info.mask & PIDFD_INFO_EXIT_BIT))
                return -ENODATA;
        *ret_status = info.exit_code;
        return 0;
}

enum exit_status_source exit_status_collect(int pidfd, int proc_dirfd, int early,
                                            int reap_timeout_ms, int *ret_status) {
        int k, n, z;

        z = from_zombie(proc_dirfd, ret_status);
        if (z == 0)
                return EXIT_STATUS_FROM_ZOMBIE;
        k = from_pidfd(pidfd, ret_status);
        if (k == 0)
                return EXIT_STATUS_FROM_PIDFD;
        if (early >= 0) {
                *ret_status = early;
                return EXIT_STATUS_FROM_EXIT;
        }
        if (k == -ENOTTY || k == -EINVAL) /* no PIDFD_GET_INFO: Linux < 6.13 */
                return z == -EPERM ? EXIT_STATUS_HIDDEN : EXIT_STATUS_UNKNOWN;
        /* Linux >= 6.13 without the status yet: it is recorded when the
         * parent reaps, a moment after the pidfd turned readable. The pidfd
         * reports POLLHUP once reaped; polling for no events waits for that
         * alone. */
        do
                n = poll(&(struct pollfd){.fd = pidfd, .events = 0}, 1, reap_timeout_ms);
        while (n < 0 && errno == EINTR);
        if (from_zombie(proc_dirfd, ret_status) == 0)
                return EXIT_STATUS_FROM_ZOMBIE;
        if (from_pidfd(pidfd, ret_status) == 0)
                return EXIT_STATUS_FROM_PIDFD;
        return z == -EPERM ? EXIT_STATUS_HIDDEN : EXIT_STATUS_UNKNOWN;
}
