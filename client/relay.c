/* SPDX-License-Identifier: MIT */
/*
 * The relay between reptyrctl's own terminal and the adopted pty master.
 *
 * One poll loop over: a signalfd (all signals we act on are blocked, so no
 * work ever happens in an async signal handler), the target's pidfd (readable
 * when it exits), stdin, the master and stdout. Each direction has one 64 KiB
 * buffer that is only refilled once empty: no copying, no per-byte work except
 * one memchr() for the adopted terminal's suspend character.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "exit-status.h"
#include "relay.h"
#include "util.h"

#define RELAY_BUFFER_SIZE (64 * 1024)

/* After the target exited, whoever else still holds the slave (a background
 * child of the target) may keep writing: stop draining after this much. The
 * pty itself never buffers more than about 64 KiB. */
#define DRAIN_MAX (1024 * 1024)

/* Once the target exited: how long to wait for its parent's reap when
 * neither its zombie nor its pidfd tells the status (Linux 6.13, 6.14). */
#define REAP_TIMEOUT_MS 2000

/* The target's fds are closed in do_exit() just before its exit is signalled
 * on the pidfd: a hangup on the master is usually followed by that at once. */
#define EXIT_AFTER_HANGUP_TIMEOUT_MS 1000

struct buffer {
        size_t off, len;      /* pending bytes are data[off, len) */
        size_t stop;          /* write no further than this for now */
        bool suspend_at_stop; /* data[stop - 1] is the suspend character */
        char data[RELAY_BUFFER_SIZE];
};

struct relay {
        int master_fd, pidfd, proc_dirfd, signal_fd;
        struct termios saved, raw;
        int saved_in_flags, saved_out_flags;
        bool raw_active;
        bool target_suspended; /* we stopped its foreground group: continue it on resume */
        bool job_control;      /* emulate ^Z/fg (process mode) */
        struct buffer to_master, to_terminal;
};

/* For the atexit() handler: whatever exits the process restores the terminal. */
static struct relay *relay_active;

static void relay_signal_set(sigset_t *set) {
        sigemptyset(set);
        sigaddset(set, SIGHUP);
        sigaddset(set, SIGINT);
        sigaddset(set, SIGQUIT);
        sigaddset(set, SIGTERM);
        sigaddset(set, SIGTSTP);
        /* Blocking SIGCONT does not keep it from continuing us; it only
         * queues it, so the loop learns that we were stopped. */
        sigaddset(set, SIGCONT);
        sigaddset(set, SIGWINCH);
}

int relay_block_signals(void) {
        sigset_t set;

        relay_signal_set(&set);
        return sigprocmask(SIG_BLOCK, &set, NULL) < 0 ? -errno : 0;
}

/* Raw mode and O_NONBLOCK on stdin/stdout. Both flags are read before either
 * is changed: stdin and stdout are usually one open file description, shared
 * with the shell, and must get their original flags back. */
