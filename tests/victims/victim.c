/* SPDX-License-Identifier: MIT */
/*
 * victim: the process the adoption tests move between terminals.
 *
 * One program, one mode per argv[1]. Each mode differs only in how the
 * process waits for input (a blocking read(), poll(), ppoll() with its own
 * mask, epoll_wait(), a CPU-bound loop, nanosleep(), ...) and in what it set
 * up before saying "READY pid=<pid>"; everything else is shared:
 *
 *   - every complete line on fd 0 is answered on fd 1 with "GOT <line>";
 *   - "status?" -> "TTY <ttyname(0)> PGRP <tcgetpgrp(0)> MYPGRP <getpgrp()> SID <getsid(0)>"
 *   - "mask?"   -> "MASK <hex of the blocked signals 1..64>"
 *   - "mknod?"  -> "MKNOD errno=<n>" (the seccomp-filter mode's canary)
 *   - "quit"    -> exit with the mode's exit code (0, or N for exit-code N)
 *   - SIGINT -> "INT", SIGWINCH -> "WINCH <rows> <cols>" (size of fd 1),
 *     SIGHUP (sighup-handle only) -> "HUP".
 *
 * Handlers only set flags and are installed without SA_RESTART, so a blocked
 * call returns EINTR and the loop prints. A call that ever returns one of the
 * kernel's internal restart codes (512..516) to user space is a tracer bug:
 * it is reported as "ERRNO512 errno=<n> call=<name>".
 *
 * Output is formatted on the stack and written with write(2) only: the
 * seccomp-strict mode may make no other system call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EPOLL_DATA_MAGIC UINT64_C(0x1234567890)

/* Kernel-internal codes that must never reach user space. */
static bool is_restart_errno(int e) { return e >= 512 && e <= 516; }

static volatile sig_atomic_t got_int, got_winch, got_hup;

struct victim;

struct mode {
        const char *name;
        const char *usage;
        /* Before READY; may fork, start threads, change signal state. */
        int (*setup)(struct victim *v, int argc, char **argv);
        /* Wait until fd 0 is readable: 1 = readable, 0 = woke for another
         * reason (signal, timer), call again. NULL: block in read() itself. */
        int (*wait_input)(struct victim *v);
        /* Mode-specific answer to a line; true when it replaces "GOT". */
        bool (*on_line)(struct victim *v, const char *line);
        /* Run the line loop in a thread other than the main thread. */
        bool loop_in_thread;
        /* No SIGWINCH handler: for modes where the engine's SIGWINCH after
         * adoption must not interrupt the call under test (or, in seccomp
         * strict mode, where TIOCGWINSZ is not allowed). */
        bool no_winch;
};

struct victim {
        const struct mode *mode;
        int exit_code;
        long sleep_seconds; /* nanosleep */
        long flood_bytes;   /* write-flood */
        int epoll_fd;       /* epoll */
        struct timespec tick_last;
        long tick_max_us;
        sigset_t ppoll_mask;
        char line[8192];
        size_t line_len;
};

/* ---- output ---------------------------------------------------------- */

static void write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* the terminal went away; nothing to report to */
                }
                buf += n;
                len -= (size_t)n;
        }
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
        char buf[9000];
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n > sizeof(buf) - 2)
                n = sizeof(buf) - 2;
        buf[n++] = '\n';
        write_all(STDOUT_FILENO, buf, (size_t)n);
}

static bool strict_mode_active;

/* exit_group() is not allowed in seccomp strict mode; a single-threaded
 * process ends the same way with exit(). */
static _Noreturn void victim_exit(int code) {
        if (strict_mode_active)
                for (;;)
                        syscall(SYS_exit, code);
        _exit(code);
}

static void check_errno(const char *call) {
        if (is_restart_errno(errno))
                say("ERRNO512 errno=%d call=%s", errno, call);
}

/* ---- signals ----------------------------------------------------------- */

static void on_signal(int sig) {
        if (sig == SIGINT)
                got_int = 1;
        else if (sig == SIGWINCH)
                got_winch = 1;
        else if (sig == SIGHUP)
                got_hup = 1;
}

static void catch_signal(int sig) {
        /* No SA_RESTART: blocked calls return EINTR and the loop reports.
         * No SA_SIGINFO: i386 then returns through sigreturn, which
         * seccomp strict mode allows (rt_sigreturn it does not, for compat
         * tasks). */
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, NULL) < 0) {
                say("FAIL sigaction %d: %s", sig, strerror(errno));
                exit(2);
        }
}

