/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "permission.h"
#include "proc.h"

const char *permission_action_id(enum permission_action a) {
        switch (a) {
        case PERMISSION_ADOPT:
                return "org.reptyr.Reptyr1.adopt";
        case PERMISSION_ADOPT_ANY:
                return "org.reptyr.Reptyr1.adopt-any";
        default:
                return NULL;
        }
}

static bool in_groups(const struct permission_caller *c, gid_t g) {
        if (!c->groups_known)
                return false;
        for (size_t i = 0; i < c->n_groups && i < PERMISSION_MAX_GROUPS; i++)
                if (c->groups[i] == g)
                        return true;
        return false;
}

void permission_decide(const struct permission_caller *caller, int scope,
                       const struct engine_target *t, struct permission_decision *d) {
        bool gids_uniform = true, callers_group, no_caps, like_kernel;

        d->same_user = true;
        for (int i = 0; i < 4; i++) {
                if (t->uid[i] != caller->uid)
                        d->same_user = false;
                if (t->gid[i] != t->gid[0])
                        gids_uniform = false;
        }
        callers_group = gids_uniform && in_groups(caller, t->gid[0]);
        no_caps = t->cap_prm == 0 && t->cap_eff == 0;
        /* A caller that is root still goes through polkit, which authorizes
         * root subjects itself. */
        like_kernel = d->same_user && callers_group && t->dumpable && no_caps && t->same_userns;
        d->kernel_allows = like_kernel && (scope == PTRACE_SCOPE_ABSENT || scope == 0);

        if (scope == 3) {
                d->action = PERMISSION_REFUSE;
                d->reason = "kernel.yama.ptrace_scope is 3: the kernel allows no process to be "
                            "traced at all, and only a reboot can change that";
                return;
        }
        if (!d->same_user)
                d->reason = "the process belongs to another user";
        else if (!gids_uniform)
                d->reason = "the process runs a setgid program";
        else if (!caller->groups_known)
                d->reason = "the bus did not tell which groups you are in";
        else if (!callers_group)
                d->reason = "the process runs with a group you are not in";
        else if (!t->dumpable)
                d->reason = "the process is not dumpable (a setuid program, or it asked not to "
                            "be traced)";
        else if (!no_caps)
                d->reason = "the process has capabilities";
        else if (!t->same_userns)
                d->reason = "the process is in another user namespace";
        else if (scope == 2)
                d->reason = "kernel.yama.ptrace_scope is 2: only administrators may trace";
        else if (scope == 1)
                d->reason = "your own process; kernel.yama.ptrace_scope 1 blocks a plain ptrace";
        else
                d->reason = "your own process, which the kernel would let you trace";
        d->action = like_kernel && scope <= 1 ? PERMISSION_ADOPT : PERMISSION_ADOPT_ANY;
}

int permission_read_ptrace_scope(const char *path) {
        char buf[16];
        ssize_t n = proc_read(AT_FDCWD, path, buf, sizeof(buf));

        if (n == -ENOENT)
                return PTRACE_SCOPE_ABSENT;
        if (n < 1 || buf[0] < '0' || buf[0] > '3' || (buf[1] != '\0' && buf[1] != '\n'))
                return -EIO;
        return buf[0] - '0';
}
