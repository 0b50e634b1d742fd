/* SPDX-License-Identifier: MIT */
/*
 * The relay between reptyrctl's own terminal and the adopted pty master.
 *
 * One poll loop over: a signalfd (all signals we act on are blocked, so no
 * work ever happens in an async signal handler), the target's pidfd (readable
 * when it exits), stdin, the master and stdout. No per-byte work except one
 * memchr() per chunk typed, for the adopted terminal's suspend character.
 *
 * Output (master -> stdout) goes through a 64 KiB ring: one read from the
 * master (a pty master hands out at most 4 KiB per read), written to stdout
 * at once, and again while both sides keep up, a few rounds before the other
 * fds are looked at again. The program's next bytes are read while the
 * previous ones are on their way to the terminal, so neither side waits for
 * the other; the ring only fills when the terminal is slower than the
 * program. Measured against the alternatives (tests/bench, a shared 2-core
 * machine): filling a 64 KiB buffer before writing any of it leaves writer
 * and reader taking turns and cost more CPU per MiB (about 7 ms against
 * 5.7-6.5); one read per poll() costs a poll() per 4 KiB (about 7 ms);
 * splice() through a pipe works on ptys here (through a copy) but cost the
 * most (10-17 ms); reading up to 16 chunks before writing any cost more
 * (9 ms against 7, paired runs). Throughput differences between them stayed
 * inside the noise of that machine; none was faster. Most of what is left
 * is the kernel's: a tty read copies 64 bytes per step of the line
 * discipline, and a write to a pty queues work for the kernel's worker.
 *
 * ^Z. The adopted program leads its own session and its parent is outside
 * it, so its process group is orphaned, and the kernel discards a SIGTSTP
 * left at its default action in an orphaned group, be it from the line
 * discipline or from the program itself. So the relay does the stopping:
 *
 *  - Suspend character typed while the adopted terminal has ISIG on: it is
 *    not written to the master at all. We stop the foreground group as the
 *    line discipline would (SIGTSTP, plus SIGSTOP for an orphaned group) and
 *    suspend ourselves. The line discipline never sees it, so it never
 *    echoes "^Z" (ECHOCTL) into the output, where it would have shown up in
 *    front of the program's first output after fg.
 *
 *  - ISIG off (vim, emacs -nw, nano -z): the character is the program's, it
 *    is written through, and the program decides. A program that suspends
 *    itself first gives the terminal its normal modes back (ISIG on again),
 *    then stops itself: with SIGTSTP, which the kernel drops here (vim,
 *    emacs; vim then waits a few milliseconds for a SIGCONT and takes the
 *    terminal back), or with SIGSTOP, which works (nano). The target is not
 *    our child, so waitid() cannot tell us; a pidfd reports only the exit;
 *    the pty's packet mode reports flow control and flushes, not modes; the
 *    proc connector needs privileges. So only after relaying a suspend
 *    character to a terminal with ISIG off, and for three seconds at most,
 *    poll() wakes up on a short timer too (after 1 ms, then every 2 ms),
 *    and each wakeup looks: is the target stopped
 *    (/proc/PID/stat), or is ISIG back on and the program no longer
 *    running (it has sent itself its SIGTSTP and waits)? Either means the
 *    program is suspending itself: we make sure with SIGSTOP, relay what
 *    it wrote, and suspend ourselves; fg continues it, and it redraws on
 *    its own. Stopped by us before its own stop signal went out, it sends
 *    that signal after fg and stops again (and the signal throws away our
 *    SIGCONT if still pending), so for three seconds after such an fg a
 *    stopped program is continued again. The program's output is not taken as a sign (its
 *    leaving the alternate screen, say): an adopted ssh or tmux client
 *    passes on a remote program's, and must not be stopped for it. In the
 *    steady state the loop sleeps in poll() with no timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
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

/* Rounds of read-then-write on the output side before the other fds get a
 * look: 16 x 4 KiB keeps a keystroke or a signal waiting at most about a
 * millisecond behind a flood. */
