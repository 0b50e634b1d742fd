/* SPDX-License-Identifier: MIT */
/*
 * arch-guest: /init of the initramfs tests/arch/run.sh boots on another
 * architecture's kernel (no shell, no Python there: everything the host's
 * integration tests do with them is done here in C, on real ptys).
 *
 * It mounts /proc, /dev and /dev/pts, then adopts real victims
 * (/victim MODE, and /victim32 where present: a 32-bit arm victim on an
 * aarch64 kernel) with /engine-driver, checking after each adoption what a
 * user relies on: lines typed on the new terminal reach the victim, its
 * controlling terminal, foreground group and session are the new ones, its
 * signal mask and dispositions are unchanged, no kernel-internal restart
 * code reached it. Fault injection runs the engine with a failure, a kill
 * of the target and a kill of the tracer before every step in turn. Per
 * victim it prints one line
 *
 *     ARCHTEST <name>: N passed, M failed
 *
 * and powers the machine off. Run as a normal program (not pid 1) it skips
 * the mounts and the power-off: `arch-guest [DIR]` with DIR holding the
 * programs, for trying it on the build machine.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 20000

static char dir[200] = "";
static int passed, failed;
static const char *current;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fflush(stdout);
}

static long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a stream we read with deadlines (a pty master or a pipe) ---- */

struct stream {
        int fd;
        char buf[65536];
        size_t len;
};

static void stream_init(struct stream *s, int fd) {
        s->fd = fd;
        s->len = 0;
        s->buf[0] = 0;
}

/* Read what is there within ms; false on end of file or timeout. */
static bool stream_pump(struct stream *s, int ms) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, ms) <= 0)
                return false;
        n = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
        if (n <= 0)
                return false;
        s->len += (size_t)n;
        s->buf[s->len] = 0;
        if (s->len > sizeof(s->buf) - 4096) {
                /* Keep the tail: marks are offsets, so callers re-mark. */
                memmove(s->buf, s->buf + s->len - 8192, 8192);
                s->len = 8192;
                s->buf[s->len] = 0;
        }
        return true;
}

/* Wait until `what` shows up after offset `since`; returns a pointer to it. */
static const char *expect(struct stream *s, size_t since, const char *what, int ms) {
        long end = now_ms() + ms;

        for (;;) {
                const char *at = since <= s->len ? strstr(s->buf + since, what) : NULL;
                long left = end - now_ms();

                if (at)
                        return at;
                if (left <= 0 || !stream_pump(s, (int)left)) {
                        if (left > 0 && !strstr(s->buf + (since <= s->len ? since : 0), what))
                                return NULL; /* end of file */
                        if (left <= 0)
                                return NULL;
                }
        }
}

static void send_str(int fd, const char *str) {
        size_t n = strlen(str);

        if (write(fd, str, n) != (ssize_t)n)
                say("  write failed: %m\n");
}

/* ---- checks ---- */

static bool check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool check_fail(const char *fmt, ...) {
        va_list ap;

        say("FAIL %s: ", current);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        say("\n");
        return false;
}

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        return check_fail(__VA_ARGS__);                                            \
        } while (0)

static int read_file(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return (int)n;
}

/* State letter of /proc/PID/stat, 0 if gone. */
static char proc_state(pid_t pid) {
        char path[64], buf[1024];
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_file(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
                return 0;
        return p[2];
}

static bool wait_state(pid_t pid, const char *states) {
        long end = now_ms() + TIMEOUT_MS;

        while (now_ms() < end) {
                char c = proc_state(pid);
                if (c && strchr(states, c))
                        return true;
                usleep(20000); /* a test's deadline wait, never an adoption gate */
        }
        return false;
}

/* Signal facts adoption must not change. */
struct sigsnap {
        char blk[32], ign[32], cgt[32];
};

static bool status_field(pid_t pid, const char *key, char *out, size_t size) {
        char path[64], buf[4096];
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (read_file(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, key)))
                return false;
        p += strlen(key);
        while (*p == ' ' || *p == '\t')
                p++;
        snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
        return true;
}

