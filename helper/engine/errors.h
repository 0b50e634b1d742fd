/* SPDX-License-Identifier: MIT */
/*
 * The one table of failure kinds: the engine's enum, its stable name, the
 * D-Bus error reptyrd answers with, and the exit code of reptyrctl. The C
 * code expands it (engine.h, engine.c, client/exit-code.c) and the tests
 * read it from this file (tests/lib/errors.py): edit it here only.
 *
 * REPTYR_ERROR(KIND, "Name", "bus error name", exit code, what it means)
 */
#pragma once

#define REPTYR_BUS_ERROR_PREFIX "org.reptyr.Reptyr1.Error."

/* clang-format off */
#define REPTYR_ERRORS(REPTYR_ERROR)                                                                 \
        REPTYR_ERROR(INVALID, "InvalidArgs", "org.reptyr.Reptyr1.Error.InvalidArgs", 64,           \
                     "bad option or argument")                                                      \
        REPTYR_ERROR(NO_SUCH_PROCESS, "NoSuchProcess", "org.reptyr.Reptyr1.Error.NoSuchProcess", 65, \
                     "no such pid, or it is not a user process")                                    \
        REPTYR_ERROR(NOT_A_TERMINAL, "NotATerminal", "org.reptyr.Reptyr1.Error.NotATerminal", 66,  \
                     "nothing to move: no terminal fds")                                            \
        REPTYR_ERROR(HAS_CHILDREN, "HasChildren", "org.reptyr.Reptyr1.Error.HasChildren", 67,      \
                     "other processes share its process group or session")                          \
        REPTYR_ERROR(SECCOMP, "Seccomp", "org.reptyr.Reptyr1.Error.Seccomp", 68,                   \
                     "a seccomp filter we may not suspend")                                         \
        REPTYR_ERROR(UNSUPPORTED, "Unsupported", "org.reptyr.Reptyr1.Error.Unsupported", 69,       \
                     "a personality or situation we cannot handle")                                 \
        REPTYR_ERROR(TARGET_GONE, "TargetGone", "org.reptyr.Reptyr1.Error.TargetGone", 70,         \
                     "it exited (or exec'd) while we worked")                                       \
        REPTYR_ERROR(BUSY, "Busy", "org.reptyr.Reptyr1.Error.Busy", 71,                            \
                     "traced by someone else, being adopted, or a thread that does not stop")      \
        REPTYR_ERROR(PERMISSION, "AccessDenied", "org.freedesktop.DBus.Error.AccessDenied", 72,    \
                     "the kernel refused ptrace (--direct), or polkit did (the helper)")            \
        REPTYR_ERROR(FAILED, "Failed", "org.reptyr.Reptyr1.Error.Failed", 73,                      \
                     "any other failure; the target was restored")
/* clang-format on */
