/* SPDX-License-Identifier: MIT */
/*
 * The relay: connects the terminal reptyrctl runs on (stdin/stdout) to the
 * pty master of an adopted process until that process exits.
 *
 * Library-like: it never prints. It owns the terminal modes of stdin while it
 * runs and restores them on every way out (return, fatal signal, exit()).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "exit-status.h"

enum relay_end {
        RELAY_TARGET_EXITED,   /* the pidfd reported the target's exit */
        RELAY_TERMINAL_CLOSED, /* every slave fd closed, the target still runs */
        RELAY_TAKEN_OVER,      /* our master was taken away: another reptyrctl took it over */
};

struct relay_exit {
        enum relay_end end;
        enum exit_status_source status; /* wait_status is valid unless UNKNOWN */
        int wait_status;                /* as from waitpid(): WIFEXITED()/WIFSIGNALED() apply */
};

/* Block the signals the relay handles (HUP INT QUIT TERM TSTP CONT WINCH)
 * so that they queue instead of acting. Call it before the adoption starts:
 * a ^C or ^Z that kills or stops reptyrctl while the target is frozen under
 * ptrace would leave the target half-modified. The relay picks the queued
 * signals up through a signalfd. Returns 0 or a negative errno. */
int relay_block_signals(void);

/* Relay between stdin/stdout (stdin must be a terminal, reptyrctl must be in
 * its foreground) and master_fd until the process behind pidfd exits or the
 * slave side is closed. The signals stay blocked afterwards: the caller is
 * expected to exit. A fatal signal (HUP INT QUIT TERM) restores the terminal
 * and kills reptyrctl with that signal; the relay does not return then.
 * Returns 0 and fills *out, or a negative errno (the terminal is restored). */
/* job_control: emulate ^Z/fg for a single adopted job (process mode). In
 * session mode the session's own shell does job control, so ^Z is just a
 * byte for the terminal. */
/* proc_dirfd: the target's /proc/PID, opened after pidfd (or -1): where its
 * exit status is read while it is a zombie. pidfd may be -1 (reptyrctl pty
 * without a command): then only the terminal's closing ends the relay. */
int relay_run(int master_fd, int pidfd, int proc_dirfd, bool job_control, struct relay_exit *out);
