/* SPDX-License-Identifier: MIT */
/*
 * bench: how `reptyrctl adopt` performs against the product's bars, with
 * --direct and (as root, given a reptyrd) through the helper.
 *
 *   bench [-n RUNS] [-s FLOOD_BYTES] [-k KEYSTROKES]
 *         [--reptyrd PATH --bus-policy CONF --polkit-policy POLICY
 *          [--rules RULES]...] REPTYRCTL VICTIM
 *
 * Three figures, each measured RUNS times with a fresh victim and reported as
 * min / median / max beside its limit or baseline:
 *
 *  (a) first echo: from fork+exec of `reptyrctl adopt --direct -q PID` (on a
 *      fresh pty C, in its own session with C as controlling tty) to the first
 *      echoed byte read on C's master. An "x" is typed into C right after the
 *      spawn; it waits in C's input queue until the relay forwards it to the
 *      new terminal, whose ECHO sends it back. The victim runs `read` on its
 *      own pty A, in its own session.
 *  (b) frozen: the victim runs `tick` (a loop of ~200 us sleeps that tracks its
 *      longest gap and prints "GAP <us>" when a line is typed, then resets).
 *      A line resets it, the victim is adopted, another line asks for the
 *      gap. The baseline is the same victim, not adopted, over the same
 *      duration: what the scheduler alone costs.
 *  (c) relay throughput: the victim runs `write-flood N`; bytes per second
 *      read on C's master through the relay, against the same victim writing
 *      straight into a pty whose master the bench reads (the limit), and
 *      through the classic reptyr's loop (4 KiB reads, blocking writes; a
 *      child of bench between the victim's pty and C): the reference; and
 *      through a bare loop of blocking reads and writes with no poll(), the
 *      least any relay has to do. The four take turns at going first from
 *      one run to the next. Each also records the whole machine's CPU time
 *      per MiB and its idle share.
 *
 * Then keystroke round trips (-k of them, one at a time, p50 and p99): a
 * byte typed into the terminal comes back as the echo of the victim's line
 * discipline (canonical mode off, echo on), on a direct pty, through the
 * classic loop and through reptyrctl's relay.
 *
 * Through the helper (with --reptyrd, as root), after those: bus-bench.py
 * (a coprocess, with tests/lib/rig.py) runs a private dbus-daemon with the
 * project's bus policy and an activation file for that reptyrd, told by
 * --ptrace-scope-file that Yama's ptrace_scope is 0, and real polkitd with
 * the given actions and rules; so the shipped default rule lets a user adopt
 * its own process without a password. Victim and reptyrctl (copies in a
 * mode-755 directory) run as nobody:nogroup without supplementary groups,
 * the credentials `setpriv --reuid=nobody --regid=nogroup --clear-groups`
 * gives, set in the forked child itself so that no extra exec is timed. The
 * first echo, measured as in (a) with `reptyrctl adopt --no-ask-password -q
 * PID`, after one unmeasured adoption that warms polkitd up:
 *
 *  (d) cold: the helper is not running (stopped before each run, its name
 *      gone from the bus): bus activation + polkit + adoption;
 *  (e) warm: the helper already running (the same process for every run);
 *  (f) the helper's VmRSS and VmHWM from /proc after those runs.
 *
 * Nothing here sleeps for a fixed time: every wait is a poll() against a
 * deadline. Every child is killed and reaped before exit, also on SIGINT and
 * SIGTERM; the coprocess tears its bus, polkitd and helper down when told to,
 * on those signals, or when bench is gone (EOF on its stdin). Exit status: 0
 * when every figure was measured (met or not), or the helper figures were
 * skipped with the reason (not root, no polkitd); 1 when a measurement
 * failed, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_MSEC INT64_C(1000000)
#define NSEC_PER_SEC INT64_C(1000000000)

/* Generous deadlines: they only bound a broken run, they never pace one. */
#define DEADLINE_READY (10 * NSEC_PER_SEC)
#define DEADLINE_ADOPT (10 * NSEC_PER_SEC)
#define DEADLINE_REPLY (10 * NSEC_PER_SEC)
#define DEADLINE_FLOOD (120 * NSEC_PER_SEC)
#define DEADLINE_EXIT (5 * NSEC_PER_SEC)
/* The coprocess: setting up waits up to 10 s for each of the bus and polkitd,
 * stopping the helper up to 6 s for its exit and 10 s for its name to go. */
#define DEADLINE_RIG (60 * NSEC_PER_SEC)

/* The product's performance bars (brief: product.md, engine.md). */
#define TARGET_ECHO_MS 20.0
#define TARGET_FROZEN_MS 1.5
#define TARGET_RELAY_RATIO 0.95
/* Through the helper (brief: issue "the privileged path", benchmark). */
#define TARGET_HELPER_COLD_MS 60.0
#define TARGET_HELPER_WARM_MS 30.0
#define TARGET_HELPER_RSS_KIB 4096.0

/* Where bench finds its coprocess; meson passes the source tree's. */
#ifndef BUS_BENCH_SCRIPT
#define BUS_BENCH_SCRIPT "tests/bench/bus-bench.py"
#endif
#ifndef PYTHON3
#define PYTHON3 "/usr/bin/python3"
#endif

static const char *reptyrctl_path;
static const char *victim_path;

/* ---- children: every pid we forked, so that nothing outlives us ---- */

#define MAX_CHILDREN 16
static volatile pid_t children[MAX_CHILDREN];

static void child_track(pid_t pid) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == 0) {
                        children[i] = pid;
                        return;
                }
        /* Cannot happen with at most four children alive per run. */
        kill(pid, SIGKILL);
        abort();
}

static void child_untrack(pid_t pid) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

static void kill_all_children(void) {
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] > 0)
                        kill(children[i], SIGKILL);
}

static void reap_all_children(void) {
        kill_all_children();
        for (size_t i = 0; i < MAX_CHILDREN; i++)
                if (children[i] > 0) {
                        while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR)
                                ;
                        children[i] = 0;
                }
}

static void on_fatal_signal(int sig) {
        kill_all_children();
        signal(sig, SIG_DFL);
        raise(sig);
}

/* ---- time ---- */

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Milliseconds left until `deadline`, rounded up, for poll(); 0 when past. */
static int ms_until(int64_t deadline) {
        int64_t left = deadline - now_ns();

        if (left <= 0)
                return 0;
        left = (left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
        return left > INT_MAX ? INT_MAX : (int)left;
}

/* ---- error reporting: one line naming the run and the reason ---- */

static char failure[512];

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(failure, sizeof(failure), fmt, ap);
        va_end(ap);
        return -1;
}

/* ---- ptys ---- */

struct pty {
        int master;
        int slave; /* open until the child that uses it runs; -1 after */
        char name[64];
};

/* A fresh pty with the kernel's default (cooked, echoing) termios. The
 * slave is opened here and handed to the child by fork, never reopened by
 * name: if every slave fd were closed even for a moment before the child's
 * open, the master would report a hangup and lose what the child writes. */
static int pty_open(struct pty *p) {
        p->slave = -1;
        p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (p->master < 0)
                return fail("posix_openpt: %s", strerror(errno));
        if (grantpt(p->master) < 0 || unlockpt(p->master) < 0 ||
            ptsname_r(p->master, p->name, sizeof(p->name)) != 0)
                return fail("pty setup: %s", strerror(errno));
        p->slave = open(p->name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (p->slave < 0)
                return fail("open %s: %s", p->name, strerror(errno));
        if (fcntl(p->master, F_SETFL, fcntl(p->master, F_GETFL) | O_NONBLOCK) < 0)
                return fail("O_NONBLOCK on pty master: %s", strerror(errno));
        return 0;
}

static void pty_close(struct pty *p) {
        if (p->master >= 0)
                close(p->master);
        if (p->slave >= 0)
                close(p->slave);
        p->master = p->slave = -1;
}

/* The terminal reptyrctl runs on starts out raw, as a terminal emulator in
 * the middle of a session would be after a full-screen program: otherwise
 * C's own line discipline would echo the typed-ahead "x" at once, long
 * before the relay exists. */
static int pty_make_raw(const struct pty *p) {
        struct termios t;

        if (tcgetattr(p->slave, &t) < 0)
                return fail("tcgetattr %s: %s", p->name, strerror(errno));
        cfmakeraw(&t);
        if (tcsetattr(p->slave, TCSANOW, &t) < 0)
                return fail("tcsetattr %s: %s", p->name, strerror(errno));
        return 0;
}

/* Who a child runs as: NULL is bench's own credentials and environment. */
struct identity {
        uid_t uid;
        gid_t gid;
        char **envp;
};

/* Fork and exec argv in its own session whose controlling terminal is the
 * slave of `p`, with that slave as stdin, stdout and stderr, as `who`
 * (without supplementary groups) when not NULL. The parent's copy of the
 * slave is closed once the child holds its own. */
static pid_t spawn_on_pty_as(struct pty *p, char *const argv[], const struct identity *who) {
        pid_t pid = fork();

        if (pid < 0)
                return fail("fork: %s", strerror(errno));
        if (pid == 0) {
                if (setsid() < 0 || ioctl(p->slave, TIOCSCTTY, 0) < 0)
                        _exit(126);
                /* dup2 clears O_CLOEXEC on 0, 1 and 2; the original closes
                 * at exec. */
                if (dup2(p->slave, 0) < 0 || dup2(p->slave, 1) < 0 || dup2(p->slave, 2) < 0)
                        _exit(126);
                signal(SIGPIPE, SIG_DFL);
                if (who) {
                        /* What setpriv --reuid --regid --clear-groups does. */
                        if (setgroups(0, NULL) < 0 || setresgid(who->gid, who->gid, who->gid) < 0 ||
                            setresuid(who->uid, who->uid, who->uid) < 0)
                                _exit(126);
                        execve(argv[0], argv, who->envp);
                } else {
                        execv(argv[0], argv);
                }
                _exit(127);
        }
        child_track(pid);
        close(p->slave);
        p->slave = -1;
        return pid;
}

static int pidfd_open_checked(pid_t pid) {
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);

        if (fd < 0)
                return fail("pidfd_open %d: %s", (int)pid, strerror(errno));
        return fd;
}