#define PUMP_ROUNDS 16

/* After a suspend character went to a program that handles it itself: how
 * long to watch for the program suspending itself (its own reaction may
 * take a while on a loaded machine), and the time between two looks after
 * the first (1 ms). It stays below the few milliseconds the program's
 * normal modes last: vim waits 0, 1, 2 and 3 ms for a SIGCONT before it
 * takes the terminal back, and on a loaded machine that window came tens
 * of milliseconds late, between looks that had backed off to 8 ms and
 * more, so the ^Z went unseen. 1500 looks at most, each a read of
 * /proc/PID/stat and a tcgetattr(). */
#define SUSPEND_WATCH_MS 3000
#define SUSPEND_WATCH_STEP_MS 2

/* Typed input on its way to the master, refilled once empty. */
struct buffer {
        size_t off, len;      /* pending bytes are data[off, len) */
        size_t stop;          /* write no further than this for now */
        bool suspend_at_stop; /* data[stop] is a suspend character we act on */
        char data[RELAY_BUFFER_SIZE];
};

/* The program's output on its way to our terminal. */
struct ring {
        uint64_t rd, wr;     /* bytes ever written to stdout / read from the master */
        size_t last_offered; /* room the last read had */
        char data[RELAY_BUFFER_SIZE];
};

struct relay {
        int master_fd, pidfd, proc_dirfd, signal_fd;
        int early_status; /* read as it exited, before its parent reaped it; -1 */
        struct termios saved, raw;
        int saved_in_flags, saved_out_flags;
        bool raw_active;
        bool target_suspended; /* we stopped its foreground group: continue it on resume */
        bool winch_on_resume;  /* and tell it to redraw */
        bool job_control;      /* emulate ^Z/fg (process mode) */
        bool watching;         /* a self-suspend may be under way: see the top */
        bool watch_after_fg;   /* ... or one we stopped early may still end in its own stop */
        unsigned watch_looks;
        struct timespec watch_end;
        struct buffer to_master;
        struct ring to_terminal;
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
        int k;

        /* The adopted job goes on first: whatever happens to us below
         * (an error, a stop for touching the terminal too early), it must
         * never stay stopped behind us. Its output waits in the pty. */
        if (r->target_suspended && !r->winch_on_resume) {
                signal_adopted_foreground(r, SIGCONT);
                r->target_suspended = false;
        }
        k = terminal_enter_raw(r);
        if (k < 0) {
                if (r->target_suspended)
                        signal_adopted_foreground(r, SIGCONT);
                r->target_suspended = false;
                return k;
        }
        forward_window_size(r);
        if (r->target_suspended) {
                signal_adopted_foreground(r, SIGCONT);
                /* Full-screen programs redraw on SIGWINCH; TIOCSWINSZ only
                 * sends it when the size changed while we were stopped. Not
                 * for a program that suspended itself: it redraws on its
                 * own once continued, and a SIGWINCH that reaches it before
                 * it took its screen back has it draw on the shell's. */
                if (r->winch_on_resume)
                        signal_adopted_foreground(r, SIGWINCH);
                r->target_suspended = false;
        }
        return 0;
}

static void watch_start(struct relay *r, bool after_fg) {
        clock_gettime(CLOCK_MONOTONIC, &r->watch_end);
        r->watch_end.tv_sec += SUSPEND_WATCH_MS / 1000;
        r->watch_end.tv_nsec += (SUSPEND_WATCH_MS % 1000) * 1000000L;
        if (r->watch_end.tv_nsec >= 1000000000L) {
                r->watch_end.tv_sec++;
                r->watch_end.tv_nsec -= 1000000000L;
        }
        r->watch_looks = 0;
        r->watching = true;
        r->watch_after_fg = after_fg;
}

static int flush_output(struct relay *r);

/* Job control emulation: stop the adopted job (unless it suspended itself),
 * put on our terminal what it wrote up to then (a program leaving its
 * screen), give the terminal back and stop like any job would. `early`: the
 * watch stopped a program that was suspending itself before its own stop
 * signal went out (see the top). */