static int terminal_enter_raw(struct relay *r) {
        if (!r->raw_active) {
                if (tcgetattr(STDIN_FILENO, &r->saved) < 0)
                        return -errno;
                r->raw = r->saved;
                cfmakeraw(&r->raw);
                r->saved_in_flags = fcntl(STDIN_FILENO, F_GETFL);
                r->saved_out_flags = fcntl(STDOUT_FILENO, F_GETFL);
                if (r->saved_in_flags < 0 || r->saved_out_flags < 0)
                        return -errno;
                r->raw_active = true;
        }
        /* From a background job this stops us with SIGTTOU (left at its
         * default on purpose) until the user brings us to the foreground. */
        if (tcsetattr(STDIN_FILENO, TCSANOW, &r->raw) < 0)
                return -errno;
        if (fcntl(STDIN_FILENO, F_SETFL, r->saved_in_flags | O_NONBLOCK) < 0 ||
            fcntl(STDOUT_FILENO, F_SETFL, r->saved_out_flags | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

/* Async-signal-safe, idempotent: called from every way out. TCSANOW rather
 * than TCSADRAIN: on the way out we must not block on a terminal that is not
 * being read any more. */
static void terminal_restore(struct relay *r) {
        int saved_errno = errno;

        if (!r->raw_active)
                return;
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &r->saved);
        (void)fcntl(STDIN_FILENO, F_SETFL, r->saved_in_flags);
        (void)fcntl(STDOUT_FILENO, F_SETFL, r->saved_out_flags);
        r->raw_active = false;
        errno = saved_errno;
}

static void relay_atexit(void) {
        if (relay_active)
                terminal_restore(relay_active);
}

/* Best effort: a size that cannot be read or set only makes the picture
 * wrong, never the data. TIOCSWINSZ sends SIGWINCH to the adopted
 * foreground group itself when the size changes. */
static void forward_window_size(struct relay *r) {
        struct winsize ws;

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
                (void)ioctl(r->master_fd, TIOCSWINSZ, &ws);
}

/* The adopted terminal's foreground group is what ^Z stops there: the target's
 * group, or a job the target started. TIOCGPGRP on a master reports the slave
 * side's group. Fall back to the target alone. */
static void signal_adopted_foreground(struct relay *r, int sig) {
        pid_t pgrp = tcgetpgrp(r->master_fd);

        if (pgrp > 0 && kill(-pgrp, sig) == 0)
                return;
        (void)syscall(SYS_pidfd_send_signal, r->pidfd, sig, NULL, 0);
}

/* Stop the adopted foreground job. The target leads the adopted terminal's
 * session (adoption makes it so) and its parent is outside that session, so
 * its process group is orphaned, and Linux discards SIGTSTP sent to an
 * orphaned group, be it from the line discipline on ^Z or from kill(). Only
 * SIGSTOP stops such a group; a job the target runs in a group of its own
 * (a shell's job) is not orphaned and stops on SIGTSTP like on any terminal. */
static void stop_adopted_foreground(struct relay *r, bool send_tstp) {
        pid_t pgrp = tcgetpgrp(r->master_fd);

        if (send_tstp)
                signal_adopted_foreground(r, SIGTSTP);
        if (pgrp <= 0 || pgrp == tcgetsid(r->master_fd))
                signal_adopted_foreground(r, SIGSTOP);
}

static _Noreturn void die_by_signal(struct relay *r, int sig) {
        sigset_t set;

        terminal_restore(r);
        /* Die the way the sender meant, so that our parent sees the signal. */
        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        (void)sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        _exit(128 + sig);
}

/* Stop ourselves as a job: the user's shell sees reptyrctl stopped and gets
 * the terminal back. Returns once we are continued. */
static void stop_self(void) {
        sigset_t tstp;

        sigemptyset(&tstp);
        sigaddset(&tstp, SIGTSTP);
        /* A SIGTSTP already queued would stop us a second time right after fg. */
        while (sigtimedwait(&tstp, NULL, &(struct timespec){0}) > 0)
                ;
        signal(SIGTSTP, SIG_DFL);
        (void)sigprocmask(SIG_UNBLOCK, &tstp, NULL);
        raise(SIGTSTP);
        (void)sigprocmask(SIG_BLOCK, &tstp, NULL);
}

static int relay_resume(struct relay *r) {
        int k = terminal_enter_raw(r);

        if (k < 0)
                return k;
        forward_window_size(r);
        if (r->target_suspended) {
                signal_adopted_foreground(r, SIGCONT);
                /* Full-screen programs redraw on SIGWINCH; TIOCSWINSZ only
                 * sends it when the size changed while we were stopped. */
                signal_adopted_foreground(r, SIGWINCH);
                r->target_suspended = false;
        }
        return 0;
}

/* Job control emulation. The adopted job gets SIGTSTP from its own line
 * discipline when the suspend char was just written to the master, or from
 * us for a SIGTSTP sent to reptyrctl; then we stop like any job would. */
static int relay_suspend(struct relay *r, bool send_tstp) {
        stop_adopted_foreground(r, send_tstp);
        r->target_suspended = true;
        terminal_restore(r);
        stop_self();
        return relay_resume(r);
}

static int handle_signals(struct relay *r) {
        struct signalfd_siginfo si[8];

        for (;;) {
                ssize_t n = read(r->signal_fd, si, sizeof si);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
                        int k = 0;
                        switch (si[i].ssi_signo) {
                        case SIGWINCH:
                                forward_window_size(r);
                                break;
                        case SIGCONT:
                                /* Continued after a stop we did not make
                                 * (SIGSTOP) or after our own (then this is a
                                 * no-op): the shell may have reset the modes. */
                                if (r->raw_active)
                                        k = terminal_enter_raw(r);
                                forward_window_size(r);
                                break;
                        case SIGTSTP:
                                k = relay_suspend(r, true);
                                break;
                        default:
                                die_by_signal(r, (int)si[i].ssi_signo);
                        }
                        if (k < 0)
                                return k;
                }
        }
}

/* Refill an empty buffer, reading until it is full or the fd has nothing
 * more: a pty master hands out at most 4 KiB per read, and batching those
 * into one large write is where the throughput comes from. Returns bytes
 * read, 0 if nothing was there, -EIO for end of file, or a negative errno. */
static ssize_t buffer_fill(struct buffer *b, int fd) {
        b->off = b->len = b->stop = 0;
        b->suspend_at_stop = false;
        while (b->len < sizeof b->data) {
                ssize_t n = read(fd, b->data + b->len, sizeof b->data - b->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        /* Hand over what we got; the error shows up again
                         * on the next read. */
                        if (b->len > 0)
                                break;
                        /* End of file: a pty master never says that (it
                         * reports EIO), /dev/null does: see relay_loop. */
                        if (n == 0)
                                return -ENODATA;
                        return errno == EAGAIN ? 0 : -errno;
                }
                b->len += (size_t)n;
        }
        b->stop = b->len;
        return (ssize_t)b->len;
}

/* Write up to b->stop; a partial write leaves the rest for POLLOUT. */
static int buffer_flush(struct buffer *b, int fd) {
        while (b->off < b->stop) {
                ssize_t n = write(fd, b->data + b->off, b->stop - b->off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                b->off += (size_t)n;
        }
        if (b->off == b->len)
                b->off = b->len = b->stop = 0;
        return 0;
}

/* Let writes to the master stop right after the next suspend character, if
 * the adopted terminal would turn it into SIGTSTP at all (ISIG on, VSUSP set).
 * Its modes are read per chunk, not per byte: a program like vim turns ISIG
 * off and handles ^Z itself. */
static void find_suspend_char(struct relay *r) {
        struct buffer *b = &r->to_master;
        struct termios t;
        const char *p;

        b->stop = b->len;
        b->suspend_at_stop = false;
        if (!r->job_control || tcgetattr(r->master_fd, &t) < 0 || !(t.c_lflag & ISIG) ||
            t.c_cc[VSUSP] == _POSIX_VDISABLE)
                return;
        p = memchr(b->data + b->off, t.c_cc[VSUSP], b->len - b->off);
        if (p) {
                b->stop = (size_t)(p - b->data) + 1;
                b->suspend_at_stop = true;
        }
}

static int pump_to_master(struct relay *r) {
        struct buffer *b = &r->to_master;

        for (;;) {
                int k = buffer_flush(b, r->master_fd);
                if (k < 0)
                        return k;
                if (b->off < b->stop || !b->suspend_at_stop)
                        return 0;
                /* The suspend char went through the adopted line discipline,
                 * which stops the adopted job; now stop ourselves. Whatever
                 * was typed after it goes to the job once it is continued. */
                k = relay_suspend(r, false);
                if (k < 0)
                        return k;
                find_suspend_char(r);
        }
}

/* Write all of it, waiting for the terminal: used only on the way out. */
static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        if (poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, -1) < 0 &&
                            errno != EINTR)
                                return -errno;
                        continue;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Put what is still buffered and what the pty still holds on screen. A read
 * on the master flushes the pty's pending input work first, so EAGAIN (other
 * holders of the slave remain) or EIO (none remain) really means empty. */