static void report_signals(void) {
        if (got_int) {
                got_int = 0;
                say("INT");
        }
        if (got_hup) {
                got_hup = 0;
                say("HUP");
        }
        if (got_winch) {
                got_winch = 0;
                struct winsize ws = {0};
                if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                        say("WINCH error %d", errno);
                else
                        say("WINCH %u %u", ws.ws_row, ws.ws_col);
        }
}

static void block_all_signals(void) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static _Noreturn void sleep_forever(void) {
        for (;;) {
                struct timespec ts = {.tv_sec = 3600};
                nanosleep(&ts, NULL);
        }
}

/* ---- helpers for the wait strategies ------------------------------------ */

/* 1 if fd 0 has input (or hung up: read() reports it), else 0. */
static int input_ready_now(void) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&pfd, 1, 0);
        if (r < 0) {
                check_errno("poll");
                return 0;
        }
        return r > 0;
}

static long parse_long_arg(int argc, char **argv, int i, long dflt, long min, long max) {
        if (argc <= i)
                return dflt;
        char *end;
        errno = 0;
        long x = strtol(argv[i], &end, 10);
        if (errno != 0 || end == argv[i] || *end != '\0' || x < min || x > max) {
                say("FAIL bad number '%s'", argv[i]);
                exit(2);
        }
        return x;
}

static long timespec_diff_us(const struct timespec *a, const struct timespec *b) {
        return (a->tv_sec - b->tv_sec) * 1000000L + (a->tv_nsec - b->tv_nsec) / 1000;
}

/* ---- modes ------------------------------------------------------------- */

static int wait_poll(struct victim *v) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&pfd, 1, -1);
        if (r < 0)
                check_errno("poll");
        return r > 0;
}

static int setup_ppoll(struct victim *v, int argc, char **argv) {
        /* ppoll's own mask differs from the normal one: an engine that saves
         * the live mask instead of the one to restore would be caught by
         * "mask?" after adoption. */
        sigprocmask(SIG_SETMASK, NULL, &v->ppoll_mask);
        sigaddset(&v->ppoll_mask, SIGUSR2);
        return 0;
}

static int wait_ppoll(struct victim *v) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = ppoll(&pfd, 1, NULL, &v->ppoll_mask);
        if (r < 0)
                check_errno("ppoll");
        return r > 0;
}

static int setup_epoll(struct victim *v, int argc, char **argv) {
        v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (v->epoll_fd < 0)
                return -errno;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EPOLL_DATA_MAGIC};
        if (epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0)
                return -errno;
        return 0;
}

static int wait_epoll(struct victim *v) {
        struct epoll_event ev = {0};
        int r = epoll_wait(v->epoll_fd, &ev, 1, -1);
        if (r < 0) {
                check_errno("epoll_wait");
                return 0;
        }
        if (r == 0)
                return 0;
        say("EPOLL data=0x%llx events=0x%x", (unsigned long long)ev.data.u64, ev.events);
        return 1;
}

static int wait_cpu(struct victim *v) {
        /* Never enters the kernel between checks: the engine must cope
         * with a thread that makes no system call of its own. */
        for (;;) {
                for (volatile unsigned long i = 0; i < 1000000UL; i++)
                        ;
                if (got_int || got_winch || got_hup)
                        return 0;
                if (input_ready_now())
                        return 1;
        }
}

static int setup_nanosleep(struct victim *v, int argc, char **argv) {
        v->sleep_seconds = parse_long_arg(argc, argv, 2, 10, 1, 3600);
        return 0;
}

static int wait_nanosleep(struct victim *v) {
        if (input_ready_now())
                return 1;
        struct timespec start, end, ts = {.tv_sec = v->sleep_seconds};
        clock_gettime(CLOCK_MONOTONIC, &start);
        int r = nanosleep(&ts, NULL);
        int e = errno;
        clock_gettime(CLOCK_MONOTONIC, &end);
        if (r == 0) {
                /* A correctly restarted sleep lasts at least as requested. */
                say("SLEPT %ld ms", timespec_diff_us(&end, &start) / 1000);
        } else {
                errno = e;
                check_errno("nanosleep");
                if (e != EINTR)
                        say("NANOSLEEP errno=%d", e);
        }
        return input_ready_now();
}

