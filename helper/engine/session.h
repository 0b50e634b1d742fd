/* SPDX-License-Identifier: MIT */
/* Session mode's state, shared by session.c (the takeover) and
 * session-holder.c (one holder of the master); not an API. */
#pragma once

#include "engine-internal.h"

#define MAX_HOLDERS ENGINE_MAX_HOLDERS
#define MAX_FDS ENGINE_MAX_HOLDER_FDS
#define MAX_HOLDER_EPOLL 16

/* One process holding the master, with every fd it has on it. */
struct holder {
        pid_t pid;
        int pidfd, dirfd;
        int fd[MAX_FDS]; /* its copies of the master */
        unsigned flags[MAX_FDS];
        dev_t dev[MAX_FDS];
        ino_t ino[MAX_FDS];
        long saved[MAX_FDS];
        bool replaced[MAX_FDS];
        size_t n_fds;
        char comm[64];
        struct tracee t;
        bool seized, frozen, remote_ready;
        struct remote r;
        long nullfd;
        const struct engine_options *opts; /* for the fault-injection tests */
        unsigned *step;
        struct proc_epoll_watch ep[MAX_HOLDER_EPOLL];
        bool ep_deleted[MAX_HOLDER_EPOLL];
        size_t n_ep;
};

struct takeover {
        const struct engine_options *opts;
        struct engine_result *res;
        struct engine_error *err;
        pid_t pid; /* the process named by the caller */
        struct proc_stat stat;
        dev_t tty;
        unsigned index;  /* N of /dev/pts/N */
        dev_t slave_dev; /* st_dev of its devpts, 0 if unknown */
        struct holder h[MAX_HOLDERS];
        size_t n;
        int master;
};

/* session-holder.c */
bool master_matches(struct takeover *s, int m);
int holder_freeze(struct takeover *s, struct holder *h);
int holder_switch(struct holder *h);
void holder_undo(struct holder *h);
void holder_leave(struct holder *h);
