/* SPDX-License-Identifier: MIT */
/*
 * Starting a command in a new tmux window, for `reptyrctl adopt --tmux`.
 * tmux is the user's own program, found on PATH and run as the user.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct tmux_window {
        char target[128];  /* "session:window", as tmux names it */
        char session[128]; /* what `tmux attach -t` takes */
        bool detached;     /* in a session nobody is attached to (yet) */
};

/* Run cmd (argv, NULL-terminated) in a new tmux window named name: in
 * session (created, detached, if it does not exist) when session is not
 * NULL; else in the tmux session this process runs in ($TMUX); else in a
 * new detached session called fallback_session. Returns 0, or a negative
 * errno with why (a line for people) filled in. */
int tmux_start_window(const char *session, const char *fallback_session, const char *name,
                      char *const cmd[], struct tmux_window *w, char *why, size_t why_size);
