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

struct permission_decision {
        enum permission_action action;
        bool same_user;     /* every uid of the target is the caller's */
        bool kernel_allows; /* plain ptrace by the caller would work */
        const char *reason; /* for people: why this action */
};

/* Decide for a caller (its uid, from the bus) and a target. ptrace_scope is
 * Yama's value or PTRACE_SCOPE_ABSENT. */
void permission_decide(uid_t caller, int ptrace_scope, const struct engine_target *t,
                       struct permission_decision *d);

/* polkit action id, or NULL for PERMISSION_REFUSE. */
const char *permission_action_id(enum permission_action a);

/* Yama's ptrace_scope from `path`: 0..3, PTRACE_SCOPE_ABSENT if the file
 * does not exist, -EIO (fail closed) if it cannot be read or makes no
 * sense. */
int permission_read_ptrace_scope(const char *path);