static int wait_tick(struct victim *v) {
        for (;;) {
                struct timespec ts = {.tv_nsec = 200 * 1000}, now;
                int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
                if (r != 0) {
                        errno = r;
                        check_errno("clock_nanosleep");
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                long gap = timespec_diff_us(&now, &v->tick_last);
                if (gap > v->tick_max_us)
                        v->tick_max_us = gap;
                v->tick_last = now;
                if (got_int || got_winch || got_hup)
                        return 0;
                if (input_ready_now())
                        return 1;
        }
}

static int setup_tick(struct victim *v, int argc, char **argv) {
        clock_gettime(CLOCK_MONOTONIC, &v->tick_last);
        return 0;
}

static bool on_line_tick(struct victim *v, const char *line) {
        say("GAP %ld", v->tick_max_us);
        v->tick_max_us = 0;
        clock_gettime(CLOCK_MONOTONIC, &v->tick_last);
        return true;
}

static int setup_write_flood(struct victim *v, int argc, char **argv) {
        v->flood_bytes = parse_long_arg(argc, argv, 2, 1 << 20, 0, LONG_MAX);
        return 0;
}

static bool on_line_write_flood(struct victim *v, const char *line) {
        static const char pattern[] =
                "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_+=@\n";
        char buf[64 * 1024];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = pattern[i % (sizeof(pattern) - 1)];
        for (long left = v->flood_bytes; left > 0;) {
                size_t chunk = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);
                write_all(STDOUT_FILENO, buf, chunk);
                left -= (long)chunk;
        }
        say("DONE");
        return true;
}

static int setup_exit_code(struct victim *v, int argc, char **argv) {
        v->exit_code = (int)parse_long_arg(argc, argv, 2, 0, 0, 255);
        return 0;
}

static int setup_sighup_ignore(struct victim *v, int argc, char **argv) {
        signal(SIGHUP, SIG_IGN);
        return 0;
}

static int setup_sighup_handle(struct victim *v, int argc, char **argv) {
        catch_signal(SIGHUP);
        return 0;
}

/* As ssh-agent and gpg-agent do: the kernel then lets no other process of
 * the same user ptrace it, so adoption needs more than "your own process". */
static int setup_nodump(struct victim *v, int argc, char **argv) {
        return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ? -errno : 0;
}

static int setup_pending(struct victim *v, int argc, char **argv) {
        /* One signal pending on the thread (SigPnd), one on the process
         * (ShdPnd); an engine that drops signals loses one of them. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        sigprocmask(SIG_BLOCK, &set, NULL);
        if (syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1) < 0)
                return -errno;
        if (kill(getpid(), SIGUSR2) < 0)
                return -errno;
        return 0;
}

static int setup_children(struct victim *v, int argc, char **argv) {
        pid_t parent = getpid();
        pid_t child = fork();
        if (child < 0)
                return -errno;
        if (child == 0) {
                /* Same process group and session as the victim; gone with it. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(0);
                block_all_signals();
                sleep_forever();
        }
        say("CHILD pid=%d", child);
        return 0;
}

/* vfork: a second thread vfork()s a child that never execs nor exits, so
 * that thread can never reach a ptrace stop (it waits for the child in the
 * kernel, woken by nothing but the child or SIGKILL). The child leaves the
 * session at once, so the victim is still alone on its terminal. */
static int vfork_pipe[2];

static void *vfork_thread(void *arg) {
        pid_t parent = getpid();
        pid_t child = vfork();
        if (child == 0) {
                /* Only system calls here: the memory is the parent's. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(0);
                setsid();
                (void)!write(vfork_pipe[1], "x", 1);
                for (;;)
                        pause();
        }
        return arg;
}

static int setup_vfork(struct victim *v, int argc, char **argv) {
        pthread_t t;
        char c;

        if (pipe(vfork_pipe) < 0)
                return -errno;
        if (pthread_create(&t, NULL, vfork_thread, NULL) != 0)
                return -EAGAIN;
        if (read(vfork_pipe[0], &c, 1) != 1)
                return -EIO;
        say("VFORKED");
        return 0;
}

/* exec: the line "exec" makes it run itself again in read mode (the test of
 * an exec between being attached and being stopped). */
static char *self_argv0;

static bool on_line_exec(struct victim *v, const char *line) {
        if (strcmp(line, "exec") != 0)
                return false;
        execl("/proc/self/exe", self_argv0, "read", "execd", (char *)NULL);
        say("FAIL exec: %s", strerror(errno));
        return true;
}

static int setup_seccomp_strict(struct victim *v, int argc, char **argv) {
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) < 0)
                return -errno;
        strict_mode_active = true;
        return 0;
}

#if defined(__x86_64__)
#define VICTIM_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define VICTIM_AUDIT_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define VICTIM_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static int setup_seccomp_filter(struct victim *v, int argc, char **argv) {
        /* Everything is allowed except mknod/mknodat, which fail with EPERM:
         * "mknod?" proves the filter is still in force after adoption. */
        struct sock_filter insns[] = {
#ifdef VICTIM_AUDIT_ARCH
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, VICTIM_AUDIT_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __NR_mknod
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mknod, 2, 0),
#else
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mknodat, 2, 0),
#endif
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mknodat, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        };
        struct sock_fprog prog = {.len = sizeof(insns) / sizeof(insns[0]), .filter = insns};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return -errno;
        return 0;
}

