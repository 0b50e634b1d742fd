/* SPDX-License-Identifier: MIT */
/*
 * Reading /proc for one pinned process. Every file is opened relative to a
 * directory fd for /proc/PID that was opened *after* the caller's pidfd and
 * checked against it, so a recycled pid can never be read by mistake.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
        char comm[64];
        char state;
        pid_t ppid, pgrp, session;
        unsigned tty_nr; /* kernel-encoded dev_t of the controlling tty, 0 = none */
        pid_t tpgid;
        unsigned long flags;
        unsigned long long starttime;
        long num_threads;
        /* Where its program's code and stack start: new with every exec
         * (address space randomization); 0 when the reader may not see. */
        unsigned long long start_code, start_stack;
        int processor; /* CPU it last ran on */
};

#define PROC_PF_KTHREAD 0x00200000UL

struct proc_status {
        uid_t uid[4]; /* real, effective, saved, fs */
        gid_t gid[4];
        int seccomp; /* 0 none, 1 strict, 2 filter */
        pid_t tracer_pid;
        uint64_t sig_pnd, shd_pnd, sig_blk, sig_ign, sig_cgt, cap_eff, cap_prm;
        unsigned long long nvcsw; /* voluntary context switches (times it slept) */
};

/* Parse the text of /proc/PID/stat. comm may contain anything, ')' too, so
 * fields are counted from the last ')'. 0 or -EINVAL. */
int proc_parse_stat(const char *text, struct proc_stat *st);
/* The open flags ("flags:", octal) of the text of /proc/PID/fdinfo/N; 0 if
 * absent. */
unsigned proc_parse_fdinfo_flags(const char *text);
/* The "tty-index:" of a pty master's fdinfo text (N of /dev/pts/N), -1 if
 * absent. */
int proc_parse_tty_index(const char *fdinfo);
int proc_parse_status(const char *text, struct proc_status *st);

/* Open /proc/PID as O_PATH|O_DIRECTORY and prove it is the process behind
 * pidfd: the pidfd must still be alive after the open. -ESRCH if not. */
int proc_open(int pidfd, pid_t pid, int *ret_dirfd);

/* Whether the process behind pidfd still exists (not yet reaped). */
bool proc_pidfd_alive(int pidfd);

/* Read a whole small file below dirfd into buf (NUL-terminated). Returns the
 * length or -errno. */
ssize_t proc_read(int dirfd, const char *path, char *buf, size_t size);

int proc_read_stat(int dirfd, struct proc_stat *st);
int proc_read_status(int dirfd, struct proc_status *st);

/* Process-wide pid of a /proc entry name; -1 if not a pid. */
pid_t proc_name_to_pid(const char *name);

/* The kernel's two dev_t encodings in /proc as the userspace one st_rdev
 * uses: the raw one of fdinfo's "sdev", and the new_encode_dev() one of
 * stat's tty_nr. */
dev_t proc_kdev_to_dev(unsigned long kdev);
dev_t proc_tty_nr_to_dev(unsigned tty_nr);

/* One fd of the target. */
struct proc_fd {
        int fd;
        dev_t rdev; /* for character devices */
        dev_t dev;  /* st_dev of the open file */
        ino_t ino;
        mode_t mode;
        unsigned flags; /* open flags from fdinfo, O_CLOEXEC included */
        bool is_epoll;
};

/* List the target's fds (st of the open file through /proc/PID/fd/N, flags
 * from fdinfo). *ret is malloc'd. Returns count or -errno. */
ssize_t proc_list_fds(int dirfd, struct proc_fd **ret);

/* How a process uses one terminal: how many of its fds are open on the
 * character device rdev of the filesystem dev (0: any; a devpts instance
 * numbers its own ptys), and whether it holds a pty master (a /dev/ptmx fd)
 * whose tty-index is pty_index (-1: not asked). Only fds that name a path
 * are looked at, with one stat each. 0 or -errno (-EACCES: another user's). */
struct proc_tty_use {
        unsigned n_on_dev;
        bool holds_master;
};
int proc_tty_use(int piddir, dev_t rdev, dev_t dev, int pty_index, struct proc_tty_use *u);

/* One registration of an epoll instance, from its fdinfo "tfd:" lines. */
struct proc_epoll_entry {
        int tfd;
        uint32_t events;
        uint64_t data;
        unsigned long ino;
        dev_t dev;
};

/* Parse the tfd lines of an epoll fdinfo text. Returns count or -errno. */
ssize_t proc_parse_epoll(const char *text, struct proc_epoll_entry *out, size_t max);

/* A registration found in one of a process's epoll instances. */
struct proc_epoll_watch {
        int epfd;
        struct proc_epoll_entry e;
};

/* The registrations, in the epoll instances among `fds` (the process's fd
 * list), that watch one of `targets` (matched by fd number and open file:
 * dev and inode). Returns how many were stored (at most max). */
size_t proc_epoll_watches(int dirfd, const struct proc_fd *fds, size_t n,
                          const struct proc_fd *targets, size_t n_targets,
                          struct proc_epoll_watch *out, size_t max);

/* Call cb for every numeric entry of the directory `path` below dirfd
 * (/proc itself, or /proc/PID/task): with the pid and the directory's fd, so
 * that cb can openat() the entry. A negative return from cb ends the walk
 * and is returned; entries that vanish meanwhile are the callback's to
 * skip. Returns 0 or -errno. */
typedef int (*proc_pid_cb)(pid_t pid, int dirfd, void *userdata);
int proc_for_each_pid(int dirfd, const char *path, proc_pid_cb cb, void *userdata);
