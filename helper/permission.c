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

void permission_decide(uid_t caller, int scope, const struct engine_target *t,
                       struct permission_decision *d) {
        bool ids_uniform = true, no_caps, like_kernel;

        d->same_user = true;
        for (int i = 0; i < 4; i++) {
                if (t->uid[i] != caller)
                        d->same_user = false;
                if (t->gid[i] != t->gid[0])
                        ids_uniform = false;
        }
        no_caps = t->cap_prm == 0 && t->cap_eff == 0;
        /* What __ptrace_may_access() and the capability LSM check, minus
         * Yama: same uids (no setuid), no setgid, dumpable, no capabilities
         * the caller lacks (an unprivileged caller has none), and the same
         * user namespace. A caller that is root still goes through polkit,
         * which authorizes root subjects itself. */
        like_kernel = d->same_user && ids_uniform && t->dumpable && no_caps && t->same_userns;
        d->kernel_allows = like_kernel && (scope == PTRACE_SCOPE_ABSENT || scope == 0);

        if (scope == 3) {
                d->action = PERMISSION_REFUSE;
                d->reason = "kernel.yama.ptrace_scope is 3: the kernel allows no process to be "
                            "traced at all, and only a reboot can change that";
                return;
        }
        if (!d->same_user)
                d->reason = "the process belongs to another user";
        else if (!ids_uniform)
                d->reason = "the process runs a setgid program";
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
