/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "polkit-agent.h"
#include "util.h"

#ifndef POLKIT_AGENT_PATH
#error "POLKIT_AGENT_PATH comes from client/meson.build"
#endif

/* The fd number the agent gets its end of the notification pipe as. */
#define AGENT_NOTIFY_FD 3

bool polkit_agent_available(void) { return access(POLKIT_AGENT_PATH, X_OK) == 0; }

/* Whether we run in a logind session, as sd_pid_get_session() tells it:
 * from our cgroup, ".../session-N.scope". */
static bool in_login_session(void) {
        char buf[4096];
        _cleanup_close_ int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        const char *s;

        if (n <= 0)
                return false;
        buf[n] = '\0';
        s = strstr(buf, "/session-");
        return s && strstr(s, ".scope");
}

static _Noreturn void exec_agent(int notify_fd, pid_t parent, bool fallback) {
        sigset_t none;

        /* The agent must take ^C and SIGTERM (it restores the terminal's
         * echo on both); our blocked signals would be inherited through
         * exec. */
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        /* If we die, so does the agent, instead of prompting on a terminal
         * whose owner has gone. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);
        /* Only the agent's end survives exec: dup2() drops close-on-exec
         * (unless it is a no-op), every other fd of ours (the bus, the
         * target's pidfd) is close-on-exec or closed here. */
        if (notify_fd == AGENT_NOTIFY_FD ? fcntl(notify_fd, F_SETFD, 0) < 0
                                         : dup2(notify_fd, AGENT_NOTIFY_FD) < 0)
                _exit(EXIT_FAILURE);
        (void)close_range(AGENT_NOTIFY_FD + 1, ~0U, 0);
        /* pkttyagent registers for its parent process, i.e. us; polkit
         * finds it through our bus name's process. --fallback, as in
         * systemd's tools, lets an agent of our login session (a desktop's)
         * keep precedence. But polkit only looks at a fallback agent after
         * it found our session: outside a logind session (a container, a
         * service, a machine without logind) a fallback agent is never
         * asked, so there we register a plain one. */
        if (fallback)
                execl(POLKIT_AGENT_PATH, POLKIT_AGENT_PATH, "--notify-fd", "3", "--fallback",
                      (char *)NULL);
        else
                execl(POLKIT_AGENT_PATH, POLKIT_AGENT_PATH, "--notify-fd", "3", (char *)NULL);
        _exit(EXIT_FAILURE);
}

pid_t polkit_agent_open(void) {
        int pipe_fd[2];
        pid_t parent = getpid(), pid;
        bool fallback = in_login_session();

        if (pipe2(pipe_fd, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int notify_read = pipe_fd[0], notify_write = pipe_fd[1];

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                exec_agent(notify_write, parent, fallback);

        /* The agent closes its end once it is registered, or exits: either
         * way the read sees end-of-file. No timeout, as in systemd's tools:
         * the agent gives up by itself when polkit cannot be reached, and
         * ^C still works here. */
        closep(&notify_write);
        notify_write = -1;
        for (;;) {
                char c;
                ssize_t n = read(notify_read, &c, 1);

                if (n == 0 || (n < 0 && errno != EINTR))
                        break;
        }
        return pid;
}

void polkit_agent_close(pid_t pid) {
        if (pid <= 0)
                return;
        (void)kill(pid, SIGTERM);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}
