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
        EXIT_STATUS_FROM_ZOMBIE, /* /proc/PID/stat of the unreaped zombie */
        EXIT_STATUS_FROM_PIDFD,  /* PIDFD_GET_INFO after the reap */
};

/* The wait status (WIFEXITED() etc. apply) of the process behind pidfd,
 * which has exited (its pidfd is readable). proc_dirfd is its /proc/PID,
 * opened after pidfd and checked against it, or -1. Waits at most
 * reap_timeout_ms for the parent's reap, only when neither source has the
 * status yet. */
enum exit_status_source exit_status_collect(int pidfd, int proc_dirfd, int reap_timeout_ms,
                                            int *ret_status);

/* Field 52 (exit_code) of the text of /proc/PID/stat, or -EINVAL. Pure,
 * for tests. */
int exit_status_parse_stat(const char *text, int *ret_status, char *ret_state);