static int relay_suspend(struct relay *r, bool stop_target, bool early) {
        int k;

        if (stop_target)
                stop_adopted_foreground(r, true);
        r->target_suspended = true;
        r->winch_on_resume = stop_target;
        r->watching = false;
        k = flush_output(r);
        if (k < 0)
                return k;
        terminal_restore(r);
        stop_self();
        k = relay_resume(r);
        /* Stopped before it stopped itself: its own stop may still come. */
        if (k == 0 && early)
                watch_start(r, true);
        return k;
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
                                k = relay_suspend(r, true, false);
                                break;
                        default:
                                die_by_signal(r, (int)si[i].ssi_signo);
                        }
                        if (k < 0)
                                return k;
                }
        }
}

/* Refill the empty input buffer with one read: what was typed goes out at
 * once. Returns bytes read, 0 if nothing was there, -ENODATA for end of
 * file, or a negative errno. */
static ssize_t buffer_fill(struct buffer *b, int fd) {
        ssize_t n;

        b->off = b->len = b->stop = 0;
        b->suspend_at_stop = false;
        do
                n = read(fd, b->data, sizeof b->data);
        while (n < 0 && errno == EINTR);
        if (n == 0)
                return -ENODATA;
        if (n < 0)
                return errno == EAGAIN ? 0 : -errno;
        b->len = b->stop = (size_t)n;
        return n;
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

/* Look for the adopted terminal's suspend character in what was typed.
 * ISIG on: writes to the master stop just before it, and the relay acts on
 * it itself (see the top). ISIG off: it goes through, and we watch whether
 * the program suspends itself. The modes are read per chunk, not per byte:
 * vim turns ISIG off and on as it goes. */
static void find_suspend_char(struct relay *r) {
        struct buffer *b = &r->to_master;
        struct termios t;
        const char *p;

        b->stop = b->len;
        b->suspend_at_stop = false;
        if (!r->job_control || tcgetattr(r->master_fd, &t) < 0 || t.c_cc[VSUSP] == _POSIX_VDISABLE)
                return;
        p = memchr(b->data + b->off, t.c_cc[VSUSP], b->len - b->off);
        if (!p)
                return;
        if (!(t.c_lflag & ISIG)) {
                watch_start(r, false);
                return;
        }
        b->stop = (size_t)(p - b->data);
        b->suspend_at_stop = true;
}

static int pump_to_master(struct relay *r) {
        struct buffer *b = &r->to_master;

        for (;;) {
                int k = buffer_flush(b, r->master_fd);
                if (k < 0)
                        return k;
                if (b->off < b->stop || !b->suspend_at_stop)
                        return 0;
                /* Everything before the suspend char is written: drop the
                 * char, do what the line discipline would, stop ourselves.
                 * Whatever was typed after it goes to the job once it is
                 * continued. */
                b->off++;
                k = relay_suspend(r, true, false);
                if (k < 0)
                        return k;
                find_suspend_char(r);
        }
}

static size_t ring_used(const struct ring *q) { return (size_t)(q->wr - q->rd); }

/* One read into the ring's free space. Returns bytes read, 0 if nothing was
 * there or the ring is full, -ENODATA for end of file (a pty master never
 * says that, it reports EIO; /dev/null does: see relay_loop), or a negative
 * errno. */
static ssize_t ring_read(struct ring *q, int fd) {
        size_t at = (size_t)(q->wr % sizeof q->data);
        size_t space = sizeof q->data - ring_used(q);
        ssize_t n;

        if (space > sizeof q->data - at)
                space = sizeof q->data - at;
        q->last_offered = space;
        if (space == 0)
                return 0;
        do
                n = read(fd, q->data + at, space);
        while (n < 0 && errno == EINTR);
        if (n == 0)
                return -ENODATA;
        if (n < 0)
                return errno == EAGAIN ? 0 : -errno;
        q->wr += (uint64_t)n;
        return n;
}

/* Write what the ring holds until stdout takes no more; the rest waits for
 * POLLOUT. */
static int ring_write(struct ring *q, int fd) {
        while (ring_used(q) > 0) {
                size_t at = (size_t)(q->rd % sizeof q->data), len = ring_used(q);
                ssize_t n;

                if (len > sizeof q->data - at)
                        len = sizeof q->data - at;
                n = write(fd, q->data + at, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                q->rd += (uint64_t)n;
        }
        return 0;
}

/* The line discipline behind a pty master holds at most 4 KiB less one byte
 * (it keeps a slot free) and hands out all it has: a shorter read that had
 * more room found the master empty. A full read means more is probably
 * queued behind it, and the next read waits for the kernel to move it in. */
#define PTY_READ_FULL 4095

/* The program's output: one read, written at once, and again while the
 * master has more and stdout takes it all. Returns what the last read
 * returned: >= 0, or -ENODATA, -EIO, a negative errno. */
static ssize_t pump_to_terminal(struct relay *r) {
        struct ring *q = &r->to_terminal;
        ssize_t n = ring_read(q, r->master_fd);

        for (int i = 0; n > 0; i++) {
                int k = ring_write(q, STDOUT_FILENO);

                if (k < 0)
                        return k;
                if (ring_used(q) > 0 || i + 1 == PUMP_ROUNDS ||
                    ((size_t)n < PTY_READ_FULL && (size_t)n < q->last_offered))
                        break;
                n = ring_read(q, r->master_fd);
        }
        return n;
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
static int drain_master(struct relay *r, size_t max) {
        struct ring *q = &r->to_terminal;
        int k = 0;

        while (k >= 0 && ring_used(q) > 0) {
                size_t at = (size_t)(q->rd % sizeof q->data), len = ring_used(q);
                if (len > sizeof q->data - at)
                        len = sizeof q->data - at;
                k = write_all(STDOUT_FILENO, q->data + at, len);
                q->rd += len;
        }
        q->rd = q->wr = 0;
        for (size_t total = 0; k >= 0 && total < max;) {
                ssize_t n = read(r->master_fd, q->data, sizeof q->data);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                k = write_all(STDOUT_FILENO, q->data, (size_t)n);
                total += (size_t)n;
        }
        return k;
}

/* Before we stop: what the adopted job wrote so far goes on screen (it is
 * stopped, or about to be: at most one ring's worth is read). A terminal that
 * takes nothing is not waited for. */
static int flush_output(struct relay *r) {
        int k = drain_master(r, RELAY_BUFFER_SIZE);

        return k == -EPIPE || k == -EIO ? 0 : k;
}

/* The target's state letter from /proc/PID/stat, or 0. */
static char target_state(const struct relay *r) {
        char buf[512], *p;
        ssize_t n;
        int fd;

        if (r->proc_dirfd < 0)
                return 0;
        fd = openat(r->proc_dirfd, "stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        return p && p[1] == ' ' ? p[2] : 0;
}

/* While watching: milliseconds until the next look (1, then
 * SUSPEND_WATCH_STEP_MS, never past the end), or -1 once the watch is
 * over. */
static int watch_timeout(struct relay *r) {
        struct timespec now;
        int64_t left_ms;
        int step;

        if (!r->watching)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left_ms = (int64_t)(r->watch_end.tv_sec - now.tv_sec) * 1000 +
                  (r->watch_end.tv_nsec - now.tv_nsec) / 1000000;
        if (left_ms <= 0) {
                r->watching = false;
                return -1;
        }
        step = r->watch_looks == 0 ? 1 : SUSPEND_WATCH_STEP_MS;
        return left_ms < step ? (int)left_ms : step;
}

/* One look while watching (see the top): has the program begun to suspend
 * itself? Then finish what its own SIGTSTP cannot, and suspend with it. */
static int watch_look(struct relay *r) {
        struct termios t;
        char state;
        bool stopped, giving_back;

        r->watch_looks++;
        state = target_state(r);
        stopped = state == 'T';
        /* After fg: a program we stopped in the middle of suspending
         * itself carries on from there once continued, and may still send
         * its own stop signal, which also throws away our SIGCONT if that
         * is still pending. The user has said fg: continue it again. */
        if (r->watch_after_fg) {
                if (stopped)
                        signal_adopted_foreground(r, SIGCONT);
                return 0;
        }
        giving_back = tcgetattr(r->master_fd, &t) == 0 && (t.c_lflag & ISIG);
        if (!stopped && !giving_back)
                return 0;
        /* Modes given back but still running: its own SIGTSTP is yet to
         * come. Stopped now, it would send that SIGTSTP after fg, and
         * sending a stop signal discards a pending SIGCONT: the program
         * would wait for a SIGCONT that is gone. Once it sleeps, it waits. */
        if (!stopped && state == 'R')
                return 0;
        /* SIGSTOP works on an orphaned group, and on a group that is
         * stopping itself anyway it changes nothing. */
        if (!stopped)
                signal_adopted_foreground(r, SIGSTOP);
        r->watching = false;
        return relay_suspend(r, false, !stopped);
}

/* The terminal hung up: if that is the target exiting, its status is
 * readable right now, before its parent can reap it (exit-status.h). */
static void note_early_exit(struct relay *r) {
        int status;

        if (r->proc_dirfd >= 0 && exit_status_early(r->proc_dirfd, &status) == 0)
                r->early_status = status;
}

static int relay_finish(struct relay *r, bool target_exited, bool taken_over,
                        struct relay_exit *out) {
        int k = taken_over ? 0 : drain_master(r, DRAIN_MAX);

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
                out->status = exit_status_collect(r->pidfd, r->proc_dirfd, r->early_status,
                                                  REAP_TIMEOUT_MS, &out->wait_status);
        /* A broken stdout at the very end loses output but not the status. */
        return k == -EPIPE || k == -EIO ? 0 : k;
}

enum { POLL_SIGNAL, POLL_PIDFD, POLL_STDIN, POLL_MASTER, POLL_STDOUT, _POLL_MAX };

static int relay_loop(struct relay *r, struct relay_exit *out) {
        for (;;) {
                struct buffer *in = &r->to_master;
                struct ring *outq = &r->to_terminal;
                struct pollfd p[_POLL_MAX] = {
                        [POLL_SIGNAL] = {.fd = r->signal_fd, .events = POLLIN},
                        [POLL_PIDFD] = {.fd = r->pidfd, .events = POLLIN},
                        [POLL_STDIN] = {.fd = in->len == 0 ? STDIN_FILENO : -1, .events = POLLIN},
                        [POLL_MASTER] = {.fd = r->master_fd,
                                         .events = (ring_used(outq) < sizeof outq->data ? POLLIN
                                                                                        : 0) |
                                                   (in->len > 0 ? POLLOUT : 0)},
                        [POLL_STDOUT] = {.fd = ring_used(outq) > 0 ? STDOUT_FILENO : -1,
                                         .events = POLLOUT},
                };
                ssize_t n;
                int k;

                if (poll(p, _POLL_MAX, watch_timeout(r)) < 0) {
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
                if (p[POLL_MASTER].revents & (POLLHUP | POLLERR)) {
                        note_early_exit(r);
                        return relay_finish(r, false, false, out);
                }

                if (p[POLL_MASTER].revents & POLLIN) {
                        n = pump_to_terminal(r);
                        /* Our copy of the master became /dev/null: another
                         * reptyrctl took the session over (session mode). */
                        if (n == -ENODATA)
                                return relay_finish(r, false, true, out);
                        if (n == -EIO) {
                                note_early_exit(r);
                                return relay_finish(r, false, false, out);
                        }
                        if (n < 0)
                                return (int)n;
                } else if (p[POLL_STDOUT].revents) {
                        k = ring_write(outq, STDOUT_FILENO);
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
                if (r->watching) {
                        k = watch_look(r);
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
        r->early_status = -1;
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