static bool sigsnap(pid_t pid, struct sigsnap *s) {
        return status_field(pid, "SigBlk:", s->blk, sizeof(s->blk)) &&
               status_field(pid, "SigIgn:", s->ign, sizeof(s->ign)) &&
               status_field(pid, "SigCgt:", s->cgt, sizeof(s->cgt));
}

/* hup_guard: the target is a job of an old shell that still lives, so
 * SIGHUP must be ignored now (the engine's guard against that shell's
 * "SIGHUP to every job"); the rest of its signal state must be as before. */
static bool same_signals_guarded(pid_t pid, const struct sigsnap *before, bool hup_guard) {
        unsigned long long b_ign = strtoull(before->ign, NULL, 16),
                           b_cgt = strtoull(before->cgt, NULL, 16);
        struct sigsnap now;
        long end = now_ms() + 5000;

        while (now_ms() < end) {
                unsigned long long ign, cgt;

                if (!sigsnap(pid, &now))
                        return check_fail("cannot read /proc/%d/status", (int)pid);
                ign = strtoull(now.ign, NULL, 16);
                cgt = strtoull(now.cgt, NULL, 16);
                if (hup_guard) {
                        if (!(ign & 1))
                                return check_fail("SIGHUP is not ignored while the old shell "
                                                  "lives: SigIgn %s",
                                                  now.ign);
                        ign = (ign & ~1ULL) | (b_ign & 1);
                        cgt = (cgt & ~1ULL) | (b_cgt & 1);
                }
                if (!strcmp(now.blk, before->blk) && ign == b_ign && cgt == b_cgt)
                        return true;
                usleep(20000);
        }
        return check_fail("signal state changed: SigBlk %s->%s SigIgn %s->%s SigCgt %s->%s",
                          before->blk, now.blk, before->ign, now.ign, before->cgt, now.cgt);
}

static bool same_signals(pid_t pid, const struct sigsnap *before) {
        return same_signals_guarded(pid, before, false);
}

/* ---- victims ---- */

enum setup { LEADER, JOB };

struct victim {
        pid_t pid;    /* the victim */
        pid_t parent; /* our child: the victim (LEADER) or its "shell" (JOB) */
        struct stream a;
        char a_path[64];
        struct sigsnap sig;
        char mask[64];
};

static void path_of(char *out, size_t size, const char *name) {
        if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
                out[0] = 0;
}

/* LEADER: the victim leads its own session on pty A. JOB: a stand-in for
 * an interactive shell leads the session and runs the victim as its
 * foreground job (own process group, not a session leader): what the
 * engine needs the dummy-child dance for. */
static bool start_victim(struct victim *v, const char *victim, const char *mode, enum setup setup) {
        /* nanosleep answers only between sleeps: short ones. */
        const char *arg = strcmp(mode, "nanosleep") == 0 ? "2" : NULL;
        char prog[300], *ready;
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

        memset(v, 0, sizeof(*v));
        CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "openpt: %m");
        snprintf(v->a_path, sizeof(v->a_path), "%s", ptsname(master));
        stream_init(&v->a, master);
        path_of(prog, sizeof(prog), victim);
        v->parent = fork();
        CHECK(v->parent >= 0, "fork: %m");
        if (v->parent == 0) {
                int s;
                setsid();
                s = open(v->a_path, O_RDWR);
                if (s < 0)
                        _exit(120);
                dup2(s, 0), dup2(s, 1), dup2(s, 2);
                if (s > 2)
                        close(s);
                if (setup == JOB) {
                        int go[2], status;
                        pid_t child;
                        if (pipe(go) < 0)
                                _exit(121);
                        child = fork();
                        if (child == 0) {
                                char c;
                                setpgid(0, 0);
                                close(go[1]);
                                if (read(go[0], &c, 1) != 1)
                                        _exit(122);
                                close(go[0]);
                                execl(prog, prog, mode, arg, (char *)NULL);
                                _exit(127);
                        }
                        setpgid(child, child);
                        signal(SIGTTOU, SIG_IGN);
                        tcsetpgrp(0, child);
                        close(go[0]);
                        if (write(go[1], "g", 1) != 1)
                                _exit(123);
                        close(go[1]);
                        /* Like a shell: wait for the job to finish. */
                        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                                ;
                        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                }
                execl(prog, prog, mode, arg, (char *)NULL);
                _exit(127);
        }
        ready = (char *)expect(&v->a, 0, "READY pid=", TIMEOUT_MS);
        CHECK(ready, "victim %s %s not ready: %s", victim, mode, v->a.buf);
        v->pid = atoi(ready + 10);
        return true;
}

