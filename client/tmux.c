/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tmux.h"
#include "util.h"

#define TMUX_MAX_ARGS 32

/* Run tmux with args; its stdout (first line) into out. Returns its exit
 * status (0..255), or a negative errno if it could not be run. */
static int run_tmux(char *const args[], char *out, size_t out_size) {
        int pipefd[2], status;
        pid_t pid;
        ssize_t n = 0, k;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(pipefd[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execvp("tmux", args);
                _exit(127);
        }
        close(pipefd[1]);
        while (out && (size_t)n < out_size - 1 &&
               (k = read(pipefd[0], out + n, out_size - 1 - (size_t)n)) != 0) {
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        break;
                n += k;
        }
        close(pipefd[0]);
        if (out) {
                out[n] = '\0';
                out[strcspn(out, "\n")] = '\0';
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tmux_start_window(const char *session, const char *fallback_session, const char *name,
                      char *const cmd[], struct tmux_window *w, char *why, size_t why_size) {
        char *args[TMUX_MAX_ARGS + 16];
        char exact[160], where[160];
        size_t n = 0, ncmd = 0;
        bool new_session, named = session != NULL;
        int r;

        memset(w, 0, sizeof(*w));
        while (cmd[ncmd])
                ncmd++;
        if (ncmd > TMUX_MAX_ARGS)
                return -E2BIG;
        if (session) {
                /* "=NAME": that session exactly, not one whose name starts so. */
                snprintf(exact, sizeof(exact), "=%s", session);
                char *has[] = {"tmux", "has-session", "-t", exact, NULL};
                r = run_tmux(has, NULL, 0);
                if (r < 0 || r == 127) {
                        snprintf(why, why_size, "cannot run tmux (is it installed?)");
                        return r < 0 ? r : -ENOENT;
                }
                new_session = r != 0;
        } else
                new_session = !getenv("TMUX");
        if (!session)
                session = fallback_session;
        args[n++] = "tmux";
        if (new_session) {
                args[n++] = "new-session";
                args[n++] = "-d";
                args[n++] = "-s";
                args[n++] = (char *)session;
        } else {
                args[n++] = "new-window";
                if (named) {
                        snprintf(where, sizeof(where), "=%s:", session);
                        args[n++] = "-t";
                        args[n++] = where;
                }
        }
        args[n++] = "-n";
        args[n++] = (char *)name;
        args[n++] = "-P";
        args[n++] = "-F";
        args[n++] = "#{session_name}:#{window_index}";
        args[n++] = "--";
        for (size_t i = 0; i < ncmd; i++)
                args[n++] = cmd[i];
        args[n] = NULL;
        r = run_tmux(args, w->target, sizeof(w->target));
        if (r != 0 || !w->target[0]) {
                snprintf(why, why_size, "tmux could not %s (exit status %d)",
                         new_session ? "create a session" : "open a window", r);
                return r < 0 ? r : -EIO;
        }
        snprintf(w->session, sizeof(w->session), "%.*s", (int)strcspn(w->target, ":"), w->target);
        w->detached = new_session;
        return 0;
}