/* Kill a child and reap it; `sig` first, SIGKILL if it is still there at the
 * deadline. Returns its wait status, or -1. */
static int child_stop(pid_t pid, int sig) {
        int status = -1, pidfd;

        if (pid <= 0)
                return -1;
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        kill(pid, sig);
        if (pidfd >= 0) {
                struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
                int64_t deadline = now_ns() + DEADLINE_EXIT;
                int r;

                do
                        r = poll(&pfd, 1, ms_until(deadline));
                while (r < 0 && errno == EINTR);
                if (r <= 0)
                        kill(pid, SIGKILL);
                close(pidfd);
        } else {
                kill(pid, SIGKILL);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        child_untrack(pid);
        return status;
}

static char *describe_status(int status, char *buf, size_t len) {
        if (WIFEXITED(status))
                snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
        else
                snprintf(buf, len, "wait status 0x%x", (unsigned)status);
        return buf;
}

/* ---- reading what a terminal says ---- */

/* What a master has said so far (the tail of it), for matching and for error
 * messages. */
struct transcript {
        char text[4096];
        size_t len;
        uint64_t total; /* every byte ever read */
};

static void transcript_add(struct transcript *t, const char *buf, size_t n) {
        t->total += n;
        if (n >= sizeof(t->text) - 1) {
                buf += n - (sizeof(t->text) - 1);
                n = sizeof(t->text) - 1;
        }
        if (t->len + n > sizeof(t->text) - 1) {
                size_t drop = t->len + n - (sizeof(t->text) - 1);
                memmove(t->text, t->text + drop, t->len - drop);
                t->len -= drop;
        }
        memcpy(t->text + t->len, buf, n);
        t->len += n;
        t->text[t->len] = '\0';
}

static void transcript_reset(struct transcript *t) {
        t->len = 0;
        t->text[0] = '\0';
}

/* A printable, one-line version of the transcript's tail. */
static const char *transcript_show(const struct transcript *t) {
        static char out[256];
        size_t start = t->len > 120 ? t->len - 120 : 0, j = 0;

        for (size_t i = start; i < t->len && j + 5 < sizeof(out); i++) {
                unsigned char c = (unsigned char)t->text[i];
                if (c == '\n') {
                        out[j++] = '\\';
                        out[j++] = 'n';
                } else if (c == '\r') {
                        out[j++] = '\\';
                        out[j++] = 'r';
                } else if (c < 0x20 || c >= 0x7f) {
                        out[j++] = '.';
                } else {
                        out[j++] = (char)c;
                }
        }
        out[j] = '\0';
        return j ? out : "(nothing)";
}

static int write_all(int fd, const char *s) {
        size_t len = strlen(s);

        while (len > 0) {
                ssize_t n = write(fd, s, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                        poll(&pfd, 1, 1000);
                        continue;
                }
                if (n < 0)
                        return fail("write to pty master: %s", strerror(errno));
                s += n;
                len -= (size_t)n;
        }
        return 0;
}

static char big_buffer[1 << 20];

/* Wait until `done(t)` holds for what `fd` said, reading everything it says
 * in the meantime (also from the `drain` fds, whose output is discarded so
 * that no writer ever blocks on a full terminal). Gives up at `deadline`, or
 * when `watch` (reptyrctl's pidfd, or -1) reports it has exited. Returns 1
 * when done, 0 at the deadline, -1 (with `failure` set) when reptyrctl
 * exited, the terminal hung up, or on error. */
static int wait_for(int fd, struct transcript *t, bool (*done)(const struct transcript *t),
                    int64_t deadline, int watch, const int *drain, size_t n_drain) {
        struct pollfd pfd[8];
        size_t n_pfd = 0;
        bool exited = false;

        if (done(t))
                return 1;
        pfd[n_pfd++] = (struct pollfd){.fd = fd, .events = POLLIN};
        for (size_t i = 0; i < n_drain && n_pfd < 7; i++)
                pfd[n_pfd++] = (struct pollfd){.fd = drain[i], .events = POLLIN};
        if (watch >= 0)
                pfd[n_pfd++] = (struct pollfd){.fd = watch, .events = POLLIN};

        for (;;) {
                int r = poll(pfd, n_pfd, ms_until(deadline));

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return fail("poll: %s", strerror(errno));
                if (r == 0)
                        return exited ? fail("reptyrctl exited; the terminal said: %s",
                                             transcript_show(t))
                                      : 0;
                for (size_t i = 0; i < n_pfd; i++) {
                        if (!pfd[i].revents || (watch >= 0 && pfd[i].fd == watch))
                                continue;
                        for (;;) {
                                ssize_t n = read(pfd[i].fd, big_buffer, sizeof(big_buffer));
                                if (n > 0) {
                                        if (i == 0)
                                                transcript_add(t, big_buffer, (size_t)n);
                                        continue;
                                }
                                if (n < 0 && errno == EINTR)
                                        continue;
                                if (n < 0 && errno != EAGAIN && i > 0)
                                        pfd[i].fd = -1; /* a drained pty hung up */
                                if (n < 0 && errno == EIO && i == 0) {
                                        /* Every slave closed: nothing more will come. */
                                        if (done(t))
                                                return 1;
                                        return fail("the terminal hung up (every slave closed); "
                                                    "it said: %s",
                                                    transcript_show(t));
                                }
                                break;
                        }
                        if (i == 0 && done(t))
                                return 1;
                }
                if (watch >= 0 && pfd[n_pfd - 1].fd == watch && pfd[n_pfd - 1].revents) {
                        /* reptyrctl is gone, but what it wrote last may still be on
                         * its way through the pty: read on until the hangup, briefly. */
                        int64_t drain_deadline = now_ns() + NSEC_PER_SEC;
                        exited = true;
                        pfd[n_pfd - 1].fd = -1;
                        if (drain_deadline < deadline)
                                deadline = drain_deadline;
                }
        }
}

static bool has_x(const struct transcript *t) { return memchr(t->text, 'x', t->len) != NULL; }

/* "GAP <us>" followed by the end of its line. */
static bool parse_gap(const struct transcript *t, double *us) {
        const char *p = t->text, *last = NULL;

        while ((p = strstr(p, "GAP ")) != NULL) {
                last = p;
                p += 4;
        }
        if (!last)
                return false;
        last += 4;
        if (!strpbrk(last, "\r\n"))
                return false;
        if (us) {
                char *end;
                errno = 0;
                *us = strtod(last, &end);
                if (end == last || errno)
                        return false;
        }
        return true;
}

static bool has_gap(const struct transcript *t) { return parse_gap(t, NULL); }

/* "DONE" anywhere in what was read; the transcript keeps a tail large enough
 * that a marker split over two reads is still found. */
static bool has_done(const struct transcript *t) { return strstr(t->text, "DONE") != NULL; }

static bool has_ready(const struct transcript *t) { return strstr(t->text, "READY") != NULL; }

/* ---- one adoption ---- */

struct session {
        struct pty a;         /* the victim's terminal */
        struct pty c;         /* the terminal reptyrctl runs on */
        pid_t victim, client; /* 0 when not running */
        int client_pidfd;
        struct transcript out_a, out_c;
};

static void session_init(struct session *s) {
        memset(s, 0, sizeof(*s));
        s->a.master = s->a.slave = s->c.master = s->c.slave = s->client_pidfd = -1;
}

/* Start the victim (as `who`) on a fresh pty A and wait for its
 * "READY pid=N". */
static int start_victim_as(struct session *s, char *const argv[], const struct identity *who) {
        int r;

        if (pty_open(&s->a) < 0)
                return -1;
        s->victim = spawn_on_pty_as(&s->a, argv, who);
        if (s->victim < 0) {
                s->victim = 0;
                return -1;
        }
        r = wait_for(s->a.master, &s->out_a, has_ready, now_ns() + DEADLINE_READY, -1, NULL, 0);
        if (r == 0)
                return fail("victim %s did not say READY within %" PRId64 " s; it said: %s",
                            argv[1], DEADLINE_READY / NSEC_PER_SEC, transcript_show(&s->out_a));
        return r < 0 ? -1 : 0;
}

static int start_victim(struct session *s, char *const argv[]) {
        return start_victim_as(s, argv, NULL);
}

/* Spawn the client `argv` (as `who`) on a fresh raw pty C and type "x" into
 * C at once. Returns the spawn time in *t0. */
static int start_client_as(struct session *s, int64_t *t0, char *const argv[],
                           const struct identity *who) {
        if (pty_open(&s->c) < 0 || pty_make_raw(&s->c) < 0)
                return -1;
        *t0 = now_ns();
        s->client = spawn_on_pty_as(&s->c, argv, who);
        if (s->client < 0) {
                s->client = 0;
                return -1;
        }
        if (write_all(s->c.master, "x") < 0)
                return -1;
        s->client_pidfd = pidfd_open_checked(s->client);
        return s->client_pidfd < 0 ? -1 : 0;
}

/* `reptyrctl adopt --direct -q PID` for the victim of `s`. */
static int start_client(struct session *s, int64_t *t0) {
        char pid_arg[32];
        char *argv[] = {(char *)reptyrctl_path, "adopt", "--direct", "-q", pid_arg, NULL};

        snprintf(pid_arg, sizeof(pid_arg), "%d", (int)s->victim);
        return start_client_as(s, t0, argv, NULL);
}

/* Wait for the echoed "x" on C. Returns 0 and *t1, or -1 with the reason. */
static int wait_echo(struct session *s, int64_t *t1) {
        int r = wait_for(s->c.master, &s->out_c, has_x, now_ns() + DEADLINE_ADOPT, s->client_pidfd,
                         &s->a.master, 1);

        *t1 = now_ns();
        if (r == 1)
                return 0;
        if (r == 0)
                return fail("no echo of typed-ahead \"x\" within %" PRId64
                            " s (adoption hung, or the client discarded typeahead, e.g. "
                            "TCSAFLUSH); reptyrctl said: %s",
                            DEADLINE_ADOPT / NSEC_PER_SEC, transcript_show(&s->out_c));
        /* Most likely reptyrctl gave up: give it a moment to exit, then tell
         * how it ended and what it said. */
        if (s->client > 0) {
                struct pollfd pfd = {.fd = s->client_pidfd, .events = POLLIN};
                int64_t deadline = now_ns() + DEADLINE_EXIT;
                char how[64];
                int status;

                while (poll(&pfd, 1, ms_until(deadline)) < 0 && errno == EINTR)
                        ;
                if (!pfd.revents)
                        return -1;
                status = child_stop(s->client, SIGKILL);
                s->client = 0;
                return fail("reptyrctl %s before the echo; it said: %s",
                            describe_status(status, how, sizeof(how)), transcript_show(&s->out_c));
        }
        return -1;
}

static void session_end(struct session *s) {
        /* The victim first: its exit is what makes the relay end by itself. */
        if (s->victim > 0)
                child_stop(s->victim, SIGKILL);
        if (s->client > 0)
                child_stop(s->client, SIGTERM);
        s->victim = s->client = 0;
        if (s->client_pidfd >= 0)
                close(s->client_pidfd);
        s->client_pidfd = -1;
        pty_close(&s->a);
        pty_close(&s->c);
}

/* ---- the three figures ---- */

static int run_first_echo(double *ms) {
        char *argv[] = {(char *)victim_path, "read", NULL};
        struct session s;
        int64_t t0, t1;
        int r;

        session_init(&s);
        r = start_victim(&s, argv);
        if (r == 0)
                r = start_client(&s, &t0);
        if (r == 0)
                r = wait_echo(&s, &t1);
        if (r == 0)
                *ms = (double)(t1 - t0) / 1e6;
        session_end(&s);
        return r;
}

/* Type a line into `line_fd` and wait for "GAP <us>" on `out_fd`. */
static int ask_gap(int line_fd, int out_fd, struct transcript *t, int watch, const int *drain,
                   size_t n_drain, double *us) {
        int r;

        transcript_reset(t);
        if (write_all(line_fd, "\n") < 0)
                return -1;
        r = wait_for(out_fd, t, has_gap, now_ns() + DEADLINE_REPLY, watch, drain, n_drain);
        if (r < 0)
                return -1;
        if (r == 0)
                return fail("no \"GAP <us>\" line within %" PRId64 " s; the terminal said: %s",
                            DEADLINE_REPLY / NSEC_PER_SEC, transcript_show(t));
        if (!parse_gap(t, us))
                return fail("cannot parse GAP in: %s", transcript_show(t));
        return 0;
}

static int run_frozen(double *frozen_ms, double *baseline_ms) {
        char *argv[] = {(char *)victim_path, "tick", NULL};
        struct session s;
        int64_t t0, t1, duration;
        double us;
        int r;

        /* Adopted: reset the victim's gap, adopt, ask for the gap. */
        session_init(&s);
        r = start_victim(&s, argv);
        if (r == 0)
                r = ask_gap(s.a.master, s.a.master, &s.out_a, -1, NULL, 0, &us);
        t0 = now_ns();
        if (r == 0)
                r = start_client(&s, &t1);
        if (r == 0)
                r = wait_echo(&s, &t1);
        if (r == 0)
                r = ask_gap(s.c.master, s.c.master, &s.out_c, s.client_pidfd, &s.a.master, 1, &us);
        duration = now_ns() - t0;
        session_end(&s);
        if (r < 0)
                return r;
        *frozen_ms = us / 1e3;

        /* Baseline: the same victim, left alone for the same duration. */
        session_init(&s);
        r = start_victim(&s, argv);
        if (r == 0)
                r = ask_gap(s.a.master, s.a.master, &s.out_a, -1, NULL, 0, &us);
        if (r == 0) {
                struct transcript sink = {.len = 0};
                /* Waiting for output that never comes: a deadline, not a sleep
                 * whose length was guessed. */
                r = wait_for(s.a.master, &sink, has_done, now_ns() + duration, -1, NULL, 0) < 0 ? -1
                                                                                                : 0;
        }
        if (r == 0)
                r = ask_gap(s.a.master, s.a.master, &s.out_a, -1, NULL, 0, &us);
        session_end(&s);
        if (r == 0)
                *baseline_ms = us / 1e3;
        return r;
}

/* What one flood measured. */
struct flood {
        double rate;         /* bytes per second read on the terminal */
        double cpu;          /* the relay's own CPU, ms per MiB, or -1 */
        double machine;      /* every CPU's busy time, ms per MiB, or -1 */
        double machine_idle; /* the share of CPU time left idle, percent */
};

/* Busy and idle time of all CPUs so far, in clock ticks (/proc/stat). Steal
 * counts as neither: it is time another guest had. */
static int machine_ticks(int64_t *busy, int64_t *idle) {
        long long v[8] = {0};
        FILE *f = fopen("/proc/stat", "re");
        int n;

        if (!f)
                return -1;
        n = fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
        fclose(f);
        if (n < 7)
                return -1;
        /* user nice system idle iowait irq softirq (steal) */
        *busy = v[0] + v[1] + v[2] + v[5] + v[6];
        *idle = v[3] + v[4];
        return 0;
}

/* Trigger the flood with a line on `line_fd`, count bytes on `out_fd` until
 * "DONE". Also what the whole machine spent on it: the victim, the reader,
 * the relay and the kernel's workers moving bytes between the two ends of
 * each pty. */
static int measure_flood(int line_fd, int out_fd, struct transcript *t, int watch, const int *drain,
                         size_t n_drain, struct flood *f) {
        int64_t t0, t1, busy0, idle0, busy1, idle1;
        bool ticks;
        uint64_t before;
        int r;

        transcript_reset(t);
        before = t->total;
        ticks = machine_ticks(&busy0, &idle0) == 0;
        t0 = now_ns();
        if (write_all(line_fd, "\n") < 0)
                return -1;
        r = wait_for(out_fd, t, has_done, t0 + DEADLINE_FLOOD, watch, drain, n_drain);
        t1 = now_ns();
        ticks = ticks && machine_ticks(&busy1, &idle1) == 0;
        if (r < 0)
                return -1;
        if (r == 0)
                return fail("no DONE within %" PRId64 " s after %" PRIu64
                            " bytes; the terminal said: %s",
                            DEADLINE_FLOOD / NSEC_PER_SEC, t->total - before, transcript_show(t));
        f->rate = (double)(t->total - before) / ((double)(t1 - t0) / 1e9);
        f->cpu = f->machine = -1;
        f->machine_idle = -1;
        if (ticks && busy1 + idle1 > busy0 + idle0) {
                double tick_ms = 1000.0 / (double)sysconf(_SC_CLK_TCK);
                f->machine = (double)(busy1 - busy0) * tick_ms /
                             ((double)(t->total - before) / (1 << 20));
                f->machine_idle =
                        100.0 * (double)(idle1 - idle0) / (double)(busy1 - busy0 + idle1 - idle0);
        }
        return 0;
}

/* CPU time `pid` has used so far, in ns (the scheduler's own account, not
 * clock ticks); -1 when it cannot be read. */
static int64_t cpu_ns(pid_t pid) {
        char path[64], buf[128];
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        return strtoll(buf, NULL, 10);
}

/* The relay's CPU cost of a flood: ms per MiB relayed, or -1. */
static double cpu_ms_per_mib(int64_t before, int64_t after, unsigned long long bytes) {
        if (before < 0 || after < 0)
                return -1;
        return (double)(after - before) / 1e6 / ((double)bytes / (1 << 20));
}

/* A fresh session whose victim on A is ready to write `flood_bytes`. */
static int start_flood_victim(struct session *s, unsigned long long flood_bytes) {
        char size_arg[32];
        char *argv[] = {(char *)victim_path, "write-flood", size_arg, NULL};

        snprintf(size_arg, sizeof(size_arg), "%llu", flood_bytes);
        session_init(s);
        return start_victim(s, argv);
}

/* A flood read on C through the session's relay (s->client), with the
 * relay's own CPU per MiB. */
static int measure_relayed_flood(struct session *s, const int *drain, size_t n_drain,
                                 unsigned long long flood_bytes, struct flood *f) {
        int64_t c0 = cpu_ns(s->client);
        int r = measure_flood(s->c.master, s->c.master, &s->out_c, s->client_pidfd, drain, n_drain,
                              f);

        f->cpu = cpu_ms_per_mib(c0, cpu_ns(s->client), flood_bytes);
        return r;
}

static int run_relay(unsigned long long flood_bytes, struct flood *f) {
        struct session s;
        int64_t t0, t1;
        int r;

        /* Through the relay: victim adopted onto B, bytes read on C. The typed
         * "x" becomes part of the line that starts the flood. */
        r = start_flood_victim(&s, flood_bytes);
        if (r == 0)
                r = start_client(&s, &t0);
        if (r == 0)
                r = wait_echo(&s, &t1);
        if (r == 0)
                r = measure_relayed_flood(&s, &s.a.master, 1, flood_bytes, f);
        session_end(&s);
        return r;
}

/* The limit: the same victim writing straight into a pty. */
static int run_direct(unsigned long long flood_bytes, struct flood *f) {
        struct session s;
        int r = start_flood_victim(&s, flood_bytes);

        if (r == 0)
                r = measure_flood(s.a.master, s.a.master, &s.out_a, -1, NULL, 0, f);
        session_end(&s);
        return r;
}

struct series {
        double *v;
        size_t n;
};

/* The paths a flood is measured on, in each run. */
enum flow { FLOW_RELAY, FLOW_DIRECT, FLOW_CLASSIC, FLOW_BARE, _FLOW_MAX };

/* The floods of one path over the runs. */
struct flow_series {
        struct series rate;    /* MiB/s */
        struct series cpu;     /* the relay process's own ms per MiB */
        struct series machine; /* all CPUs' busy ms per MiB */
        struct series idle;    /* percent of CPU time left idle */
};

/* ---- the classic relay, as a reference ---- */

/* A reference relay's blocking write of all it read; the relay ends on
 * error, as the classic tool's does. */
static void copy_out_or_die(int fd, const char *buf, ssize_t n) {
        for (ssize_t off = 0; off < n;) {
                ssize_t k = write(fd, buf + off, (size_t)(n - off));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        _exit(1);
                off += k;
        }
}

/* The plain loop the classic reptyr runs after attaching, written here so
 * that the comparison needs no outside tool: wait for either side, read at
 * most 4 KiB from it, write all of it to the other side with blocking
 * writes. It runs in a child of bench (no exec), on C's slave as its stdin
 * and stdout, holding B's master; the victim runs on B. */
static _Noreturn void classic_relay_loop(int master) {
        char buf[4096];
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = master, .events = POLLIN}};
        int fds[2][2] = {{STDIN_FILENO, master}, {master, STDOUT_FILENO}};

        if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) & ~O_NONBLOCK) < 0)
                _exit(126);
        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                for (int i = 0; i < 2; i++) {
                        ssize_t n;

                        if (!p[i].revents)
                                continue;
                        n = read(fds[i][0], buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                _exit(0); /* the victim or the terminal is gone */
                        copy_out_or_die(fds[i][1], buf, n);
                }
        }
}