static void stop_victim(struct victim *v) {
        if (v->pid > 0)
                kill(v->pid, SIGKILL);
        if (v->parent > 0) {
                kill(v->parent, SIGKILL);
                while (waitpid(v->parent, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (v->a.fd >= 0)
                close(v->a.fd);
        v->a.fd = -1;
}

/* What adoption must keep: asked on A, and read from /proc. */
static bool pre_adoption(struct victim *v, const char *state) {
        size_t mark = v->a.len;
        const char *m;

        send_str(v->a.fd, "mask?\n");
        m = expect(&v->a, mark, "MASK ", TIMEOUT_MS);
        CHECK(m, "no answer to mask? on A: %s", v->a.buf + mark);
        snprintf(v->mask, sizeof(v->mask), "%.*s", (int)strcspn(m + 5, "\r\n"), m + 5);
        CHECK(wait_state(v->pid, state), "victim never reached state %s", state);
        CHECK(sigsnap(v->pid, &v->sig), "cannot read its status");
        return true;
}

/* ---- the engine driver ---- */

struct driver {
        pid_t pid;
        int in;
        struct stream out;
        char kv[4096];
};

static bool start_driver(struct driver *d, pid_t target, const char *opt1, const char *opt2) {
        int in[2], out[2];
        char prog[300], pidstr[16];
        const char *argv[6];
        int k = 0;

        CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0, "pipe: %m");
        path_of(prog, sizeof(prog), "engine-driver");
        snprintf(pidstr, sizeof(pidstr), "%d", (int)target);
        argv[k++] = prog;
        if (opt1)
                argv[k++] = opt1;
        if (opt2)
                argv[k++] = opt2;
        argv[k++] = pidstr;
        argv[k] = NULL;
        d->pid = fork();
        CHECK(d->pid >= 0, "fork: %m");
        if (d->pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                dup2(out[1], 2);
                execv(prog, (char **)argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        d->in = in[1];
        stream_init(&d->out, out[0]);
        return true;
}

/* Until the driver said how the adoption went: true with ok=1. */
static bool driver_outcome(struct driver *d) {
        const char *end = expect(&d->out, 0, "replaced=", TIMEOUT_MS);

        if (end) {
                end = expect(&d->out, (size_t)(end - d->out.buf), "\n", TIMEOUT_MS);
                return end && strstr(d->out.buf, "ok=1");
        }
        /* An error: the driver prints error= and message= and exits. */
        while (stream_pump(&d->out, TIMEOUT_MS))
                ;
        return false;
}

static const char *kv_get(struct driver *d, const char *key, char *out, size_t size) {
        char k[64];
        const char *p;

        snprintf(k, sizeof(k), "\n%s=", key);
        p = strstr(d->out.buf, k);
        if (!p && strncmp(d->out.buf, k + 1, strlen(k + 1)) == 0)
                p = d->out.buf - 1;
        if (!p)
                return NULL;
        p += strlen(k);
        snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
        return out;
}

static int finish_driver(struct driver *d) {
        int status = 0;

        if (d->in >= 0)
                close(d->in);
        d->in = -1;
        while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
                ;
        close(d->out.fd);
        return status;
}

/* ---- one adoption, checked ---- */

/* Everything a user relies on after adoption, through the driver's relay
 * of the new master. */
static bool check_on_new_terminal(struct victim *v, struct driver *d, bool stopped) {
        struct stream *c = &d->out;
        size_t mark, a_mark = v->a.len;
        const char *m;
        char tty[64];
        int pgrp, mypgrp, sid;

        if (stopped) {
                /* Stopped before, stopped after: the user's stop holds. */
                CHECK(wait_state(v->pid, "T"), "victim no longer stopped after adoption");
                kill(v->pid, SIGCONT);
        }
        mark = c->len;
        send_str(d->in, "hello-from-C\n");
        CHECK(expect(c, mark, "GOT hello-from-C", TIMEOUT_MS),
              "line typed on the new terminal "
              "not read: %s",
              c->buf + mark);
        mark = c->len;
        send_str(d->in, "status?\n");
        m = expect(c, mark, "TTY ", TIMEOUT_MS);
        CHECK(m && expect(c, (size_t)(m - c->buf), "SID ", TIMEOUT_MS) &&
                      expect(c, (size_t)(m - c->buf), "\n", TIMEOUT_MS),
              "no status on C: %s", c->buf + mark);
        m = strstr(c->buf + mark, "TTY ");
        CHECK(sscanf(m, "TTY %63s PGRP %d MYPGRP %d SID %d", tty, &pgrp, &mypgrp, &sid) == 4,
              "bad status line %s", m);
        CHECK(strcmp(tty, v->a_path) != 0, "still on %s", tty);
        CHECK(pgrp == mypgrp, "not in the foreground of %s (%d vs %d)", tty, pgrp, mypgrp);
        CHECK(sid == v->pid, "not leading its session (sid %d, pid %d)", sid, (int)v->pid);
        mark = c->len;
        send_str(d->in, "mask?\n");
        m = expect(c, mark, "MASK ", TIMEOUT_MS);
        CHECK(m && expect(c, (size_t)(m - c->buf), "\n", TIMEOUT_MS), "no mask on C");
        CHECK(strncmp(m + 5, v->mask, strlen(v->mask)) == 0, "mask changed: %s -> %.20s", v->mask,
              m + 5);
        CHECK(!strstr(c->buf, "ERRNO512") && !strstr(c->buf, "NANOSLEEP errno") &&
                      !strstr(v->a.buf, "ERRNO512"),
              "a kernel-internal restart code reached the victim");
        stream_pump(&v->a, 0);
        CHECK(!strstr(v->a.buf + a_mark, "GOT"), "victim still answers on the old terminal");
        if (!same_signals_guarded(v->pid, &v->sig, v->parent != v->pid))
                return false;
        mark = c->len;
        send_str(d->in, "quit\n");
        CHECK(expect(c, mark, "BYE", TIMEOUT_MS), "victim did not quit: %s", c->buf + mark);
        return true;
}

/* A target the engine must refuse untouched, with this error. */
static bool refused(const char *victim, const char *mode, const char *error) {
        struct victim v;
        struct driver d = {.in = -1};
        bool ok = false;
        char val[64];
        size_t mark;

        if (!start_victim(&v, victim, mode, LEADER) || !pre_adoption(&v, "S"))
                goto out;
        if (!start_driver(&d, v.pid, "--no-relay", NULL))
                goto out;
        if (driver_outcome(&d) || !kv_get(&d, "error", val, sizeof(val)) || strcmp(val, error)) {
                check_fail("expected error=%s: %s", error, d.out.buf);
                goto out;
        }
        if (!same_signals(v.pid, &v.sig))
                goto out;
        mark = v.a.len;
        send_str(v.a.fd, "still-here\n");
        if (!expect(&v.a, mark, "GOT still-here", TIMEOUT_MS)) {
                check_fail("victim no longer reads its terminal");
                goto out;
        }
        ok = true;
out:
        stop_victim(&v);
        if (d.pid > 0)
                finish_driver(&d);
        return ok;
}

static bool adopt(const char *victim, const char *mode, enum setup setup, bool stop) {
        struct victim v;
        struct driver d = {.in = -1};
        bool ok = false;
        char val[64];

        if (!start_victim(&v, victim, mode, setup))
                goto out;
        if (!pre_adoption(&v, strcmp(mode, "cpu") == 0 ? "R" : "S"))
                goto out;
        if (stop) {
                kill(v.pid, SIGSTOP);
                if (!wait_state(v.pid, "T")) {
                        check_fail("SIGSTOP did not stop it");
                        goto out;
                }
        }
        if (!start_driver(&d, v.pid, NULL, NULL))
                goto out;
        if (!driver_outcome(&d)) {
                check_fail("adoption failed: %s", d.out.buf);
                goto out;
        }
        if (stop && (!kv_get(&d, "was_stopped", val, sizeof(val)) || strcmp(val, "1") != 0)) {
                check_fail("was_stopped is not 1: %s", d.out.buf);
                goto out;
        }
        ok = check_on_new_terminal(&v, &d, stop);
out:
        stop_victim(&v);
        if (d.pid > 0)
                finish_driver(&d);
        return ok;
}

/* The client itself: `reptyrctl adopt --direct PID` on a terminal of its
 * own (C), relaying between C and the new pty. */
static bool adopt_with_reptyrctl(const char *victim, const char *mode) {
        struct victim v;
        struct driver d = {.in = -1};
        char prog[300], pidstr[16], c_path[64], link[64], fdpath[64];
        int master = -1, status = 0;
        bool ok = false;
        long end;

        if (!start_victim(&v, victim, mode, LEADER) ||
            !pre_adoption(&v, strcmp(mode, "cpu") == 0 ? "R" : "S"))
                goto out;
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
                check_fail("openpt: %m");
                goto out;
        }
        snprintf(c_path, sizeof(c_path), "%s", ptsname(master));
        path_of(prog, sizeof(prog), "reptyrctl");
        snprintf(pidstr, sizeof(pidstr), "%d", (int)v.pid);
        d.pid = fork();
        if (d.pid == 0) {
                int sl;
                setsid();
                sl = open(c_path, O_RDWR);
                if (sl < 0)
                        _exit(120);
                dup2(sl, 0), dup2(sl, 1), dup2(sl, 2);
                execl(prog, prog, "adopt", "--direct", pidstr, (char *)NULL);
                _exit(127);
        }
        d.in = master;
        stream_init(&d.out, master);
        /* Adopted: its fd 0 is another terminal. */
        snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/0", (int)v.pid);
        for (end = now_ms() + TIMEOUT_MS; now_ms() < end; usleep(20000)) {
                ssize_t n = readlink(fdpath, link, sizeof(link) - 1);
                if (n > 0 && (link[n] = 0, strcmp(link, v.a_path) != 0))
                        break;
                stream_pump(&d.out, 0);
        }
        if (now_ms() >= end) {
                check_fail("reptyrctl did not adopt: %s", d.out.buf);
                goto out;
        }
        /* reptyrctl puts C into raw mode once the relay runs: a line typed
         * before that might be flushed. Its termios says when. */
        for (end = now_ms() + TIMEOUT_MS; now_ms() < end; usleep(20000)) {
                struct termios t;
                int sl = open(c_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
                bool raw = sl >= 0 && tcgetattr(sl, &t) == 0 && !(t.c_lflag & ICANON);
                if (sl >= 0)
                        close(sl);
                if (raw)
                        break;
        }
        if (!check_on_new_terminal(&v, &d, false))
                goto out;
        while (waitpid(d.pid, &status, 0) < 0 && errno == EINTR)
                ;
        d.pid = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                check_fail("reptyrctl ended with %#x, expected the victim's status 0", status);
                goto out;
        }
        ok = true;
out:
        stop_victim(&v);
        if (d.pid > 0) {
                kill(d.pid, SIGKILL);
                waitpid(d.pid, NULL, 0);
        }
        if (master >= 0)
                close(master);
        return ok;
}

/* A process with no terminal at all is refused untouched. */
static bool refuse_no_tty(const char *victim) {
        int in[2], out[2];
        struct stream s;
        struct sigsnap before;
        struct driver d = {.in = -1};
        char prog[300], val[64];
        const char *ready;
        pid_t pid;
        bool ok = false;

        CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0, "pipe: %m");
        path_of(prog, sizeof(prog), victim);
        pid = fork();
        if (pid == 0) {
                setsid();
                dup2(in[0], 0), dup2(out[1], 1), dup2(out[1], 2);
                execl(prog, prog, "read", (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        stream_init(&s, out[0]);
        if (!(ready = expect(&s, 0, "READY pid=", TIMEOUT_MS))) {
                check_fail("victim not ready");
                goto out;
        }
        if (!wait_state(pid, "S") || !sigsnap(pid, &before)) {
                check_fail("victim did not settle");
                goto out;
        }
        if (!start_driver(&d, pid, NULL, NULL))
                goto out;
        if (driver_outcome(&d) || !kv_get(&d, "error", val, sizeof(val)) ||
            strcmp(val, "NotATerminal") != 0) {
                check_fail("expected error=NotATerminal: %s", d.out.buf);
                goto out;
        }
        if (!same_signals(pid, &before))
                goto out;
        send_str(in[1], "ping\n");
        if (!expect(&s, 0, "GOT ping", TIMEOUT_MS)) {
                check_fail("victim no longer reads its pipe");
                goto out;
        }
        ok = true;
out:
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(in[1]);
        close(out[0]);
        if (d.pid > 0)
                finish_driver(&d);
        return ok;
}

/* ---- fault injection ---- */

static int children_of(pid_t pid) {
        char path[300], buf[1024];
        struct dirent *e;
        DIR *d = opendir("/proc");
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d))) {
                const char *q;
                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                if (read_file(path, buf, sizeof(buf)) < 0 || !(q = strrchr(buf, ')')))
                        continue;
                if (atoi(q + 4) == pid)
                        n++;
        }
        closedir(d);
        return n;
}

/* One run with --fault=ACTION:STEP: 1 = the engine completed (no such step),
 * 0 = checked, -1 = failed. */
static int fault_once(const char *victim, enum setup setup, const char *action, int step) {
        struct victim v;
        struct driver d = {.in = -1};
        char opt[64], val[256];
        int rc = -1, status;

        if (!start_victim(&v, victim, "read", setup))
                goto out;
        if (!pre_adoption(&v, "S"))
                goto out;
        snprintf(opt, sizeof(opt), "--fault=%s:%d", action, step);
        if (!start_driver(&d, v.pid, "--no-relay", opt))
                goto out;
        while (stream_pump(&d.out, TIMEOUT_MS))
                ;
        status = finish_driver(&d);
        d.pid = 0;
        if (kv_get(&d, "ok", val, sizeof(val))) {
                rc = 1;
                goto out;
        }
        if (strcmp(action, "killtracer") == 0) {
                char tp[16];
                if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
                        check_fail("step %d killtracer: driver ended with %#x: %s", step, status,
                                   d.out.buf);
                        goto out;
                }
                /* Released: alive and untraced with its own mask, or hung up
                 * on the new pty whose master died with the tracer. */
                if (proc_state(v.pid) && proc_state(v.pid) != 'Z') {
                        long end = now_ms() + 5000;
                        while (now_ms() < end &&
                               status_field(v.pid, "TracerPid:", tp, sizeof(tp)) &&
                               strcmp(tp, "0") != 0)
                                usleep(20000);
                        if (status_field(v.pid, "TracerPid:", tp, sizeof(tp)) && strcmp(tp, "0")) {
                                check_fail("step %d killtracer: still traced", step);
                                goto out;
                        }
                        if (status_field(v.pid, "SigBlk:", val, sizeof(val)) &&
                            strcmp(val, v.sig.blk) != 0) {
                                check_fail("step %d killtracer: SigBlk %s -> %s", step, v.sig.blk,
                                           val);
                                goto out;
                        }
                }
                rc = 0;
                goto out;
        }
        if (!kv_get(&d, "error", val, sizeof(val))) {
                check_fail("step %d %s: no clear error: %s", step, action, d.out.buf);
                goto out;
        }
        if (strcmp(action, "kill") == 0) {
                if (strcmp(val, "TargetGone") != 0) {
                        check_fail("step %d kill: expected TargetGone, got %s", step, val);
                        goto out;
                }
                rc = 0;
                goto out;
        }
        if (strcmp(val, "Failed") != 0) {
                check_fail("step %d fail: expected Failed, got %s", step, d.out.buf);
                goto out;
        }
        if (!same_signals(v.pid, &v.sig))
                goto out;
        if (children_of(v.pid) != 0) {
                check_fail("step %d fail: stray children of the victim", step);
                goto out;
        }
        kv_get(&d, "message", val, sizeof(val));
        if (!strstr(val, "session of its own")) {
                size_t mark = v.a.len;
                send_str(v.a.fd, "still-here\n");
                if (!expect(&v.a, mark, "GOT still-here", TIMEOUT_MS)) {
                        check_fail("step %d fail: victim no longer on its terminal", step);
                        goto out;
                }
        }
        rc = 0;
out:
        stop_victim(&v);
        if (d.pid > 0)
                finish_driver(&d);
        return rc;
}

static bool fault_all(const char *victim, enum setup setup, const char *action) {
        for (int step = 1; step < 100; step++) {
                int r = fault_once(victim, setup, action, step);
                if (r < 0)
                        return false;
                if (r == 1) {
                        say("  %s: all %d steps covered\n", action, step - 1);
                        if (step - 1 < 5)
                                return check_fail("implausible step count %d", step - 1);
                        return true;
                }
        }
        return check_fail("the engine never finished");
}

/* ---- the suite ---- */

static void run(const char *name, bool ok, long t0) {
        say("case %s: %s (%ld ms)\n", name, ok ? "ok" : "FAILED", now_ms() - t0);
        if (ok)
                passed++;
        else
                failed++;
}

#define CASE(label, expr)                                                                          \
        do {                                                                                       \
                long t0_ = now_ms();                                                               \
                current = label;                                                                   \
                run(label, (expr), t0_);                                                           \
        } while (0)

static void suite(const char *name, const char *victim) {
        static const char *const modes[] = {"read",          "poll",  "ppoll",        "epoll",
                                            "nanosleep",     "cpu",   "threads",      "pending",
                                            "sighup-ignore", "winch", "sighup-handle"};
        char prog[300];
        long t0 = now_ms();

        path_of(prog, sizeof(prog), victim);
        passed = failed = 0;
        if (access(prog, X_OK) != 0) {
                say("ARCHTEST %s: 0 passed, 1 failed (no %s)\n", name, prog);
                return;
        }
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
                CASE(modes[i], adopt(victim, modes[i], LEADER, false));
        CASE("stopped", adopt(victim, "read", LEADER, true));
        CASE("shell-job", adopt(victim, "read", JOB, false));
        CASE("shell-job-poll", adopt(victim, "poll", JOB, false));
        CASE("reptyrctl-direct", adopt_with_reptyrctl(victim, "read"));
        CASE("reptyrctl-direct-cpu", adopt_with_reptyrctl(victim, "cpu"));
        CASE("no-tty-refused", refuse_no_tty(victim));
        CASE("children-refused", refused(victim, "children", "HasChildren"));
        CASE("seccomp-filter", adopt(victim, "seccomp-filter", LEADER, false));
        CASE("fault-fail-leader", fault_all(victim, LEADER, "fail"));
        CASE("fault-fail-job", fault_all(victim, JOB, "fail"));
        CASE("fault-kill-leader", fault_all(victim, LEADER, "kill"));
        CASE("fault-kill-job", fault_all(victim, JOB, "kill"));
        CASE("fault-killtracer-leader", fault_all(victim, LEADER, "killtracer"));
        CASE("fault-killtracer-job", fault_all(victim, JOB, "killtracer"));
        say("ARCHTEST %s: %d passed, %d failed (%ld s)\n", name, passed, failed,
            (now_ms() - t0) / 1000);
}

static const char *arch_name(void) {
        static struct utsname u;

        if (uname(&u) < 0)
                return "unknown";
        if (strncmp(u.machine, "armv", 4) == 0)
                return "arm";
        return u.machine;
}

int main(int argc, char **argv) {
        bool init = getpid() == 1;
        const char *arch = arch_name();
        char name[128], victim32[300];

        if (init) {
                mkdir("/proc", 0755);
                mount("proc", "/proc", "proc", 0, NULL);
                mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
                mkdir("/dev/pts", 0755);
                mount("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666");
                mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
                /* Reap orphans (the victims' shells exit after them). */
                signal(SIGCHLD, SIG_DFL);
        } else if (argc > 1) {
                snprintf(dir, sizeof(dir), "%.199s", argv[1]);
        }
        say("arch-guest on %s\n", arch);
        suite(arch, "victim");
        path_of(victim32, sizeof(victim32), "victim32");
        if (access(victim32, X_OK) == 0) {
                snprintf(name, sizeof(name), "arm-on-%.64s", arch);
                suite(name, "victim32");
        }
        if (init) {
                sync();
                reboot(RB_POWER_OFF);
        }
        return failed ? 1 : 0;
}
