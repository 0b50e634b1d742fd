/* SPDX-License-Identifier: MIT */
/*
 * Test driver for the engine alone: adopts PID with optional fault
 * injection and reports the outcome on stdout as key=value lines, then
 * relays between its stdin/stdout and the new master until the target
 * exits or stdin ends (tests drive it through pipes). Not installed.
 *
 *   engine-driver [--session] [--stdio] [--dry-run] [--no-relay]
 *                 [--fault=fail:N|kill:N|killtracer:N] [--stop-timeout=MS]
 *                 [--pause-in-verify=N] PID
 *
 * --pause-in-verify=N: the Nth permission check (the one made once the
 * target is attached but not yet stopped is the 2nd in process mode) prints
 * "VERIFY-PAUSE" and waits for a line on stdin: the test makes the target
 * exec meanwhile.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"

static unsigned pause_at, verify_calls;

static int verify(const struct engine_target *t, void *userdata, struct engine_error *err) {
        char c;

        (void)t;
        (void)userdata;
        (void)err;
        if (++verify_calls == pause_at) {
                printf("VERIFY-PAUSE\n");
                fflush(stdout);
                while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
                        ;
        }
        return 0;
}

static void relay(int master, int pidfd) {
        char buf[65536];
        struct pollfd p[3] = {
                {.fd = STDIN_FILENO, .events = POLLIN},
                {.fd = master, .events = POLLIN},
                {.fd = pidfd, .events = POLLIN},
        };

        for (;;) {
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (p[1].revents) {
                        ssize_t n = read(master, buf, sizeof(buf));
                        if (n <= 0)
                                return;
                        if (write(STDOUT_FILENO, buf, (size_t)n) != n)
                                return;
                }
                if (p[0].revents) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0)
                                return;
                        if (write(master, buf, (size_t)n) != n)
                                return;
                }
                if (p[2].revents && !p[1].revents)
                        return;
        }
}

int main(int argc, char **argv) {
        struct engine_options opts = {0};
        struct engine_result res;
        struct engine_error err;
        bool no_relay = false;
        pid_t pid;
        int pidfd, r, i;

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--session") == 0)
                        opts.mode = ENGINE_MODE_SESSION;
                else if (strcmp(argv[i], "--stdio") == 0)
                        opts.fds = ENGINE_FDS_STDIO;
                else if (strcmp(argv[i], "--dry-run") == 0)
                        opts.dry_run = true;
                else if (strcmp(argv[i], "--no-relay") == 0)
                        no_relay = true;
                else if (strncmp(argv[i], "--fault=fail:", 13) == 0) {
                        opts.fault.action = ENGINE_FAULT_FAIL;
                        opts.fault.step = (unsigned)atoi(argv[i] + 13);
                } else if (strncmp(argv[i], "--fault=kill:", 13) == 0) {
                        opts.fault.action = ENGINE_FAULT_KILL;
                        opts.fault.step = (unsigned)atoi(argv[i] + 13);
                } else if (strncmp(argv[i], "--fault=killtracer:", 19) == 0) {
                        opts.fault.action = ENGINE_FAULT_KILL_TRACER;
                        opts.fault.step = (unsigned)atoi(argv[i] + 19);
                } else if (strncmp(argv[i], "--stop-timeout=", 15) == 0) {
                        opts.stop_timeout_ms = (unsigned)atoi(argv[i] + 15);
                } else if (strncmp(argv[i], "--pause-in-verify=", 18) == 0) {
                        pause_at = (unsigned)atoi(argv[i] + 18);
                        opts.verify = verify;
                } else {
                        fprintf(stderr, "unknown option %s\n", argv[i]);
                        return 2;
                }
        }
        if (i != argc - 1 || engine_parse_pid(argv[i], &pid) < 0) {
                fprintf(stderr, "usage: engine-driver [options] PID\n");
                return 2;
        }
        if (engine_pidfd_open(pid, &pidfd, &err) < 0) {
                printf("error=%s\nmessage=%s\n", engine_error_name(err.kind), err.message);
                return 1;
        }
        r = engine_adopt(pidfd, &opts, &res, &err);
        printf("steps=%u\n", res.steps);
        if (r < 0) {
                printf("error=%s\nmessage=%s\n", engine_error_name(err.kind), err.message);
                fflush(stdout);
                return 1;
        }
        printf("ok=1\ntty=%s\nold_tty=%s\npersonality=%s\nthreads=%u\nwas_stopped=%d\n"
               "was_leader=%d\nreplaced=",
               res.tty, res.old_tty, res.personality ? res.personality : "", res.threads,
               res.was_stopped, res.was_leader);
        for (size_t k = 0; k < res.n_replaced; k++)
                printf("%s%d", k ? "," : "", res.replaced_fds[k]);
        printf("\n");
        fflush(stdout);
        if (!no_relay && res.master_fd >= 0)
                relay(res.master_fd, pidfd);
        return 0;
}