/* The least any relay can do, for the throughput floods only: pass on the
 * one line that starts the flood, then nothing but a blocking read of the
 * master and a blocking write of all of it, no poll(). */
static _Noreturn void bare_relay_loop(int master) {
        static char buf[64 * 1024];
        ssize_t n;

        if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) & ~O_NONBLOCK) < 0)
                _exit(126);
        do
                n = read(STDIN_FILENO, buf, sizeof(buf));
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                _exit(1);
        copy_out_or_die(master, buf, n);
        for (;;) {
                n = read(master, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(0);
                copy_out_or_die(STDOUT_FILENO, buf, n);
        }
}

/* Start a reference relay (the classic loop, or the bare one) between the
 * victim's pty (s->a) and a fresh raw pty C (s->c), as s->client. */
static int start_reference_relay(struct session *s, bool bare) {
        pid_t pid;

        if (pty_open(&s->c) < 0 || pty_make_raw(&s->c) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return fail("fork: %s", strerror(errno));
        if (pid == 0) {
                /* Not bench's handlers: they would kill bench's children. */
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                if (setsid() < 0 || ioctl(s->c.slave, TIOCSCTTY, 0) < 0 ||
                    dup2(s->c.slave, 0) < 0 || dup2(s->c.slave, 1) < 0)
                        _exit(126);
                close(s->c.master);
                close(s->c.slave);
                if (bare)
                        bare_relay_loop(s->a.master);
                classic_relay_loop(s->a.master);
        }
        child_track(pid);
        s->client = pid;
        close(s->c.slave);
        s->c.slave = -1;
        s->client_pidfd = pidfd_open_checked(pid);
        return s->client_pidfd < 0 ? -1 : 0;
}

static int run_reference(unsigned long long flood_bytes, struct flood *f, bool bare) {
        struct session s;
        int r = start_flood_victim(&s, flood_bytes);

        if (r == 0)
                r = start_reference_relay(&s, bare);
        if (r == 0)
                r = measure_relayed_flood(&s, NULL, 0, flood_bytes, f);
        session_end(&s);
        return r;
}

static int run_classic(unsigned long long flood_bytes, struct flood *f) {
        return run_reference(flood_bytes, f, false);
}

static int run_bare(unsigned long long flood_bytes, struct flood *f) {
        return run_reference(flood_bytes, f, true);
}

/* ---- keystroke latency ---- */

enum path { PATH_DIRECT, PATH_CLASSIC, PATH_OURS, _PATH_MAX };
static const char *const path_names[_PATH_MAX] = {"direct pty", "classic 4 KiB loop",
                                                  "reptyrctl relay"};

/* The victim's terminal leaves canonical mode with echo on, as an editor's
 * would: each keystroke is echoed by the line discipline the victim reads
 * from and read by the victim one byte at a time, and never piles up into a
 * line whose answer would be timed with the next keystroke. */
static int pty_noncanonical_echo(const struct pty *p) {
        struct termios t;

        if (tcgetattr(p->master, &t) < 0)
                return fail("tcgetattr %s: %s", p->name, strerror(errno));
        t.c_lflag &= ~(tcflag_t)ICANON;
        t.c_lflag |= ECHO;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(p->master, TCSANOW, &t) < 0)
                return fail("tcsetattr %s: %s", p->name, strerror(errno));
        return 0;
}

