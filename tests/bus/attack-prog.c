/* SPDX-License-Identifier: MIT */
/*
 * attack-prog: the processes of the adversarial bus tests (test-attack-*.py).
 * No libsystemd: it runs as any user, and a copy of it is made setuid root.
 *
 *   attack-prog holder FD NTHREADS SUID [--twin] -- COMMAND [ARG...]
 *       A terminal emulator that is also an attacker: holds a pty master
 *       on fd FD (without O_CLOEXEC, so it survives exec), runs COMMAND on
 *       the slave (own session, controlling terminal), starts NTHREADS
 *       idle threads and prints "HOLDER pid=P child=C pts=/dev/pts/N
 *       twin=T". With --twin it forks first: the parent T keeps the
 *       threads and the master and does nothing else; the child P (also
 *       holding the master) is the one that reads the commands below.
 *       Then it reads commands on stdin:
 *         "arm COUNT DELAY_US TIMEOUT_MS": wait until the slave has been
 *         opened COUNT more times (inotify IN_OPEN; 0: do not wait; at most
 *         TIMEOUT_MS), spin DELAY_US microseconds, print "EXEC opens=K" and
 *         exec SUID (argv: SUID suid FD) from the main thread.
 *       SUID "-" never execs; then the holder just holds until stdin ends
 *       (root uses it to hold a pty for another user's session).
 *   attack-prog suid FD
 *       What the setuid-root copy runs: prints "SUID pid=P euid=E fd=LINK",
 *       then for 1 s watches its own TracerPid and fd FD, printing
 *       "TRACED by T" and "FD now LINK" on changes, and prints "WATCH END
 *       fd=LINK" at the end; then waits until stdin ends.
 *   attack-prog vfork FIFO
 *       Says "READY pid=P", then vfork()s; the child prints "VFORK CHILD
 *       pid=C" and blocks opening FIFO for reading (until a writer comes),
 *       then _exit(0)s. The parent, stuck in vfork until then, prints "VFORK
 *       DONE" and answers every line on stdin with "GOT <line>" ("quit":
 *       exit).
 *   attack-prog seize PID
 *       PTRACE_SEIZE PID and print "SEIZE ok" or "SEIZE errno=N" (detaches
 *       on success).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-proc.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        char buf[512];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > (int)sizeof(buf) - 1)
                n = sizeof(buf) - 1;
        (void)!write(STDOUT_FILENO, buf, (size_t)n);
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool read_line(int fd, char *buf, size_t size) {
        size_t n = 0;

        for (;;) {
                char c;
                ssize_t r = read(fd, &c, 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return false;
                if (c == '\n') {
                        buf[n] = 0;
                        return true;
                }
                if (n + 1 < size)
                        buf[n++] = c;
        }
}

/* ---- holder ---- */

static void *idle_thread(void *arg) {
        (void)arg;
        for (;;)
                pause();
        return NULL;
}

static int start_threads(int n) {
        for (int i = 0; i < n; i++) {
                pthread_t t;
                pthread_attr_t a;
                pthread_attr_init(&a);
                pthread_attr_setstacksize(&a, 65536);
                if (pthread_create(&t, &a, idle_thread, NULL) != 0) {
                        fprintf(stderr, "attack-prog: pthread_create failed\n");
                        return -1;
                }
        }
        return 0;
}

static int holder(int argc, char **argv) {
        char pts[64], line[128];
        int fd, nthreads, master, slave, in = -1;
        const char *suid;
        pid_t child, twin_pid = 0;
        bool twin = false;

        if (argc >= 6 && strcmp(argv[4], "--twin") == 0) {
                twin = true;
                for (int i = 4; i < argc; i++)
                        argv[i] = argv[i + 1];
                argc--;
        }
        if (argc < 6 || strcmp(argv[4], "--") != 0) {
                fprintf(stderr,
                        "usage: attack-prog holder FD NTHREADS SUID [--twin] -- COMMAND...\n");
                return 2;
        }
        fd = atoi(argv[1]);
        nthreads = atoi(argv[2]);
        suid = argv[3];
        master = posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return perror("attack-prog: pty"), 1;
        if (ptsname_r(master, pts, sizeof(pts)) != 0)
                return perror("attack-prog: ptsname"), 1;
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0)
                return perror("attack-prog: TIOCGPTPEER"), 1;
        if (master != fd) {
                if (dup2(master, fd) < 0)
                        return perror("attack-prog: dup2"), 1;
                close(master);
                master = fd;
        }
        child = test_spawn_on_pty(master, slave, argv + 5);
        if (child < 0)
                return perror("attack-prog: fork"), 1;
        close(slave);
        if (twin) {
                /* The twin holds the same master; it is the one that will
                 * exec. This process keeps the threads, so that stopping it
                 * takes long, and is found first (lower pid) by anyone
                 * looking for the holders. */
                twin_pid = fork();
                if (twin_pid < 0)
                        return perror("attack-prog: fork"), 1;
                if (twin_pid > 0) {
                        close(STDIN_FILENO);
                        start_threads(nthreads);
                        for (;;)
                                pause();
                }
                twin_pid = getppid();
                nthreads = 0;
        }
        /* Watch the slave before saying we are ready: every later open of
         * it is somebody else's (the helper's TIOCGPTPEER, for one). */
        if (strcmp(suid, "-") != 0) {
                in = inotify_init1(IN_CLOEXEC);
                if (in < 0 || inotify_add_watch(in, pts, IN_OPEN) < 0)
                        return perror("attack-prog: inotify"), 1;
        }
        if (start_threads(nthreads) < 0)
                return 1;
        say("HOLDER pid=%d child=%d pts=%s twin=%d\n", (int)getpid(), (int)child, pts,
            (int)twin_pid);
        while (read_line(STDIN_FILENO, line, sizeof(line))) {
                unsigned count, delay_us, timeout_ms, opens = 0;
                char *args[] = {(char *)suid, "suid", argv[1], NULL};
                double deadline, spin_until;

                if (in < 0 || sscanf(line, "arm %u %u %u", &count, &delay_us, &timeout_ms) != 3)
                        continue;
                deadline = now() + timeout_ms / 1000.0;
                while (opens < count && now() < deadline) {
                        char ev[4096];
                        struct timeval tv;
                        fd_set set;
                        double left = deadline - now();

                        FD_ZERO(&set);
                        FD_SET(in, &set);
                        tv.tv_sec = (time_t)left;
                        tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
                        if (select(in + 1, &set, NULL, NULL, &tv) <= 0)
                                continue;
                        ssize_t n = read(in, ev, sizeof(ev));
                        for (ssize_t off = 0; off < n;) {
                                struct inotify_event *e = (struct inotify_event *)(ev + off);
                                if (e->mask & IN_OPEN)
                                        opens++;
                                off += (ssize_t)(sizeof(*e) + e->len);
                        }
                }
                spin_until = now() + delay_us / 1e6;
                while (now() < spin_until)
                        ;
                say("EXEC opens=%u\n", opens);
                execv(suid, args);
                say("EXEC FAILED errno=%d\n", errno);
                return 1;
        }
        /* stdin ended: like a terminal emulator whose window closed. */
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 0;
}

