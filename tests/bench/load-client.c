/* SPDX-License-Identifier: MIT */
/*
 * load-client: the unprivileged side of the helper load benchmark (load.py).
 *
 *   load-client SEQUENTIAL CONCURRENT PID...
 *
 * First SEQUENTIAL adoptions one after the other through reptyrd, cycling
 * over the victims PID... (tests/victims/victim "read" mode): each is an
 * Adopt, one line echoed through the master that came back ("ping N" ->
 * "GOT ping N"), and the master of the victim's previous adoption closed
 * (the victim stays alive: its terminal is the new one by then). Then
 * CONCURRENT adoptions at once, one process each, of the first CONCURRENT
 * victims, each checked the same way.
 *
 * Prints "SEQUENTIAL ok=N failed=N seconds=S" and "CONCURRENT ok=N
 * failed=N seconds=S", and one "FAIL ..." line per failure. Exit status 0
 * when every adoption worked, 1 otherwise, 2 on local errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define BUS_NAME "org.reptyr.Reptyr1"
#define BUS_PATH "/org/reptyr/Reptyr1"
#define MAX_VICTIMS 256

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One Adopt: the master, or -1 with the reason printed. */
static int adopt(sd_bus *bus, pid_t pid) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int pidfd, fd, master = -1, r;

        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
                printf("FAIL pid %d: pidfd_open: %s\n", (int)pid, strerror(errno));
                return -1;
        }
        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_NAME, "Adopt", &error, &reply, "ha{sv}",
                               pidfd, 0);
        close(pidfd);
        if (r < 0) {
                printf("FAIL pid %d: %s: %s\n", (int)pid, error.name, error.message);
                sd_bus_error_free(&error);
                return -1;
        }
        if (sd_bus_message_read(reply, "h", &fd) >= 0)
                master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        sd_bus_message_unref(reply);
        if (master < 0)
                printf("FAIL pid %d: no master in the reply\n", (int)pid);
        return master;
}

/* "ping N" in, "GOT ping N" out, within 10 s. */
static bool echo(int master, pid_t pid, unsigned n) {
        char line[64], want[64], buf[4096];
        size_t have = 0;
        double deadline = now() + 10;
        int len = snprintf(line, sizeof(line), "ping %u\n", n);

        snprintf(want, sizeof(want), "GOT ping %u", n);
        if (write(master, line, (size_t)len) != len) {
                printf("FAIL pid %d: write to the master: %s\n", (int)pid, strerror(errno));
                return false;
        }
        while (now() < deadline) {
                struct pollfd p = {.fd = master, .events = POLLIN};
                if (poll(&p, 1, (int)((deadline - now()) * 1000) + 1) <= 0)
                        continue;
                ssize_t k = read(master, buf + have, sizeof(buf) - 1 - have);
                if (k <= 0) {
                        printf("FAIL pid %d: the master reads %s\n", (int)pid,
                               k < 0 ? strerror(errno) : "EOF");
                        return false;
                }
                have += (size_t)k;
                buf[have] = 0;
                if (strstr(buf, want))
                        return true;
                if (have > sizeof(buf) / 2) {
                        memmove(buf, buf + have - 64, 64);
                        have = 64;
                }
        }
        printf("FAIL pid %d: no \"%s\" within 10 s\n", (int)pid, want);
        return false;
}

int main(int argc, char **argv) {
        static int masters[MAX_VICTIMS];
        pid_t pids[MAX_VICTIMS];
        unsigned seq, conc, n = 0, ok = 0, failed = 0;
        sd_bus *bus = NULL;
        double t0;
        int r;

        if (argc < 4) {
                fprintf(stderr, "usage: load-client SEQUENTIAL CONCURRENT PID...\n");
                return 2;
        }
        seq = (unsigned)atoi(argv[1]);
        conc = (unsigned)atoi(argv[2]);
        for (int i = 3; i < argc && n < MAX_VICTIMS; i++)
                pids[n++] = (pid_t)atoi(argv[i]);
        if (conc > n)
                conc = n;
        for (unsigned i = 0; i < n; i++)
                masters[i] = -1;
        setvbuf(stdout, NULL, _IOLBF, 0);
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return fprintf(stderr, "load-client: bus: %s\n", strerror(-r)), 2;

        t0 = now();
        for (unsigned i = 0; i < seq; i++) {
                unsigned v = i % n;
                int m = adopt(bus, pids[v]);
                if (m >= 0 && echo(m, pids[v], i)) {
                        ok++;
                        if (masters[v] >= 0)
                                close(masters[v]);
                        masters[v] = m;
                } else {
                        failed++;
                        if (m >= 0)
                                close(m);
                }
        }
        printf("SEQUENTIAL ok=%u failed=%u seconds=%.3f\n", ok, failed, now() - t0);
        sd_bus_flush_close_unref(bus);

        unsigned cok = 0, cfailed = 0;
        t0 = now();
        for (unsigned v = 0; v < conc; v++) {
                pid_t c = fork();
                if (c < 0)
                        return perror("load-client: fork"), 2;
                if (c == 0) {
                        sd_bus *b = NULL;
                        int m;
                        if (sd_bus_open_system(&b) < 0)
                                _exit(1);
                        m = adopt(b, pids[v]);
                        _exit(m >= 0 && echo(m, pids[v], 100000 + v) ? 0 : 1);
                }
        }
        for (unsigned v = 0; v < conc; v++) {
                int status;
                if (wait(&status) < 0)
                        break;
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                        cok++;
                else
                        cfailed++;
        }
        printf("CONCURRENT ok=%u failed=%u seconds=%.3f\n", cok, cfailed, now() - t0);
        for (unsigned i = 0; i < n; i++)
                if (masters[i] >= 0)
                        close(masters[i]);
        return failed || cfailed ? 1 : 0;
}