/* One keystroke typed into `fd`, timed until its echo comes back; in
 * microseconds in *us. Only echoed "k"s count, against *owed (keystrokes
 * typed into `fd` whose echo has not been seen): other output (the
 * victim's "WINCH" after adoption) must not pass for an echo. */
static int keystroke_round_trip(int fd, int watch, const int *drain, size_t n_drain,
                                unsigned long *owed, double *us) {
        int64_t t0 = now_ns(), deadline = t0 + DEADLINE_REPLY;

        if (write_all(fd, "k") < 0)
                return -1;
        ++*owed;
        for (;;) {
                struct pollfd p[4] = {{.fd = fd, .events = POLLIN}};
                size_t np = 1;
                ssize_t n;
                int r;

                for (size_t j = 0; j < n_drain && np < 3; j++)
                        p[np++] = (struct pollfd){.fd = drain[j], .events = POLLIN};
                if (watch >= 0)
                        p[np++] = (struct pollfd){.fd = watch, .events = POLLIN};
                r = poll(p, np, ms_until(deadline));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return fail("no echo of a keystroke within %" PRId64 " s",
                                    DEADLINE_REPLY / NSEC_PER_SEC);
                if (watch >= 0 && p[np - 1].revents)
                        return fail("the relay exited");
                for (size_t j = 1; j < np - (watch >= 0); j++)
                        if (p[j].revents)
                                (void)!read(p[j].fd, big_buffer, sizeof(big_buffer));
                if (!p[0].revents)
                        continue;
                n = read(fd, big_buffer, sizeof(big_buffer));
                for (ssize_t j = 0; j<n && * owed> 0; j++)
                        if (big_buffer[j] == 'k')
                                --*owed;
                if (n > 0 && *owed == 0)
                        break;
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return fail("read: %s", strerror(errno));
        }
        *us = (double)(now_ns() - t0) / 1e3;
        return 0;
}

/* The three paths set up side by side, then one keystroke through each in
 * turn, `keys` times: a change in the machine's load hits all three alike. */
