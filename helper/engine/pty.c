/* SPDX-License-Identifier: MIT */
/*
 * The new pty: the target opens /dev/ptmx itself and gets the slave with
 * TIOCGPTPEER (its uid, its mount namespace, no path lookup of the slave);
 * we take the master with pidfd_getfd and give it the old terminal's modes.
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

int build_pty(struct adoption *a) {
        unsigned char data[SCR_SIGINFO] = {0};
        uint64_t s;
        long v;
        int r;

        if ((r = checkpoint(a)) < 0 || (r = remote_scratch_map(&a->r)) < 0)
                return step_error(a, "mapping scratch memory", r);
        s = a->r.scratch;
        memcpy(data + SCR_PTMX, "/dev/ptmx", 10);
        memcpy(data + SCR_DEVTTY, "/dev/tty", 9);
        r = remote_write(&a->r, s, data, sizeof(data));
        if (r < 0)
                return step_error(a, "writing scratch memory", r);

        /* ioctl numbers and open flags are those of our own ABI: the same
         * for every personality this build adopts (x86_64 and i386). */
        if ((r = checkpoint(a)) < 0)
                return step_error(a, "opening /dev/ptmx", r);
        v = rcall(a, ARCH_SYS_OPENAT, (uint64_t)(int64_t)AT_FDCWD, s + SCR_PTMX,
                  O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
        if ((r = do_step(a, "opening /dev/ptmx in it", v)) < 0)
                return r;
        a->t_master = v;

        /* Our own copy of the master: the pty is unlocked from here, which
         * costs the target nothing. */
        if ((r = checkpoint(a)) < 0)
                return step_error(a, "taking the pty master", r);
        a->master = (int)syscall(SYS_pidfd_getfd, a->pidfd, (int)a->t_master, 0);
        if (a->master < 0)
                return step_error(a, "taking the pty master", -errno);
        /* "/dev/ptmx" was looked up in the target's mount namespace, which
         * its owner may control: make sure it is the real multiplexer
         * before we (perhaps root) issue a single ioctl on it. */
        {
                struct stat st;
                if (fstat(a->master, &st) < 0 || !S_ISCHR(st.st_mode) ||
                    st.st_rdev != makedev(5, 2))
                        return step_error(a, "opening /dev/ptmx in it (not the pty multiplexer)",
                                          -ENOTTY);
        }
        if (ioctl(a->master, TIOCSPTLCK, &(int){0}) < 0)
                return step_error(a, "unlocking the new pty", -errno);

        /* One slave open file per distinct set of the old fds' status
         * flags, so that e.g. an O_NONBLOCK stdin stays non-blocking. */
        for (size_t i = 0; i < a->n_term; i++) {
                unsigned fl = a->term[i].flags & (O_ACCMODE | O_NONBLOCK | O_APPEND);
                size_t k;

                for (k = 0; k < a->n_slaves; k++)
                        if (a->slave_flags[k] == fl)
                                break;
                if (k == a->n_slaves) {
                        if (k == MAX_SLAVES)
                                return step_error(a, "opening the new terminal", -E2BIG);
                        if ((r = checkpoint(a)) < 0)
                                return step_error(a, "opening the new terminal", r);
                        /* No O_CLOEXEC: it would stick to the open file's
                         * flags (fdinfo shows it for every fd we dup from
                         * it); dup3 sets each fd's own close-on-exec bit. */
                        v = rcall(a, ARCH_SYS_IOCTL, (uint64_t)a->t_master, TIOCGPTPEER,
                                  fl | O_NOCTTY, 0);
                        if ((r = do_step(a, "opening the new terminal", v)) < 0)
                                return r;
                        a->t_slave[k] = v;
                        a->slave_flags[k] = fl;
                        a->n_slaves++;
                }
                a->term[i].slave = (int)k;
        }
        /* The target needs its copy of the master no more. Ours is then the
         * only one: should we die from here on, the new terminal dies with
         * us, which the target hears as a hangup, instead of sitting on a
         * pty whose master only it holds and nobody can reach. */
        v = rcall(a, ARCH_SYS_CLOSE, (uint64_t)a->t_master, 0, 0, 0);
        if (!remote_failed(v))
                a->t_master = -1;
        return 0;
}

/* Terminal modes of the old terminal and the client's size, applied from
 * our side through the master (termios ioctls on a master act on the
 * slave). Best effort: a hung-up old terminal has no modes to copy. */
void configure_pty(struct adoption *a) {
        int old = (int)syscall(SYS_pidfd_getfd, a->pidfd, a->term[0].fd, 0);
        struct termios tio;
        struct winsize ws = {0};
        unsigned n;

        if (old >= 0) {
                /* The old terminal's modes are the target's own only while
                 * it is the foreground job; otherwise (stopped or background
                 * job) they belong to the shell that took the terminal back
                 * (raw, no echo), and the new pty's sane defaults are the
                 * better guess. */
                if (a->stat.tpgid == a->stat.pgrp && tcgetattr(old, &tio) == 0)
                        (void)tcsetattr(a->master, TCSANOW, &tio);
                (void)ioctl(old, TIOCGWINSZ, &ws);
                close(old);
        }
        a->old_ws = ws;
        if (a->opts->rows && a->opts->cols) {
                ws.ws_row = a->opts->rows;
                ws.ws_col = a->opts->cols;
        }
        /* The size is not set yet: the new pty stays 0x0 until it is the
         * target's terminal, so that setting it then is a change the
         * kernel signals (SIGWINCH to its foreground group). */
        a->final_ws = ws;
        if (ioctl(a->master, TIOCGPTN, &n) == 0)
                snprintf(a->res->tty, sizeof(a->res->tty), "/dev/pts/%u", n);
}
