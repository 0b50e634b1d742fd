/* SPDX-License-Identifier: MIT */
/*
 * Who may adopt what (product.md, "the permission model"): the helper never
 * lets a caller do more than the kernel would let the caller do without
 * Yama, unless polkit says an administrator allowed more. Pure functions,
 * no I/O except reading Yama's setting.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"

enum permission_action {
        PERMISSION_REFUSE = -1, /* nobody may (Yama scope 3) */
        PERMISSION_ADOPT,       /* org.reptyr.Reptyr1.adopt */
        PERMISSION_ADOPT_ANY,   /* org.reptyr.Reptyr1.adopt-any */
};

#define PTRACE_SCOPE_ABSENT (-1)

#define PERMISSION_MAX_GROUPS 64

/* Who is asking, from the bus only (dbus-daemon records it when the caller
 * connects: SO_PEERCRED and SO_PEERGROUPS), never from /proc. */
struct permission_caller {
        uid_t uid;
        gid_t groups[PERMISSION_MAX_GROUPS]; /* primary and supplementary, in any order */
        size_t n_groups;
        bool groups_known; /* false: the bus did not say (fail closed) */
};

struct permission_decision {
        enum permission_action action;
        bool same_user;     /* every uid of the target is the caller's */
        bool kernel_allows; /* plain ptrace by the caller would work */
        const char *reason; /* for people: why this action */
};

/* Decide for a caller and a target. ptrace_scope is Yama's value or
 * PTRACE_SCOPE_ABSENT.
 *
 * "The kernel would allow it" is __ptrace_may_access() without Yama: the
 * target's real, effective, saved (and fs) uids are the caller's; its real,
 * effective, saved (and fs) gids are one group the caller is in; it is
 * dumpable; it has no capabilities (an unprivileged caller has none); it is
 * in the helper's user namespace. The kernel compares the gids with the
 * caller's real gid, which the bus does not tell apart from its other
 * groups: a process running with any one of the caller's groups counts as
 * the caller's (the caller could start such a process itself with sg(1)).
 * Anything else needs adopt-any. */
void permission_decide(const struct permission_caller *caller, int ptrace_scope,
                       const struct engine_target *t, struct permission_decision *d);

/* polkit action id, or NULL for PERMISSION_REFUSE. */
const char *permission_action_id(enum permission_action a);

/* Yama's ptrace_scope from `path`: 0..3, PTRACE_SCOPE_ABSENT if the file
 * does not exist, -EIO (fail closed) if it cannot be read or makes no
 * sense. */
int permission_read_ptrace_scope(const char *path);