static void *sleeper_thread(void *arg) {
        block_all_signals();
        sleep_forever();
}

static int setup_threads(struct victim *v, int argc, char **argv) {
        for (int i = 0; i < 2; i++) {
                pthread_t t;
                int r = pthread_create(&t, NULL, sleeper_thread, NULL);
                if (r != 0)
                        return -r;
        }
        return 0;
}

/* Outlives its terminal: SIGHUP ignored, and once the terminal is hung up
 * (its master closed) it waits for a signal (the SIGWINCH of an adoption)
 * instead of reading end-of-file, then reads again. */
static int setup_outlive_hangup(struct victim *v, int argc, char **argv) {
        signal(SIGHUP, SIG_IGN);
        return 0;
}

static int wait_outlive_hangup(struct victim *v) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        sigset_t none;

        if (poll(&p, 1, -1) < 0)
                return 0;
        if (!(p.revents & (POLLHUP | POLLERR)))
                return 1;
        sigemptyset(&none);
        (void)sigsuspend(&none);
        return 0;
}

/* tstp-self [stop]: handles ^Z itself, as vim does. Its terminal is raw
 * with ISIG off (no signal from ^C or ^Z), and on reading the suspend
 * character it puts the terminal back the way it found it, says
 * "SUSPENDING", stops itself with kill(0, SIGTSTP) (vim, emacs; with "stop":
 * kill(0, SIGSTOP), as nano does), waits for its SIGCONT (vim waits a few
 * ms, this one up to 10 s so that a test does not race it), then makes the
 * terminal raw again and says "RESUMED" (or "RESUMED without SIGCONT").
 * With "stop-late": SIGSTOP as with "stop", sent 300 ms after the modes
 * were given back, asleep in between, as a program flushing its screen
 * to a slow terminal would.
 * Other bytes make lines as in every mode; it reads them itself, one read()
 * per wait_input call. */
static void feed(struct victim *v, const char *buf, size_t n);
static struct termios tstp_cooked;
static int tstp_signal = SIGTSTP;
static bool tstp_late;

static int tstp_make_raw(void) {
        struct termios t = tstp_cooked;

        t.c_lflag &= ~(tcflag_t)(ISIG | ICANON | ECHO | IEXTEN);
        t.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        return tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0 ? -errno : 0;
}

static int setup_tstp_self(struct victim *v, int argc, char **argv) {
        if (argc > 2 && (strcmp(argv[2], "stop") == 0 || strcmp(argv[2], "stop-late") == 0)) {
                tstp_signal = SIGSTOP;
                tstp_late = strcmp(argv[2], "stop-late") == 0;
        } else if (argc > 2)
                return -EINVAL;
        if (tcgetattr(STDIN_FILENO, &tstp_cooked) < 0)
                return -errno;
        return tstp_make_raw();
}

static int wait_tstp_self(struct victim *v) {
        char buf[256];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

        if (n <= 0) {
                if (n < 0)
                        check_errno("read");
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        return 0;
                say("EOF");
                victim_exit(0);
        }
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != tstp_cooked.c_cc[VSUSP]) {
                        feed(v, buf + i, 1);
                        continue;
                }
                sigset_t cont, old;
                struct timespec wait = {.tv_sec = 60};
                int got;

                sigemptyset(&cont);
                sigaddset(&cont, SIGCONT);
                /* Blocked, SIGCONT still continues us; it just stays
                 * pending for sigtimedwait. */
                sigprocmask(SIG_BLOCK, &cont, &old);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &tstp_cooked);
                say("SUSPENDING");
                if (tstp_late) {
                        struct timespec late = {.tv_nsec = 300 * 1000 * 1000};
                        while (nanosleep(&late, &late) < 0 && errno == EINTR)
                                ;
                }
                kill(0, tstp_signal);
                do
                        got = sigtimedwait(&cont, NULL, &wait);
                while (got < 0 && errno == EINTR);
                sigprocmask(SIG_SETMASK, &old, NULL);
                (void)tstp_make_raw();
                say(got == SIGCONT ? "RESUMED" : "RESUMED without SIGCONT");
        }
        return 0;
}