static int drain_master(struct relay *r) {
        struct buffer *b = &r->to_terminal;
        int k = write_all(STDOUT_FILENO, b->data + b->off, b->len - b->off);

        b->off = b->len = b->stop = 0;
        for (size_t total = 0; k >= 0 && total < DRAIN_MAX;) {
                ssize_t n = read(r->master_fd, b->data, sizeof b->data);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                k = write_all(STDOUT_FILENO, b->data, (size_t)n);
                total += (size_t)n;
        }
        return k;
}

static int relay_finish(struct relay *r, bool target_exited, bool taken_over,
                        struct relay_exit *out) {
        int k = taken_over ? 0 : drain_master(r);

        if (!target_exited && !taken_over && r->pidfd >= 0) {
                int n;
                do
                        n = poll(&(struct pollfd){.fd = r->pidfd, .events = POLLIN}, 1,
                                 EXIT_AFTER_HANGUP_TIMEOUT_MS);
                while (n < 0 && errno == EINTR);
                target_exited = n > 0;
        }
        /* Give the terminal back before any waiting for the parent's reap. */
        terminal_restore(r);

        *out = (struct relay_exit){
                .end = target_exited ? RELAY_TARGET_EXITED
                       : taken_over  ? RELAY_TAKEN_OVER
                                     : RELAY_TERMINAL_CLOSED,
                .status = EXIT_STATUS_UNKNOWN,
        };
        if (target_exited)
                out->status = exit_status_collect(r->pidfd, r->proc_dirfd, REAP_TIMEOUT_MS,
                                                  &out->wait_status);
        /* A broken stdout at the very end loses output but not the status. */
        return k == -EPIPE || k == -EIO ? 0 : k;
}

