/* SPDX-License-Identifier: MIT */
/*
 * reptyrctl's exit codes before a target is adopted (sysexits-like, from 64),
 * and the one table that maps both failure sources onto them: the engine's
 * error kinds (--direct) and the D-Bus error names of the reptyrd helper.
 * Once a target is adopted, reptyrctl exits with the target's own status.
 */
#pragma once

#include "engine.h"

enum {
        EXIT_USAGE = 64,
        EXIT_NO_SUCH_PROCESS = 65,
        EXIT_NOT_A_TERMINAL = 66,
        EXIT_HAS_CHILDREN = 67,
        EXIT_SECCOMP = 68,
        EXIT_UNSUPPORTED = 69,
        EXIT_TARGET_GONE = 70,
        EXIT_BUSY = 71,
        EXIT_PERMISSION = 72,
        EXIT_FAILED = 73,
        EXIT_HELPER_UNREACHABLE = 74,
        EXIT_INTERACTIVE_AUTH = 75,
        /* After adoption: the target exited, but with a status nobody can
         * tell any more (reaped by its parent before we looked, on a
         * kernel older than 6.15). */
        EXIT_STATUS_UNKNOWN_CODE = 76,
};

/* The exit code of an engine error kind; EXIT_FAILED for anything unknown. */
int exit_code_of_engine_kind(enum engine_error_kind kind);

/* The exit code of a D-Bus error name returned by a call to reptyrd (or by
 * the bus on its behalf). EXIT_FAILED for names it does not know. */
int exit_code_of_bus_error(const char *name);