/* fullscreen: a full-screen program as curses makes one. Canonical mode and
 * echo off, the alternate screen, every row drawn ("ROW nn" and dots). On
 * SIGWINCH it redraws only what changed, as curses does while the size is
 * unchanged: the frame counter at the top left ("FRAME n"). Lines ending in
 * CR or LF still work ("quit"). */
static unsigned fullscreen_frame;
static volatile sig_atomic_t fullscreen_winch;

/* Its own SIGWINCH handler (the mode has no_winch): the shared one would
 * print "WINCH" lines into the screen. */
static void on_fullscreen_winch(int sig) { fullscreen_winch = 1; }

static int setup_fullscreen(struct victim *v, int argc, char **argv) {
        struct termios t;
        struct winsize ws = {0};
        char row[512];

        struct sigaction sa = {.sa_handler = on_fullscreen_winch};

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGWINCH, &sa, NULL) < 0)
                return -errno;
        if (tcgetattr(STDIN_FILENO, &t) < 0)
                return -errno;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0)
                return -errno;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
                ws = (struct winsize){.ws_row = 24, .ws_col = 80};
        write_all(STDOUT_FILENO, "\033[?1049h\033[H\033[2J", 14);
        for (unsigned r = 1; r <= ws.ws_row; r++) {
                int at = snprintf(row, sizeof(row), "\033[%u;1H", r);
                int n = at + snprintf(row + at, sizeof(row) - (size_t)at, "ROW %02u ", r);
                /* Not the last column: no pending wrap, no scrolling. */
                while ((size_t)n < sizeof(row) - 1 && n - at < ws.ws_col - 1)
                        row[n++] = '.';
                write_all(STDOUT_FILENO, row, (size_t)n);
        }
        write_all(STDOUT_FILENO, "\033[1;1H", 6);
        return 0;
}

static int wait_fullscreen(struct victim *v) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int r;

        if (fullscreen_winch) {
                char buf[64];
                int n;

                fullscreen_winch = 0;
                n = snprintf(buf, sizeof(buf), "\033[1;1HFRAME %u", ++fullscreen_frame);
                write_all(STDOUT_FILENO, buf, (size_t)n);
                return 0;
        }
        r = poll(&pfd, 1, -1);
        if (r < 0)
                check_errno("poll");
        return r > 0;
}

static const struct mode modes[] = {
        {.name = "read"},
        {.name = "winch"},
        {.name = "poll", .wait_input = wait_poll},
        {.name = "ppoll", .setup = setup_ppoll, .wait_input = wait_ppoll},
        {.name = "epoll", .setup = setup_epoll, .wait_input = wait_epoll},
        {.name = "cpu", .wait_input = wait_cpu},
        {.name = "nanosleep",
         .usage = "[SECONDS=10]",
         .setup = setup_nanosleep,
         .wait_input = wait_nanosleep,
         .no_winch = true},
        {.name = "threads", .setup = setup_threads, .loop_in_thread = true},
        {.name = "sighup-ignore", .setup = setup_sighup_ignore},
        {.name = "nodump", .setup = setup_nodump},
        {.name = "sighup-handle", .setup = setup_sighup_handle},
        {.name = "pending", .setup = setup_pending},
        {.name = "children", .setup = setup_children},
        {.name = "seccomp-strict", .setup = setup_seccomp_strict, .no_winch = true},
        {.name = "seccomp-filter", .setup = setup_seccomp_filter},
        {.name = "tick", .setup = setup_tick, .wait_input = wait_tick, .on_line = on_line_tick},
        {.name = "write-flood",
         .usage = "[BYTES=1048576]",
         .setup = setup_write_flood,
         .on_line = on_line_write_flood},
        {.name = "exit-code", .usage = "N", .setup = setup_exit_code},
        {.name = "vfork", .setup = setup_vfork},
        {.name = "exec", .on_line = on_line_exec},
        {.name = "outlive-hangup",
         .setup = setup_outlive_hangup,
         .wait_input = wait_outlive_hangup},
        {.name = "tstp-self",
         .usage = "[stop|stop-late]",
         .setup = setup_tstp_self,
         .wait_input = wait_tstp_self},
        {.name = "fullscreen",
         .setup = setup_fullscreen,
         .wait_input = wait_fullscreen,
         .no_winch = true},
};

