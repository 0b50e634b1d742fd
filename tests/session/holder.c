/* SPDX-License-Identifier: MIT */
/*
 * holder: the smallest terminal emulator, for the session-mode tests. It
 * holds a pty master with COMMAND running on the slave (its own session,
 * the slave its controlling terminal), copies the master's output to its
 * stdout and its stdin to the master. When the master stops working (EOF
 * from /dev/null after a takeover, or EIO) it says "HOLDER: terminal gone"
 * and keeps running until its stdin ends, as a terminal emulator whose tab
 * lost its session would. Like any terminal emulator it reaps COMMAND when
 * it exits ("HOLDER: child C exited with status N" or "... killed by signal
 * N"): the status only becomes known to others (a pidfd's exit info, which
 * reptyrctl passes on) once the parent has reaped it.
 *
 *   holder COMMAND [ARG...]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "test-proc.h"

static void say(const char *s) { (void)!write(STDOUT_FILENO, s, strlen(s)); }

int main(int argc, char **argv) {
        char buf[4096];
        int master, slave;
        pid_t child;
        int child_fd;
        bool have_master = true;

        if (argc < 2) {
                fprintf(stderr, "usage: holder COMMAND [ARG...]\n");
                return 2;
        }
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return perror("holder: pty"), 1;
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0)
                return perror("holder: TIOCGPTPEER"), 1;
        child = test_spawn_on_pty(master, slave, argv + 1);
        if (child < 0)
                return perror("holder: fork"), 1;
        close(slave);
        child_fd = (int)syscall(SYS_pidfd_open, child, 0);
        if (child_fd < 0)
                return perror("holder: pidfd_open"), 1;
        snprintf(buf, sizeof(buf), "HOLDER: pid %d child %d\n", (int)getpid(), (int)child);
        say(buf);

        for (;;) {
                struct pollfd p[3] = {
                        {.fd = STDIN_FILENO, .events = POLLIN},
                        {.fd = have_master ? master : -1, .events = POLLIN},
                        {.fd = child_fd, .events = POLLIN},
                };
                ssize_t n;
                int status;

                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (p[1].revents) {
                        n = read(master, buf, sizeof(buf));
                        if (n <= 0) {
                                say("HOLDER: terminal gone\n");
                                have_master = false;
                        } else
                                (void)!write(STDOUT_FILENO, buf, (size_t)n);
                }
                if (p[2].revents && waitpid(child, &status, WNOHANG) == child) {
                        if (WIFSIGNALED(status))
                                snprintf(buf, sizeof(buf), "HOLDER: child %d killed by signal %d\n",
                                         (int)child, WTERMSIG(status));
                        else
                                snprintf(buf, sizeof(buf),
                                         "HOLDER: child %d exited with status %d\n", (int)child,
                                         WEXITSTATUS(status));
                        say(buf);
                        close(child_fd);
                        child_fd = -1;
                }
                if (p[0].revents) {
                        n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0)
                                break;
                        if (have_master)
                                (void)!write(master, buf, (size_t)n);
                }
        }
        /* Reap whatever is ours so that no zombie outlives the test. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        return 0;
}