enum { POLL_SIGNAL, POLL_PIDFD, POLL_STDIN, POLL_MASTER, POLL_STDOUT, _POLL_MAX };

static int relay_loop(struct relay *r, struct relay_exit *out) {
        for (;;) {
                struct buffer *in = &r->to_master, *outb = &r->to_terminal;
                struct pollfd p[_POLL_MAX] = {
                        [POLL_SIGNAL] = {.fd = r->signal_fd, .events = POLLIN},
                        [POLL_PIDFD] = {.fd = r->pidfd, .events = POLLIN},
                        [POLL_STDIN] = {.fd = in->len == 0 ? STDIN_FILENO : -1, .events = POLLIN},
                        [POLL_MASTER] = {.fd = r->master_fd,
                                         .events = (outb->len == 0 ? POLLIN : 0) |
                                                   (in->len > 0 ? POLLOUT : 0)},
                        [POLL_STDOUT] = {.fd = outb->len > 0 ? STDOUT_FILENO : -1,
                                         .events = POLLOUT},
                };
                ssize_t n;
                int k;

                if (poll(p, _POLL_MAX, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }

                /* Revents may be stale after a suspension inside this
                 * iteration; every fd is non-blocking, so that is harmless. */
                if (p[POLL_SIGNAL].revents) {
                        k = handle_signals(r);
                        if (k < 0)
                                return k;
                }
                if (p[POLL_PIDFD].revents)
                        return relay_finish(r, true, false, out);
                /* Every slave fd is closed: the target is exiting or left
                 * the terminal. Also ends a hangup we cannot read past
                 * because stdout is not taking data. */
                if (p[POLL_MASTER].revents & (POLLHUP | POLLERR))
                        return relay_finish(r, false, false, out);

                if (p[POLL_MASTER].revents & POLLIN) {
                        n = buffer_fill(outb, r->master_fd);
                        /* Our copy of the master became /dev/null: another
                         * reptyrctl took the session over (session mode). */
                        if (n == -ENODATA)
                                return relay_finish(r, false, true, out);
                        if (n == -EIO)
                                return relay_finish(r, false, false, out);
                        if (n < 0)
                                return (int)n;
                        p[POLL_STDOUT].revents |= POLLOUT; /* try at once */
                }
                if (p[POLL_STDOUT].revents) {
                        k = buffer_flush(outb, STDOUT_FILENO);
                        if (k < 0)
                                return k;
                }
                if (p[POLL_STDIN].revents) {
                        /* 0 bytes or EIO: our own terminal is gone. */
                        n = buffer_fill(in, STDIN_FILENO);
                        if (n == -ENODATA)
                                n = -EIO;
                        if (n < 0)
                                return (int)n;
                        if (n > 0) {
                                find_suspend_char(r);
                                p[POLL_MASTER].revents |= POLLOUT;
                        }
                }
                if (p[POLL_MASTER].revents & POLLOUT) {
                        k = pump_to_master(r);
                        if (k < 0)
                                return k;
                }
        }
}

static void relay_freep(struct relay **rp) {
        struct relay *r = *rp;

        if (!r)
                return;
        terminal_restore(r);
        closep(&r->signal_fd);
        relay_active = NULL;
        free(r);
}

int relay_run(int master_fd, int pidfd, int proc_dirfd, bool job_control, struct relay_exit *out) {
        static bool atexit_registered;
        _cleanup_(relay_freep) struct relay *r = NULL;
        sigset_t set;
        int flags, k;

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->master_fd = master_fd;
        r->pidfd = pidfd;
        r->proc_dirfd = proc_dirfd;
        r->job_control = job_control;

        k = relay_block_signals();
        if (k < 0)
                return k;
        relay_signal_set(&set);
        r->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (r->signal_fd < 0)
                return -errno;
        /* A closed stdout must end the relay with EPIPE, with the terminal
         * restored, not kill us on the spot. */
        signal(SIGPIPE, SIG_IGN);
        /* If a background reptyrctl touches the terminal it must be stopped,
         * not allowed through (ignored SIGTTOU lets tcsetattr pass). */
        signal(SIGTTOU, SIG_DFL);
        signal(SIGTTIN, SIG_DFL);

        flags = fcntl(master_fd, F_GETFL);
        if (flags < 0 || fcntl(master_fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        if (!atexit_registered && atexit(relay_atexit) == 0)
                atexit_registered = true;
        relay_active = r;

        k = terminal_enter_raw(r);
        if (k < 0)
                return k;
        forward_window_size(r);
        return relay_loop(r, out);
}