static int run_latency(unsigned long keys, struct series out[_PATH_MAX]) {
        char *argv[] = {(char *)victim_path, "read", NULL};
        struct session s[_PATH_MAX];
        unsigned long owed[_PATH_MAX] = {0};
        int64_t t0, t1;
        int r = 0;

        for (int p = 0; p < _PATH_MAX; p++)
                session_init(&s[p]);
        for (int p = 0; r == 0 && p < _PATH_MAX; p++) {
                r = start_victim(&s[p], argv);
                if (r == 0)
                        r = pty_noncanonical_echo(&s[p].a);
        }
        if (r == 0)
                r = start_reference_relay(&s[PATH_CLASSIC], false);
        /* Adoption copies A's modes onto the new terminal. */
        if (r == 0)
                r = start_client(&s[PATH_OURS], &t0);
        if (r == 0)
                r = wait_echo(&s[PATH_OURS], &t1);
        for (unsigned long i = 0; r == 0 && i < keys; i++) {
                r = keystroke_round_trip(s[PATH_DIRECT].a.master, -1, NULL, 0, &owed[PATH_DIRECT],
                                         &out[PATH_DIRECT].v[i]);
                if (r == 0)
                        r = keystroke_round_trip(s[PATH_CLASSIC].c.master,
                                                 s[PATH_CLASSIC].client_pidfd, NULL, 0,
                                                 &owed[PATH_CLASSIC], &out[PATH_CLASSIC].v[i]);
                if (r == 0)
                        r = keystroke_round_trip(s[PATH_OURS].c.master, s[PATH_OURS].client_pidfd,
                                                 &s[PATH_OURS].a.master, 1, &owed[PATH_OURS],
                                                 &out[PATH_OURS].v[i]);
                if (r < 0) {
                        char reason[sizeof(failure)];
                        snprintf(reason, sizeof(reason), "%s", failure);
                        fail("keystroke %lu: %s", i + 1, reason);
                }
        }
        for (int p = 0; p < _PATH_MAX; p++) {
                out[p].n = r == 0 ? keys : 0;
                session_end(&s[p]);
        }
        return r;
}

/* ---- statistics and the table ---- */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static void series_sort(struct series *s) { qsort(s->v, s->n, sizeof(*s->v), cmp_double); }
static double series_min(const struct series *s) { return s->v[0]; }
static double series_max(const struct series *s) { return s->v[s->n - 1]; }

