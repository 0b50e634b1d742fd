/* SPDX-License-Identifier: MIT */
/*
 * The processes a user could adopt, built only from what /proc shows that
 * user: no privileges, no bus, no ptrace. Shared by `reptyrctl list` and the
 * process picker of reptyr-terminal, so both show the same processes in the
 * same order.
 *
 * A process is listed when it has a terminal: a controlling tty, or (for
 * processes whose fds the user may read, i.e. their own) a pty open on
 * fd 0, 1 or 2. The lister itself, its ancestors (they cannot be adopted by
 * their own descendant) and zombies are left out.
 *
 * "Orphaned" means certain, never guessed: the pty's master has been closed
 * (whoever held it, e.g. sshd after a dropped connection, or a closed
 * terminal window, is gone). The kernel then removes the slave's /dev/pts
 * node and hangs the terminal up, which clears it as the controlling tty of
 * its session; what remains visible is the process's own fds on a
 * "/dev/pts/N (deleted)" node. So this is only known for processes whose
 * fds the user can read (their own). A master held by a process the user
 * cannot inspect (another user's sshd, say) is alive but its holder shows
 * as unknown (0).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct proclist_entry {
        pid_t pid;
        pid_t ppid;
        pid_t sid; /* session id */
        uid_t uid; /* real uid */
        char user[33];
        char comm[64];
        char command[512]; /* the command line, spaces between arguments */
        char tty[64];      /* "/dev/pts/3", "/dev/tty2", "" */
        char state;        /* from /proc/PID/stat: R S D T t I ... */
        uint64_t age_sec;  /* seconds since the process started */
        bool orphaned;     /* its pty's master was closed (see above) */
        pid_t holder;      /* a visible process holding the pty's master, 0 if unknown */
        bool own;          /* same real uid as the lister */
        bool session_leader;
        bool has_children; /* visible children on the same terminal */
        bool seccomp;      /* a seccomp filter: cannot be adopted */
        bool adoptable;    /* nothing visible rules adoption out */
        const char *mode;  /* the adoption mode to use: "process" or "session" */
        const char *note;  /* why it needs something, for people; "" if nothing */
};

struct proclist {
        struct proclist_entry *entries;
        size_t n;
};

enum {
        PROCLIST_ALL = 1 << 0, /* other users' processes too (marked !own) */
};

/* Fills *list (free with proclist_free()), sorted: orphaned first, then by
 * terminal, then by pid. Returns 0 or -errno (only when /proc cannot be
 * read at all: single processes that vanish meanwhile are skipped). */
int proclist_collect(unsigned flags, struct proclist *list);
void proclist_free(struct proclist *list);

/* Words for people. */
const char *proclist_state_name(char state);
/* "45s", "12min", "3h 05min", "2d 4h"; buf of at least 32 bytes. */
const char *proclist_format_age(uint64_t sec, char *buf, size_t size);

/* The table of `reptyrctl list`, systemd style: a header line, one line per
 * process, a blank line and "N processes listed.". Control characters in
 * names are shown as \xNN. */
void proclist_print_table(const struct proclist *list, FILE *f);
/* One JSON object per line per process. */
void proclist_print_json(const struct proclist *list, FILE *f);

/* "/dev/pts/3" etc. for a tty_nr of /proc/PID/stat; "" for 0 or unknown. */
void proclist_tty_name(int tty_nr, char *buf, size_t size);
