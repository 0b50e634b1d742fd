/* SPDX-License-Identifier: MIT */
/*
 * The exit status of an adopted process, which is not our child.
 *
 * Until its parent reaps it, a zombie's wait status is field 52 of
 * /proc/PID/stat (exit_code, Linux >= 3.5), shown to whoever may
 * ptrace-read it; after the reap, Linux >= 6.15 keeps it for pidfd holders
 * (PIDFD_GET_INFO with PIDFD_INFO_EXIT). Read through the /proc/PID
 * directory pinned next to the pidfd, so a recycled pid is never read.
 */
#pragma once

#include <stdbool.h>

enum exit_status_source {
        EXIT_STATUS_UNKNOWN,     /* reaped before we looked, on a kernel that forgets it */
        EXIT_STATUS_HIDDEN,      /* another user's: the kernel shows its status only to
                                  * whoever may ptrace-read it, and keeps no copy for us */
        EXIT_STATUS_FROM_ZOMBIE, /* /proc/PID/stat of the unreaped zombie */
        EXIT_STATUS_FROM_PIDFD,  /* PIDFD_GET_INFO after the reap */
        EXIT_STATUS_FROM_EXIT,   /* /proc/PID/stat while it was exiting */
};

/* The moment its terminal hung up: a process that closed its last fd on
 * the terminal because it is exiting (PF_EXITING; the kernel sets the exit
 * code before it closes the process's files, and signals its parent only
 * after) has its wait status readable now, before any parent can reap it:
 * the only way to know it on kernels before 6.15 when the parent (a shell,
 * tmux) reaps at once. Returns 0 with the status, -EAGAIN if it is not
 * exiting (it closed the terminal and runs on), or another negative errno. */
int exit_status_early(int proc_dirfd, int *ret_status);

/* The wait status (WIFEXITED() etc. apply) of the process behind pidfd,
 * which has exited (its pidfd is readable). proc_dirfd is its /proc/PID,
 * opened after pidfd and checked against it, or -1. early is what
 * exit_status_early() read, or -1. Waits at most reap_timeout_ms for the
 * parent's reap, only when no source has the status yet. */
enum exit_status_source exit_status_collect(int pidfd, int proc_dirfd, int early,
                                            int reap_timeout_ms, int *ret_status);

/* Fields 3 (state), 9 (flags) and 52 (exit_code) of the text of
 * /proc/PID/stat, or -EINVAL. Pure, for tests. */
int exit_status_parse_stat(const char *text, int *ret_status, char *ret_state,
                           unsigned long *ret_flags);