static double series_median(const struct series *s) {
        if (s->n % 2)
                return s->v[s->n / 2];
        return (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
}

/* Nearest rank: the smallest value with at least p % of them at or below. */
static double series_percentile(const struct series *s, double p) {
        size_t rank = (size_t)((p / 100.0) * (double)s->n + 0.999999);

        if (rank < 1)
                rank = 1;
        return s->v[rank > s->n ? s->n - 1 : rank - 1];
}

static void print_row(const char *name, const struct series *s, const char *limit,
                      const char *target, const char *met) {
        printf("%-26s %10.3f %10.3f %10.3f   %-24s %-20s %s\n", name, series_min(s),
               series_median(s), series_max(s), limit, target, met);
}

/* ---- through the helper: the coprocess that runs bus and polkitd ---- */

#define MAX_RULES 16

struct helper_opts {
        const char *reptyrd;
        const char *bus_policy;
        const char *polkit_policy;
        const char *rules[MAX_RULES];
        size_t n_rules;
};

struct rig {
        pid_t pid;      /* bus-bench.py, 0 when not running */
        int cmd, reply; /* our ends of its stdin and stdout */
        char buf[4096];
        size_t len;
        char address[1024];
        char reptyrctl[PATH_MAX]; /* the copies nobody can run */
        char victim[PATH_MAX];
};

/* The next line bus-bench.py says, without its newline. */
static int rig_read_line(struct rig *r, char *line, size_t size, int64_t deadline) {
        for (;;) {
                char *nl = memchr(r->buf, '\n', r->len);
                struct pollfd pfd = {.fd = r->reply, .events = POLLIN};
                ssize_t n;
                int p;

                if (nl || r->len == sizeof(r->buf)) {
                        size_t used = nl ? (size_t)(nl - r->buf) : r->len;
                        snprintf(line, size, "%.*s", (int)used, r->buf);
                        used += nl ? 1 : 0;
                        memmove(r->buf, r->buf + used, r->len - used);
                        r->len -= used;
                        return 0;
                }
                p = poll(&pfd, 1, ms_until(deadline));
                if (p < 0 && errno == EINTR)
                        continue;
                if (p < 0)
                        return fail("poll: %s", strerror(errno));
                if (p == 0)
                        return fail("bus-bench.py answered nothing within %" PRId64 " s",
                                    DEADLINE_RIG / NSEC_PER_SEC);
                n = read(r->reply, r->buf + r->len, sizeof(r->buf) - r->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return fail("reading from bus-bench.py: %s", strerror(errno));
                if (n == 0)
                        return fail("bus-bench.py exited without an answer (its messages, if "
                                    "any, are above)");
                r->len += (size_t)n;
        }
}

/* Read a line that must be "KEY VALUE"; VALUE (at most `size` bytes) in
 * `value`. "error REASON" from bus-bench.py becomes the failure. */
static int rig_expect(struct rig *r, const char *key, char *value, size_t size) {
        char line[sizeof(r->buf) + 1];
        size_t klen = strlen(key);

        if (rig_read_line(r, line, sizeof(line), now_ns() + DEADLINE_RIG) < 0)
                return -1;
        if (strncmp(line, "error ", 6) == 0)
                return fail("bus-bench.py: %s", line + 6);
        if (strncmp(line, key, klen) != 0 || (line[klen] != ' ' && line[klen] != '\0'))
                return fail("bus-bench.py said \"%s\", expected \"%s ...\"", line, key);
        if (value && (size_t)snprintf(value, size, "%s", line[klen] ? line + klen + 1 : "") >= size)
                return fail("bus-bench.py: %s too long", key);
        return 0;
}

/* Send a command, read its answer "KEY VALUE". */
static int rig_ask(struct rig *r, const char *cmd, const char *key, char *value, size_t size) {
        char line[64];
        size_t len = (size_t)snprintf(line, sizeof(line), "%s\n", cmd);

        if (write(r->cmd, line, len) != (ssize_t)len)
                return fail("telling bus-bench.py \"%s\": %s", cmd, strerror(errno));
        return rig_expect(r, key, value, size);
}

static int rig_ask_pid(struct rig *r, const char *cmd, const char *key, pid_t *pid) {
        char value[32], *end;
        long v;

        if (rig_ask(r, cmd, key, value, sizeof(value)) < 0)
                return -1;
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < 0 || v > INT_MAX)
                return fail("bus-bench.py: bad pid \"%s\"", value);
        *pid = (pid_t)v;
        return 0;
}

/* Start bus-bench.py and wait until its bus and polkitd are up. 0: ready;
 * 1: it cannot run here (the reason in `failure`); -1: it failed. */
static int rig_start(struct rig *r, const struct helper_opts *o) {
        char *argv[16 + 2 * MAX_RULES];
        char line[sizeof(r->buf) + 1];
        int in[2], out[2];
        size_t n = 0;

        memset(r, 0, sizeof(*r));
        r->cmd = r->reply = -1;
        argv[n++] = PYTHON3;
        argv[n++] = BUS_BENCH_SCRIPT;
        argv[n++] = "--bus-policy";
        argv[n++] = (char *)o->bus_policy;
        argv[n++] = "--polkit-policy";
        argv[n++] = (char *)o->polkit_policy;
        for (size_t i = 0; i < o->n_rules; i++) {
                argv[n++] = "--rules";
                argv[n++] = (char *)o->rules[i];
        }
        argv[n++] = "--reptyrd";
        argv[n++] = (char *)o->reptyrd;
        argv[n++] = "--reptyrctl";
        argv[n++] = (char *)reptyrctl_path;
        argv[n++] = "--victim";
        argv[n++] = (char *)victim_path;
        argv[n] = NULL;

        if (pipe2(in, O_CLOEXEC) < 0)
                return fail("pipe2: %s", strerror(errno));
        if (pipe2(out, O_CLOEXEC) < 0) {
                close(in[0]);
                close(in[1]);
                return fail("pipe2: %s", strerror(errno));
        }
        /* Not among `children`: a SIGKILL would leave its bus, polkitd and
         * helper behind. It tears down by itself when our end of its stdin
         * closes, whichever way bench ends. */
        r->pid = fork();
        if (r->pid == 0) {
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
                        _exit(126);
                execv(argv[0], argv);
                fprintf(stderr, "bench: %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        r->cmd = in[1];
        r->reply = out[0];
        if (r->pid < 0) {
                r->pid = 0;
                return fail("fork: %s", strerror(errno));
        }

        for (;;) {
                char *value;

                if (rig_read_line(r, line, sizeof(line), now_ns() + DEADLINE_RIG) < 0)
                        return -1;
                if (strcmp(line, "ready") == 0)
                        break;
                value = strchr(line, ' ');
                if (!value)
                        return fail("bus-bench.py said \"%s\"", line);
                *value++ = '\0';
                if (strcmp(line, "skip") == 0) {
                        fail("%s", value);
                        return 1;
                }
                if (strcmp(line, "error") == 0)
                        return fail("bus-bench.py: %s", value);
                if (strcmp(line, "address") == 0)
                        snprintf(r->address, sizeof(r->address), "%s", value);
                else if (strcmp(line, "reptyrctl") == 0)
                        snprintf(r->reptyrctl, sizeof(r->reptyrctl), "%s", value);
                else if (strcmp(line, "victim") == 0)
                        snprintf(r->victim, sizeof(r->victim), "%s", value);
                else
                        return fail("bus-bench.py said \"%s %s\"", line, value);
        }
        if (!r->address[0] || !r->reptyrctl[0] || !r->victim[0])
                return fail("bus-bench.py was ready without address, reptyrctl or victim");
        return 0;
}

/* Tell bus-bench.py to tear down and wait for it; SIGKILL at the deadline
 * (which leaves the helper behind: said on stderr). */
static void rig_end(struct rig *r) {
        if (r->cmd >= 0) {
                if (write(r->cmd, "quit\n", 5) < 0) {
                        /* gone already: the EOF below tells it the same */
                }
                close(r->cmd);
        }
        r->cmd = -1;
        if (r->pid > 0) {
                int pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);

                if (pidfd >= 0) {
                        struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
                        int64_t deadline = now_ns() + DEADLINE_RIG;
                        int p;

                        do
                                p = poll(&pfd, 1, ms_until(deadline));
                        while (p < 0 && errno == EINTR);
                        if (p == 0) {
                                fprintf(stderr,
                                        "bench: bus-bench.py did not tear down within "
                                        "%" PRId64 " s; killed\n",
                                        DEADLINE_RIG / NSEC_PER_SEC);
                                kill(r->pid, SIGKILL);
                        }
                        close(pidfd);
                }
                while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        r->pid = 0;
        if (r->reply >= 0)
                close(r->reply);
        r->reply = -1;
}

/* ---- through the helper: the measurements ---- */

struct helper {
        struct rig rig;
        struct identity who; /* nobody:nogroup, no groups, the rig's bus */
        char *envp[8];
        char env_bus[sizeof("DBUS_SYSTEM_BUS_ADDRESS=") + 1024];
        char env_term[256];
};

static int helper_init_identity(struct helper *h) {
        struct passwd *pw = getpwnam("nobody");
        struct group *gr = getgrnam("nogroup");
        const char *term = getenv("TERM");
        size_t n = 0;

        if (!pw)
                return fail("no user nobody");
        h->who.uid = pw->pw_uid;
        h->who.gid = gr ? gr->gr_gid : pw->pw_gid;
        snprintf(h->env_bus, sizeof(h->env_bus), "DBUS_SYSTEM_BUS_ADDRESS=%s", h->rig.address);
        h->envp[n++] = "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
        h->envp[n++] = "LANG=C.UTF-8";
        h->envp[n++] = "HOME=/";
        h->envp[n++] = h->env_bus;
        if (term) {
                snprintf(h->env_term, sizeof(h->env_term), "TERM=%s", term);
                h->envp[n++] = h->env_term;
        }
        h->envp[n] = NULL;
        h->who.envp = h->envp;
        return 0;
}

/* The first echo through the helper, as (a) but as nobody and without
 * --direct. */
static int run_helper_echo(struct helper *h, double *ms) {
        char pid_arg[32];
        char *vargv[] = {h->rig.victim, "read", NULL};
        char *cargv[] = {h->rig.reptyrctl, "adopt", "--no-ask-password", "-q", pid_arg, NULL};
        struct session s;
        int64_t t0, t1;
        int r;

        session_init(&s);
        r = start_victim_as(&s, vargv, &h->who);
        if (r == 0) {
                snprintf(pid_arg, sizeof(pid_arg), "%d", (int)s.victim);
                r = start_client_as(&s, &t0, cargv, &h->who);
        }
        if (r == 0)
                r = wait_echo(&s, &t1);
        if (r == 0)
                *ms = (double)(t1 - t0) / 1e6;
        session_end(&s);
        return r;
}

/* VmRSS and VmHWM of `pid`, in KiB. */
static int read_vm(pid_t pid, double *rss, double *hwm) {
        char path[64], line[256];
        int found = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return fail("%s: %s", path, strerror(errno));
        while (fgets(line, sizeof(line), f)) {
                unsigned long kib;

                if (sscanf(line, "VmRSS: %lu kB", &kib) == 1) {
                        *rss = (double)kib;
                        found |= 1;
                } else if (sscanf(line, "VmHWM: %lu kB", &kib) == 1) {
                        *hwm = (double)kib;
                        found |= 2;
                }
        }
        fclose(f);
        return found == 3 ? 0 : fail("%s: no VmRSS or VmHWM", path);
}

struct helper_figures {
        struct series cold, warm;
        double rss_kib, hwm_kib;
        bool have_vm;
        bool skipped;
        char skip_reason[256];
};

/* Stop the helper, or say why not. */
static int helper_stop(struct helper *h) {
        pid_t pid;

        return rig_ask_pid(&h->rig, "stop", "stopped", &pid);
}

/* A failed run: its reason, then the bus's and polkitd's logs on stderr. */
static void helper_run_failed(struct helper *h, const char *what, unsigned long run) {
        char reason[sizeof(failure)];

        snprintf(reason, sizeof(reason), "%s", failure);
        printf("bench: %s, run %lu FAILED: %s\n", what, run, reason);
        fflush(stdout);
        failure[0] = '\0';
        if (rig_ask(&h->rig, "logs", "ok", NULL, 0) < 0)
                printf("bench: (no logs: %s)\n", failure);
}

/* (d), (e), (f). Returns 0 when every figure was measured or the section
 * was skipped (f->skipped, with the reason), -1 when something failed. */
static int measure_helper(const struct helper_opts *o, unsigned long runs,
                          struct helper_figures *f) {
        struct helper h;
        pid_t warm_pid = 0, pid;
        bool ok = true;
        double ms;
        int r;

        memset(&h, 0, sizeof(h));
        f->skipped = false;
        if (geteuid() != 0) {
                f->skipped = true;
                snprintf(f->skip_reason, sizeof(f->skip_reason),
                         "needs root (private dbus-daemon, polkitd, running clients as nobody)");
                return 0;
        }
        failure[0] = '\0';
        r = rig_start(&h.rig, o);
        if (r == 1) {
                f->skipped = true;
                snprintf(f->skip_reason, sizeof(f->skip_reason), "%s", failure);
                rig_end(&h.rig);
                return 0;
        }
        if (r < 0 || helper_init_identity(&h) < 0) {
                printf("bench: through the helper: setup FAILED: %s\n", failure);
                rig_end(&h.rig);
                return -1;
        }
        printf("bench: through the helper %s: %s adopt --no-ask-password -q PID as nobody, "
               "victim %s, bus %s, %lu runs each cold and warm\n",
               o->reptyrd, reptyrctl_path, victim_path, h.rig.address, runs);
        fflush(stdout);

        /* One adoption first, not measured: it shows the path works at all,
         * and leaves polkitd warm (it has run the rules once) as it is on a
         * machine where it has served anyone before. */
        failure[0] = '\0';
        if (run_helper_echo(&h, &ms) < 0) {
                helper_run_failed(&h, "through the helper, warm-up adoption", 1);
                rig_end(&h.rig);
                return -1;
        }

        for (unsigned long i = 0; ok && i < runs; i++) {
                failure[0] = '\0';
                if (helper_stop(&h) == 0 && run_helper_echo(&h, &ms) == 0) {
                        f->cold.v[f->cold.n++] = ms;
                } else {
                        helper_run_failed(&h, "helper cold", i + 1);
                        ok = false;
                }
        }

        /* The helper the last cold run started serves every warm run. */
        failure[0] = '\0';
        if (ok && rig_ask_pid(&h.rig, "pid", "pid", &warm_pid) < 0) {
                helper_run_failed(&h, "helper warm", 0);
                ok = false;
        } else if (ok && warm_pid == 0) {
                fail("the helper is not running after the cold runs");
                helper_run_failed(&h, "helper warm", 0);
                ok = false;
        }
        for (unsigned long i = 0; ok && i < runs; i++) {
                failure[0] = '\0';
                if (run_helper_echo(&h, &ms) == 0 && rig_ask_pid(&h.rig, "pid", "pid", &pid) == 0) {
                        if (pid == warm_pid) {
                                f->warm.v[f->warm.n++] = ms;
                                continue;
                        }
                        fail("not warm: the helper is pid %d now, was %d (it exited and was "
                             "activated again)",
                             (int)pid, (int)warm_pid);
                }
                helper_run_failed(&h, "helper warm", i + 1);
                ok = false;
        }

        if (ok) {
                failure[0] = '\0';
                if (read_vm(warm_pid, &f->rss_kib, &f->hwm_kib) == 0) {
                        f->have_vm = true;
                } else {
                        printf("bench: helper RSS FAILED: %s\n", failure);
                        ok = false;
                }
        }
        rig_end(&h.rig);
        return ok ? 0 : -1;
}

static void print_single(const char *name, double v, const char *limit, const char *target,
                         const char *met) {
        printf("%-26s %10s %10.3f %10s   %-24s %-20s %s\n", name, "-", v, "-", limit, target, met);
}

static void usage(FILE *f) {
        fprintf(f, "usage: bench [-n RUNS] [-s FLOOD_BYTES] [-k KEYSTROKES]\n"
                   "             [--reptyrd PATH --bus-policy CONF --polkit-policy POLICY\n"
                   "              [--rules RULES]...] REPTYRCTL VICTIM\n"
                   "  Measures `REPTYRCTL adopt --direct -q PID` against VICTIM\n"
                   "  (modes read, tick, write-flood N). Defaults: 20 runs, 64 MiB flood,\n"
                   "  1000 keystrokes. Throughput and keystroke round trips are measured\n"
                   "  through reptyrctl's relay, through the classic reptyr loop (4 KiB reads,\n"
                   "  blocking writes; built in), through a bare read/write loop (floods\n"
                   "  only) and on a direct pty, side by side.\n"
                   "  With --reptyrd (as root), also `REPTYRCTL adopt --no-ask-password -q PID`\n"
                   "  as nobody through that helper, cold and warm, on a private bus\n"
                   "  (dbus/org.reptyr.Reptyr1.conf) with polkitd running the actions of\n"
                   "  POLICY (polkit/org.reptyr.Reptyr1.policy) and the RULES files\n"
                   "  (polkit/50-reptyr.rules); the helper's RSS after those runs.\n");
}

int main(int argc, char **argv) {
        unsigned long runs = 20, keys = 1000;
        struct series latency[_PATH_MAX], vs_direct, vs_classic;
        struct flow_series flows[_FLOW_MAX];
        unsigned long long flood = 64ull << 20;
        struct series echo, frozen, baseline;
        struct sigaction sa = {.sa_handler = on_fatal_signal};
        struct helper_opts hopts = {.n_rules = 0};
        struct helper_figures helper = {.skipped = false};
        enum { OPT_REPTYRD = 256, OPT_BUS_POLICY, OPT_POLKIT_POLICY, OPT_RULES };
        static const struct option longopts[] = {
                {"help", no_argument, NULL, 'h'},
                {"reptyrd", required_argument, NULL, OPT_REPTYRD},
                {"bus-policy", required_argument, NULL, OPT_BUS_POLICY},
                {"polkit-policy", required_argument, NULL, OPT_POLKIT_POLICY},
                {"rules", required_argument, NULL, OPT_RULES},
                {NULL, 0, NULL, 0},
        };
        bool ok = true;
        char limit[64], met[64];
        int opt;

        while ((opt = getopt_long(argc, argv, "hk:n:s:", longopts, NULL)) != -1) {
                char *end;
                switch (opt) {
                case OPT_REPTYRD:
                        hopts.reptyrd = optarg;
                        break;
                case OPT_BUS_POLICY:
                        hopts.bus_policy = optarg;
                        break;
                case OPT_POLKIT_POLICY:
                        hopts.polkit_policy = optarg;
                        break;
                case OPT_RULES:
                        if (hopts.n_rules == MAX_RULES) {
                                fprintf(stderr, "bench: at most %d --rules\n", MAX_RULES);
                                return 2;
                        }
                        hopts.rules[hopts.n_rules++] = optarg;
                        break;
                case 'n':
                        errno = 0;
                        runs = strtoul(optarg, &end, 10);
                        if (errno || *end || runs == 0 || runs > 100000) {
                                fprintf(stderr, "bench: -n wants a number of runs >= 1\n");
                                return 2;
                        }
                        break;
                case 'k':
                        errno = 0;
                        keys = strtoul(optarg, &end, 10);
                        if (errno || *end || keys > 1000000) {
                                fprintf(stderr, "bench: -k wants a number of keystrokes\n");
                                return 2;
                        }
                        break;
                case 's':
                        errno = 0;
                        flood = strtoull(optarg, &end, 10);
                        if (errno || *end || flood == 0) {
                                fprintf(stderr, "bench: -s wants a byte count >= 1\n");
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (argc - optind != 2) {
                usage(stderr);
                return 2;
        }
        reptyrctl_path = argv[optind];
        victim_path = argv[optind + 1];
        for (int i = 0; i < 2; i++)
                if (access(argv[optind + i], X_OK) < 0) {
                        fprintf(stderr, "bench: %s: %s\n", argv[optind + i], strerror(errno));
                        return 2;
                }
        if (hopts.reptyrd) {
                if (!hopts.bus_policy || !hopts.polkit_policy) {
                        fprintf(stderr, "bench: --reptyrd wants --bus-policy and "
                                        "--polkit-policy too\n");
                        return 2;
                }
                if (access(hopts.reptyrd, X_OK) < 0) {
                        fprintf(stderr, "bench: %s: %s\n", hopts.reptyrd, strerror(errno));
                        return 2;
                }
                for (size_t i = 0; i < 2 + hopts.n_rules; i++) {
                        const char *path = i == 0   ? hopts.bus_policy
                                           : i == 1 ? hopts.polkit_policy
                                                    : hopts.rules[i - 2];
                        if (access(path, R_OK) < 0) {
                                fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
                                return 2;
                        }
                }
        } else if (hopts.bus_policy || hopts.polkit_policy || hopts.n_rules) {
                fprintf(stderr, "bench: --bus-policy, --polkit-policy and --rules go with "
                                "--reptyrd\n");
                return 2;
        }

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        atexit(reap_all_children);

        echo.v = calloc(runs, sizeof(double));
        frozen.v = calloc(runs, sizeof(double));
        baseline.v = calloc(runs, sizeof(double));
        vs_direct.v = calloc(runs, sizeof(double));
        vs_classic.v = calloc(runs, sizeof(double));
        vs_direct.n = vs_classic.n = 0;
        for (int w = 0; w < _FLOW_MAX; w++) {
                struct series *all[] = {&flows[w].rate, &flows[w].cpu, &flows[w].machine,
                                        &flows[w].idle};

                for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
                        all[k]->v = calloc(runs, sizeof(double));
                        all[k]->n = 0;
                        if (!all[k]->v) {
                                fprintf(stderr, "bench: out of memory\n");
                                return 1;
                        }
                }
        }
        for (int p = 0; p < _PATH_MAX; p++) {
                latency[p].v = calloc(keys ? keys : 1, sizeof(double));
                latency[p].n = 0;
                if (!latency[p].v) {
                        fprintf(stderr, "bench: out of memory\n");
                        return 1;
                }
        }
        helper.cold.v = calloc(runs, sizeof(double));
        helper.warm.v = calloc(runs, sizeof(double));
        if (!echo.v || !frozen.v || !baseline.v || !vs_direct.v || !vs_classic.v ||
            !helper.cold.v || !helper.warm.v) {
                fprintf(stderr, "bench: out of memory\n");
                return 1;
        }
        echo.n = frozen.n = baseline.n = 0;

        printf("bench: %s adopt --direct -q PID, victim %s, %lu runs, %llu-byte flood\n",
               reptyrctl_path, victim_path, runs, flood);
        fflush(stdout);

        for (unsigned long i = 0; i < runs; i++) {
                double a, b;

                failure[0] = '\0';
                if (run_first_echo(&a) == 0)
                        echo.v[echo.n++] = a;
                else {
                        printf("bench: first echo, run %lu FAILED: %s\n", i + 1, failure);
                        ok = false;
                }
                failure[0] = '\0';
                if (run_frozen(&a, &b) == 0) {
                        frozen.v[frozen.n++] = a;
                        baseline.v[baseline.n++] = b;
                } else {
                        printf("bench: frozen, run %lu FAILED: %s\n", i + 1, failure);
                        ok = false;
                }
                /* The three floods of a run go in a rotating order, so that
                 * none of them is always the one that runs first (right after
                 * an adoption) or last; the ratios pair the three of one
                 * run, close in time, so the machine's load drifts less
                 * within a pair than across the series. */
                struct flood fl[_FLOW_MAX];
                bool have[_FLOW_MAX] = {false};

                for (unsigned long j = 0; j < _FLOW_MAX; j++) {
                        static int (*const run_path[_FLOW_MAX])(unsigned long long,
                                                                struct flood *) = {
                                [FLOW_RELAY] = run_relay,
                                [FLOW_DIRECT] = run_direct,
                                [FLOW_CLASSIC] = run_classic,
                                [FLOW_BARE] = run_bare,
                        };
                        static const char *const what[_FLOW_MAX] = {
                                [FLOW_RELAY] = "relay",
                                [FLOW_DIRECT] = "direct pty",
                                [FLOW_CLASSIC] = "classic relay",
                                [FLOW_BARE] = "bare relay",
                        };
                        unsigned long w = (i + j) % _FLOW_MAX;

                        failure[0] = '\0';
                        if (run_path[w](flood, &fl[w]) < 0) {
                                printf("bench: %s, run %lu FAILED: %s\n", what[w], i + 1, failure);
                                ok = false;
                                break;
                        }
                        have[w] = true;
                        flows[w].rate.v[flows[w].rate.n++] = fl[w].rate / (1 << 20);
                        if (fl[w].cpu >= 0)
                                flows[w].cpu.v[flows[w].cpu.n++] = fl[w].cpu;
                        if (fl[w].machine >= 0) {
                                flows[w].machine.v[flows[w].machine.n++] = fl[w].machine;
                                flows[w].idle.v[flows[w].idle.n++] = fl[w].machine_idle;
                        }
                }
                if (have[FLOW_RELAY] && have[FLOW_DIRECT])
                        vs_direct.v[vs_direct.n++] = fl[FLOW_RELAY].rate / fl[FLOW_DIRECT].rate;
                if (have[FLOW_RELAY] && have[FLOW_CLASSIC])
                        vs_classic.v[vs_classic.n++] = fl[FLOW_RELAY].rate / fl[FLOW_CLASSIC].rate;
                if (!ok)
                        break; /* a broken adoption will not mend itself */
        }

        /* Keystroke round trips on the three paths, interleaved. */
        failure[0] = '\0';
        if (ok && keys > 0 && run_latency(keys, latency) < 0) {
                printf("bench: keystroke latency FAILED: %s\n", failure);
                ok = false;
        }

        /* Through the helper, in the same run: beside the direct figures. */
        if (hopts.reptyrd && measure_helper(&hopts, runs, &helper) < 0)
                ok = false;

        printf("\n%-26s %10s %10s %10s   %-24s %-20s %s\n", "figure", "min", "median", "max",
               "limit/baseline (median)", "target", "met (on median)");
        if (echo.n) {
                series_sort(&echo);
                snprintf(met, sizeof(met), "%s",
                         series_median(&echo) <= TARGET_ECHO_MS ? "yes" : "NO");
                print_row("first echo (ms)", &echo, "-", "<= 20 ms", met);
        } else {
                printf("%-26s not measured\n", "first echo (ms)");
        }
        if (frozen.n) {
                series_sort(&frozen);
                series_sort(&baseline);
                snprintf(limit, sizeof(limit), "not adopted: %.3f", series_median(&baseline));
                snprintf(met, sizeof(met), "%s",
                         series_median(&frozen) <= TARGET_FROZEN_MS ? "yes" : "NO");
                print_row("target frozen, GAP (ms)", &frozen, limit, "<= 1.5 ms", met);
                print_row("  baseline GAP (ms)", &baseline, "(scheduler noise)", "-", "-");
        } else {
                printf("%-26s not measured\n", "target frozen, GAP (ms)");
        }
        if (flows[FLOW_RELAY].rate.n && flows[FLOW_DIRECT].rate.n) {
                struct series *relay = &flows[FLOW_RELAY].rate, *direct = &flows[FLOW_DIRECT].rate,
                              *classic = &flows[FLOW_CLASSIC].rate, *bare = &flows[FLOW_BARE].rate;
                static const char *const machine_rows[_FLOW_MAX] = {
                        [FLOW_RELAY] = "  machine CPU, relay",
                        [FLOW_DIRECT] = "  machine CPU, direct",
                        [FLOW_CLASSIC] = "  machine CPU, classic",
                        [FLOW_BARE] = "  machine CPU, bare",
                };
                double ratio, d;

                for (int w = 0; w < _FLOW_MAX; w++) {
                        series_sort(&flows[w].rate);
                        series_sort(&flows[w].cpu);
                        series_sort(&flows[w].machine);
                        series_sort(&flows[w].idle);
                }
                d = series_median(direct);
                ratio = series_median(relay) / d;
                snprintf(limit, sizeof(limit), "direct pty: %.1f", d);
                snprintf(met, sizeof(met), "%s (%.2fx)", ratio >= TARGET_RELAY_RATIO ? "yes" : "NO",
                         ratio);
                print_row("relay throughput (MiB/s)", relay, limit, ">= 0.95x direct", met);
                if (classic->n) {
                        snprintf(limit, sizeof(limit), "%.2fx direct", series_median(classic) / d);
                        snprintf(met, sizeof(met), "%s (%.2fx)",
                                 series_median(relay) >= series_median(classic) ? "yes" : "NO",
                                 series_median(relay) / series_median(classic));
                        print_row("  classic 4 KiB loop", classic, limit, "relay >= classic", met);
                }
                if (bare->n) {
                        snprintf(limit, sizeof(limit), "%.2fx direct", series_median(bare) / d);
                        print_row("  bare read/write loop", bare, limit, "-", "-");
                }
                print_row("  direct pty (MiB/s)", direct, "(the limit)", "-", "-");
                if (vs_direct.n) {
                        series_sort(&vs_direct);
                        print_row("  relay/direct, per run", &vs_direct, "(paired runs)", "-", "-");
                }
                if (vs_classic.n) {
                        series_sort(&vs_classic);
                        print_row("  relay/classic, per run", &vs_classic, "(paired runs)", "-",
                                  "-");
                }
                if (flows[FLOW_RELAY].cpu.n)
                        print_row("  relay CPU (ms/MiB)", &flows[FLOW_RELAY].cpu,
                                  "reptyrctl itself", "-", "-");
                if (flows[FLOW_CLASSIC].cpu.n)
                        print_row("  classic CPU (ms/MiB)", &flows[FLOW_CLASSIC].cpu,
                                  "the loop itself", "-", "-");
                /* The whole machine's CPU per MiB on each path: on a machine
                 * the direct pty alone keeps busy, a relay can go at most
                 * as fast as the direct pty's share of its CPU cost allows. */
                if (flows[FLOW_DIRECT].machine.n) {
                        double dm = series_median(&flows[FLOW_DIRECT].machine);

                        for (int w = 0; w < _FLOW_MAX; w++) {
                                if (w == FLOW_DIRECT || !flows[w].machine.n)
                                        continue;
                                snprintf(limit, sizeof(limit), "%.2fx direct's",
                                         series_median(&flows[w].machine) / dm);
                                print_row(machine_rows[w], &flows[w].machine, limit, "-", "-");
                        }
                        print_row(machine_rows[FLOW_DIRECT], &flows[FLOW_DIRECT].machine,
                                  "(ms/MiB, all CPUs)", "-", "-");
                        if (flows[FLOW_RELAY].idle.n)
                                print_row("  machine idle, relay (%)", &flows[FLOW_RELAY].idle, "-",
                                          "-", "-");
                        print_row("  machine idle, direct (%)", &flows[FLOW_DIRECT].idle,
                                  "(0 = CPU-bound)", "-", "-");
                }
        } else {
                printf("%-26s not measured\n", "relay throughput (MiB/s)");
        }
        if (latency[PATH_DIRECT].n && latency[PATH_CLASSIC].n && latency[PATH_OURS].n) {
                printf("\nkeystroke round trip (us), %lu interleaved keystrokes each:\n"
                       "  %-46s %8s %8s %8s %8s\n",
                       keys, "", "min", "p50", "p99", "max");
                for (int p = 0; p < _PATH_MAX; p++) {
                        series_sort(&latency[p]);
                        printf("  %-46s %8.1f %8.1f %8.1f %8.1f\n", path_names[p],
                               series_min(&latency[p]), series_percentile(&latency[p], 50),
                               series_percentile(&latency[p], 99), series_max(&latency[p]));
                }
        }
        if (hopts.reptyrd && helper.skipped) {
                printf("through the helper: SKIP, not measured: %s\n", helper.skip_reason);
        } else if (hopts.reptyrd) {
                /* The direct first echo is the reference for both. */
                if (echo.n)
                        snprintf(limit, sizeof(limit), "direct echo: %.3f", series_median(&echo));
                else
                        snprintf(limit, sizeof(limit), "direct echo: -");
                printf("through the helper (as nobody, ptrace_scope 0, shipped default rule):\n");
                if (helper.cold.n) {
                        series_sort(&helper.cold);
                        snprintf(met, sizeof(met), "%s",
                                 series_median(&helper.cold) <= TARGET_HELPER_COLD_MS ? "yes"
                                                                                      : "NO");
                        print_row("helper cold echo (ms)", &helper.cold, limit, "<= 60 ms", met);
                } else {
                        printf("%-26s not measured\n", "helper cold echo (ms)");
                }
                if (helper.warm.n) {
                        series_sort(&helper.warm);
                        snprintf(met, sizeof(met), "%s",
                                 series_median(&helper.warm) <= TARGET_HELPER_WARM_MS ? "yes"
                                                                                      : "NO");
                        print_row("helper warm echo (ms)", &helper.warm, limit, "<= 30 ms", met);
                } else {
                        printf("%-26s not measured\n", "helper warm echo (ms)");
                }
                if (helper.have_vm) {
                        snprintf(met, sizeof(met), "%s",
                                 helper.rss_kib <= TARGET_HELPER_RSS_KIB ? "yes" : "NO");
                        print_single("helper VmRSS (MiB)", helper.rss_kib / 1024, "after the runs",
                                     "<= 4 MiB", met);
                        snprintf(met, sizeof(met), "%s",
                                 helper.hwm_kib <= TARGET_HELPER_RSS_KIB ? "yes" : "NO");
                        print_single("helper VmHWM (MiB)", helper.hwm_kib / 1024,
                                     "peak over its life", "<= 4 MiB", met);
                } else {
                        printf("%-26s not measured\n", "helper RSS (MiB)");
                }
        }

        reap_all_children();
        free(echo.v);
        free(frozen.v);
        free(baseline.v);
        for (int w = 0; w < _FLOW_MAX; w++) {
                free(flows[w].rate.v);
                free(flows[w].cpu.v);
                free(flows[w].machine.v);
                free(flows[w].idle.v);
        }
        free(vs_direct.v);
        free(vs_classic.v);
        for (int p = 0; p < _PATH_MAX; p++)
                free(latency[p].v);
        free(helper.cold.v);
        free(helper.warm.v);
        return ok ? 0 : 1;
}