/* ---- suid ---- */

static int tracer_pid(void) {
        char buf[4096], *p;
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        p = strstr(buf, "TracerPid:");
        return p ? atoi(p + 10) : -1;
}

static void fd_link(int fd, char *out, size_t size) {
        char path[64];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, out, size - 1);
        if (n < 0)
                snprintf(out, size, "closed");
        else
                out[n] = 0;
}

static int suid(int argc, char **argv) {
        char link[256], last[256], line[64];
        int fd, last_tracer = 0;
        double end;

        if (argc < 2)
                return 2;
        fd = atoi(argv[1]);
        fd_link(fd, last, sizeof(last));
        say("SUID pid=%d euid=%d fd=%s\n", (int)getpid(), (int)geteuid(), last);
        end = now() + 1.0;
        while (now() < end) {
                int t = tracer_pid();
                if (t != last_tracer) {
                        say("TRACED by %d\n", t);
                        last_tracer = t;
                }
                fd_link(fd, link, sizeof(link));
                if (strcmp(link, last) != 0) {
                        say("FD now %s\n", link);
                        snprintf(last, sizeof(last), "%s", link);
                }
                usleep(200);
        }
        fd_link(fd, link, sizeof(link));
        say("WATCH END fd=%s\n", link);
        while (read_line(STDIN_FILENO, line, sizeof(line)))
                ;
        return 0;
}

/* ---- vfork ---- */

static int do_vfork(int argc, char **argv) {
        char line[256];
        const char *fifo;
        pid_t child;
        int status;

        if (argc < 2)
                return 2;
        fifo = argv[1];
        say("READY pid=%d\n", (int)getpid());
        child = vfork();
        if (child == 0) {
                /* Only system calls here: we run on the parent's stack. */
                char msg[64];
                int n = snprintf(msg, sizeof(msg), "VFORK CHILD pid=%d\n", (int)getpid());
                (void)!syscall(SYS_write, STDOUT_FILENO, msg, (size_t)n);
                /* Off the parent's terminal and out of its session (the
                 * fd table is the child's own): the parent alone is the
                 * target, with no child on its terminal. */
                syscall(SYS_setsid);
                for (int i = 0; i < 3; i++)
                        syscall(SYS_close, i);
                long f = syscall(SYS_openat, AT_FDCWD, fifo, O_RDONLY);
                if (f >= 0) {
                        char c;
                        (void)!syscall(SYS_read, (int)f, &c, 1);
                }
                syscall(SYS_exit, 0);
        }
        if (child < 0)
                return perror("attack-prog: vfork"), 1;
        waitpid(child, &status, 0);
        say("VFORK DONE\n");
        while (read_line(STDIN_FILENO, line, sizeof(line))) {
                if (strcmp(line, "quit") == 0)
                        return 0;
                say("GOT %s\n", line);
        }
        return 0;
}

/* ---- seize ---- */

static int seize(int argc, char **argv) {
        pid_t pid;

        if (argc < 2)
                return 2;
        pid = atoi(argv[1]);
        if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0) {
                say("SEIZE errno=%d\n", errno);
                return 0;
        }
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
        say("SEIZE ok\n");
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "holder") == 0)
                return holder(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "suid") == 0)
                return suid(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "vfork") == 0)
                return do_vfork(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "seize") == 0)
                return seize(argc - 1, argv + 1);
        fprintf(stderr, "usage: attack-prog holder|suid|vfork|seize ...\n");
        return 2;
}