/* ---- the shared line loop ---------------------------------------------- */

static void print_status(void) {
        if (strict_mode_active) {
                say("STATUS unavailable (seccomp strict)");
                return;
        }
        char name[PATH_MAX];
        if (ttyname_r(STDIN_FILENO, name, sizeof(name)) != 0)
                snprintf(name, sizeof(name), "none");
        say("TTY %s PGRP %d MYPGRP %d SID %d", name, (int)tcgetpgrp(STDIN_FILENO), (int)getpgrp(),
            (int)getsid(0));
}

static void print_mask(void) {
        if (strict_mode_active) {
                say("MASK unavailable (seccomp strict)");
                return;
        }
        sigset_t set;
        pthread_sigmask(SIG_SETMASK, NULL, &set);
        unsigned long long bits = 0;
        for (int sig = 1; sig <= 64; sig++)
                if (sigismember(&set, sig) == 1)
                        bits |= 1ULL << (sig - 1);
        say("MASK %016llx", bits);
}

static void handle_line(struct victim *v, const char *line) {
        if (strcmp(line, "quit") == 0) {
                say("BYE %d", v->exit_code);
                victim_exit(v->exit_code);
        } else if (strcmp(line, "status?") == 0) {
                print_status();
        } else if (strcmp(line, "mask?") == 0) {
                print_mask();
        } else if (strcmp(line, "mknod?") == 0 && !strict_mode_active) {
                int r = mknodat(AT_FDCWD, "/nonexistent-victim-dir/fifo", S_IFIFO | 0600, 0);
                say("MKNOD errno=%d", r < 0 ? errno : 0);
        } else if (!(v->mode->on_line && v->mode->on_line(v, line))) {
                say("GOT %s", line);
        }
}

static void feed(struct victim *v, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c == '\n' || c == '\r') {
                        if (c == '\r' && i + 1 < n && buf[i + 1] == '\n')
                                continue;
                        v->line[v->line_len] = '\0';
                        v->line_len = 0;
                        handle_line(v, v->line);
                } else if (v->line_len < sizeof(v->line) - 1) {
                        v->line[v->line_len++] = c;
                }
        }
}

static _Noreturn void line_loop(struct victim *v) {
        char buf[4096];
        for (;;) {
                report_signals();
                if (v->mode->wait_input && v->mode->wait_input(v) <= 0)
                        continue;
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        check_errno("read");
                        if (is_restart_errno(errno))
                                continue;
                        say("EOF read errno=%d", errno);
                        victim_exit(3);
                }
                if (n == 0) {
                        say("EOF");
                        victim_exit(0);
                }
                feed(v, buf, (size_t)n);
        }
}

static void *line_loop_thread(void *arg) { line_loop(arg); }

static _Noreturn void usage(void) {
        fprintf(stderr, "usage: victim MODE [ARG]\nmodes:\n");
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
                fprintf(stderr, "  %s %s\n", modes[i].name, modes[i].usage ? modes[i].usage : "");
        exit(2);
}

int main(int argc, char **argv) {
        static struct victim v = {.epoll_fd = -1};
        /* Before setup: seccomp strict mode forbids getpid(). */
        pid_t pid = getpid();

        self_argv0 = argv[0];
        if (argc < 2)
                usage();
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
                if (strcmp(argv[1], modes[i].name) == 0)
                        v.mode = &modes[i];
        if (!v.mode)
                usage();

        catch_signal(SIGINT);
        if (!v.mode->no_winch)
                catch_signal(SIGWINCH);

        if (v.mode->setup) {
                int r = v.mode->setup(&v, argc, argv);
                if (r < 0) {
                        say("FAIL setup %s: %s", v.mode->name, strerror(-r));
                        return 2;
                }
        }

        if (v.mode->loop_in_thread) {
                /* The reader is not the main thread; every other thread keeps
                 * signals blocked so SIGINT/SIGWINCH reach the reader. */
                pthread_t t;
                int r = pthread_create(&t, NULL, line_loop_thread, &v);
                if (r != 0) {
                        say("FAIL pthread_create: %s", strerror(r));
                        return 2;
                }
                block_all_signals();
                say("READY pid=%d", (int)pid);
                sleep_forever();
        }

        say("READY pid=%d", (int)pid);
        line_loop(&v);
}
