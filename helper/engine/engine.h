/* SPDX-License-Identifier: MIT */
/*
 * The re-ptying engine: moves a running process onto a new pseudo-terminal
 * that the process itself creates, and hands the pty master to the caller.
 *
 * Library code: it never logs and never exits. Every function returns 0 or a
 * negative errno and, on failure, fills a struct engine_error whose message
 * names the process, the reason and what to do next.
 *
 * Linked by reptyrd (the privileged helper) and by `reptyrctl adopt --direct`.
 * The files behind it are listed in engine-internal.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "errors.h"

/* The failure classes, from the one table in errors.h (which also gives
 * their D-Bus names and reptyrctl's exit codes). */
enum engine_error_kind {
        ENGINE_OK = 0,
#define ENGINE_ERROR_ENUM(kind, name, bus, code, what) ENGINE_ERR_##kind,
        REPTYR_ERRORS(ENGINE_ERROR_ENUM)
#undef ENGINE_ERROR_ENUM
                _ENGINE_ERR_MAX,
};

struct engine_error {
        enum engine_error_kind kind;
        int errnum;        /* the underlying errno, positive, or 0 */
        char message[512]; /* one line, no trailing newline */
};

/* Stable identifier of an error kind, e.g. "NotATerminal". */
const char *engine_error_name(enum engine_error_kind kind);

/* The D-Bus error name reptyrd answers with for a kind:
 * org.reptyr.Reptyr1.Error.*, or org.freedesktop.DBus.Error.AccessDenied
 * for a permission refusal. Out-of-range kinds count as Failed. */
const char *engine_error_bus_name(enum engine_error_kind kind);

/* Whether pid is the calling process or one of its ancestors (pid 1
 * excepted): adopting those would hand the caller's own shell a terminal
 * only the caller relays. */
bool engine_is_self_or_ancestor(pid_t pid);

enum engine_mode {
        ENGINE_MODE_PROCESS, /* the target alone onto a new pty */
        ENGINE_MODE_SESSION, /* its whole terminal session, by taking over the pty master */
};

enum engine_fds {
        ENGINE_FDS_TERMINAL, /* every fd open on the target's terminal */
        ENGINE_FDS_STDIO,    /* 0, 1 and 2, whatever they are, if they are ttys */
};

/* Test-only fault injection: never set by reptyrctl or reptyrd. Steps are
 * counted from 1 in the order the engine reaches its checkpoints. */
enum engine_fault_action {
        ENGINE_FAULT_NONE,
        ENGINE_FAULT_FAIL,        /* the step fails with EIO */
        ENGINE_FAULT_KILL,        /* SIGKILL the target just before the step */
        ENGINE_FAULT_KILL_TRACER, /* the tracer SIGKILLs itself just before the step */
};

/* What a permission model decides on, as /proc shows it. */
struct engine_target {
        pid_t pid;
        uid_t uid[4]; /* real, effective, saved, fs */
        gid_t gid[4];
        unsigned long long cap_prm, cap_eff;
        bool dumpable;    /* /proc/PID belongs to its euid, not to root */
        bool same_userns; /* in the engine's own user namespace */
        int seccomp;      /* 0 none, 1 strict, 2 filter */
        char comm[64];
        char exe[256]; /* "" if unreadable */
        /* Where its program was loaded (/proc/PID/stat startcode and
         * startstack): new with every exec, as long as address space
         * randomization is on; 0 if unreadable. */
        unsigned long long start_code, start_stack;
};

/* What tells `now` apart from `was`, the same process looked at earlier
 * (what polkit was asked about, or what was adopted): its ids, capabilities,
 * dumpability, user namespace, seccomp mode, executable or the place its
 * program was loaded, i.e. it exec'd or changed its credentials. NULL when
 * nothing does. Its comm is not compared: any program may rename itself. */
const char *engine_target_changed(const struct engine_target *was, const struct engine_target *now);

struct engine_options;

/* Called once, right before the first step that cannot be undone (process
 * mode: setsid/TIOCNOTTY; session mode: the first holder switch). A
 * negative return undoes everything, the target as it was, with err filled
 * in by the callback (e.g. the caller went away). */
typedef int (*engine_proceed_t)(void *userdata, struct engine_error *err);

/* A caller's permission check: run once the target has been inspected, and
 * again once it is frozen (it may have exec'd a setuid program meanwhile).
 * A negative return refuses the adoption, the target untouched, with err
 * filled in by the callback. */
typedef int (*engine_verify_t)(const struct engine_target *target, void *userdata,
                               struct engine_error *err);

struct engine_options {
        enum engine_mode mode;
        enum engine_fds fds;
        unsigned short rows, cols; /* 0: copy the old terminal's size */
        bool dry_run;              /* engine_inspect()'s answer as a result, nothing changed */
        /* Process mode: adopt even when a process outside the target's
         * session (a tmux or screen server) also has its terminal open and
         * would go on drawing there. */
        bool force;
        engine_verify_t verify;
        engine_proceed_t proceed;
        void *userdata;
        /* How long a thread may take to reach its first ptrace stop before
         * the adoption is given up with ENGINE_ERR_BUSY (a thread blocked in
         * vfork() or in an uninterruptible wait never stops); 0: 1000 ms.
         * Threads that never stopped stay seized by the calling thread until
         * it exits: run the engine in a process of its own (engine-worker.h)
         * wherever the caller goes on living. */
        unsigned stop_timeout_ms;
        struct {
                enum engine_fault_action action;
                unsigned step;
        } fault;
};

/* The old shell's hangups, kept away from an adopted job.
 *
 * setsid() gives the target a process group numbered like its pid, which is
 * the number of the job it was in: the old shell's "SIGHUP to every job"
 * (bash and zsh when their terminal hangs up, zsh on exit) would still reach
 * it. So, when its parent is a process of the old session, the adoption sets
 * SIGHUP to SIG_IGN (a target already ignoring it is left alone) and says so
 * here; the old terminal's own hangup no longer reaches it either way, as
 * the old shell is given the old terminal's foreground back. Once every
 * process in `watch` is gone, nothing of the old session can hang it up any
 * more: engine_hangup_release() then gives the target its own action back,
 * so that a hangup of its NEW terminal reaches it as it should (vim
 * preserves its files on it). Until then a hangup of the new terminal is
 * heard as end-of-file / EIO on reads, which such programs handle too. */
#define ENGINE_HANGUP_MAX_WATCH 2
struct engine_hangup_guard {
        bool armed;              /* SIGHUP was set to SIG_IGN by the adoption */
        unsigned word_size;      /* of the target's ABI: the layout of `saved` */
        unsigned char saved[32]; /* its own struct sigaction, as the kernel stores it */
        size_t saved_len;
        unsigned long long starttime; /* the target's, against pid reuse */
        /* The target as it was adopted: `saved` is given back only to the
         * same program with the same credentials (a handler address means
         * nothing to another program, and a setuid one must never get an
         * action its unprivileged past chose). */
        struct engine_target target;
        /* The old shell (its parent) and the old session's leader. */
        pid_t watch[ENGINE_HANGUP_MAX_WATCH];
        unsigned long long watch_starttime[ENGINE_HANGUP_MAX_WATCH];
        size_t n_watch;
};

/* Pidfds (O_CLOEXEC, the caller's to close) of the guard's watched
 * processes that still run, for poll(): when none is left (*n == 0, or all
 * of them readable), call engine_hangup_release(). */
int engine_hangup_watch(const struct engine_hangup_guard *g, int fds[ENGINE_HANGUP_MAX_WATCH],
                        size_t *n);

/* Give the target back its own SIGHUP action, if it is still the SIG_IGN
 * the adoption set (a program that chose another action since keeps it),
 * and only if it is still what was adopted (engine_target_changed()): a
 * target that exec'd or changed its credentials since keeps ignoring
 * SIGHUP, and is not even seized.
 * Holds the target for a few calls, as an adoption does; opts gives the
 * stop deadline and the fault injection (its verify is not used). Run it in
 * a worker process, like engine_adopt(). */
int engine_hangup_release(int pidfd, const struct engine_hangup_guard *g,
                          const struct engine_options *opts, struct engine_error *err);

#define ENGINE_MAX_FDS 64
#define ENGINE_MAX_HOLDERS 8
#define ENGINE_MAX_MEMBERS 64

struct engine_result {
        int master_fd; /* pty master, O_CLOEXEC, owned by the caller; -1 for dry-run */
        pid_t pid;
        char tty[64]; /* new terminal as the target sees it, e.g. "/dev/pts/7" */
        char old_tty[64];
        int replaced_fds[ENGINE_MAX_FDS];
        size_t n_replaced;
        bool was_stopped; /* job-control stopped; left stopped */
        bool was_leader;  /* was a session leader (TIOCNOTTY path) */
        /* It was the old terminal's foreground job: its parent (the old
         * shell) was shown it stop, as for ^Z, and it was continued once
         * the shell had taken its terminal back (`shell_took_tty`), or
         * after a deadline if the shell never did. */
        bool stop_notified;
        bool shell_took_tty;
        struct engine_hangup_guard hangup;
        unsigned threads;
        const char *personality; /* "x86_64", "i386" */
        unsigned steps;          /* checkpoints passed (for the fault-injection tests) */
        struct engine_target target;
        /* Session mode: the processes that held the pty master (their
         * copies, listed in replaced_fds, are now /dev/null). */
        pid_t holders[ENGINE_MAX_HOLDERS];
        size_t n_holders;
        /* Session mode: the processes of the session, which stay on the
         * terminal and so move with it (the first ENGINE_MAX_MEMBERS). */
        pid_t members[ENGINE_MAX_MEMBERS];
        size_t n_members;
};

/* What adopting a process (process mode) would do, found without touching
 * it: what engine_inspect() answers. */
struct engine_inspection {
        pid_t pid;
        char old_tty[64];        /* its terminal, e.g. "/dev/pts/3"; "" if unknown */
        int fds[ENGINE_MAX_FDS]; /* the fds adoption would replace */
        size_t n_fds;
        bool leader;      /* a session leader (the TIOCNOTTY path) */
        bool was_stopped; /* job-control stopped; adoption leaves it stopped */
        unsigned threads;
        const char *personality; /* "x86_64", "i386"; NULL if not known */
        struct engine_target target;
};

#define ENGINE_MAX_HOLDER_FDS 8

/* A process holding the master of a session's terminal, and its fds on it. */
struct engine_holder {
        pid_t pid;
        int fds[ENGINE_MAX_HOLDER_FDS];
        size_t n_fds;
};

struct engine_session_info {
        pid_t pid;    /* the process named by the caller */
        char tty[64]; /* "/dev/pts/N" */
        struct engine_holder holders[ENGINE_MAX_HOLDERS];
        size_t n_holders;
        pid_t members[ENGINE_MAX_MEMBERS]; /* processes of the session */
        size_t n_members;
        unsigned unreadable; /* processes whose fds could not be looked at */
};

/* Who holds the master of the terminal of the process behind pidfd, found
 * without touching anyone: /proc/P/fd and fdinfo's tty-index only; no fd is
 * copied out of any process and no pty is opened. It may list a holder that
 * a takeover later rules out (a pty of the same number in another devpts
 * instance): that only makes authorization stricter, never looser. */
int engine_session_probe(int pidfd, struct engine_session_info *info, struct engine_error *err);

/* Everything adoption in process mode would check and do, without doing
 * it: the same refusals as engine_adopt() (opts: fds, force, verify), with
 * the target never stopped nor written to. On a refusal, out still names
 * the target (pid, target, personality when known). */
int engine_inspect(int pidfd, const struct engine_options *opts, struct engine_inspection *out,
                   struct engine_error *err);

/* Adopt the process `pidfd` refers to. On success result->master_fd is the
 * new terminal's master. On failure the target is as it was (or gone) and
 * err says why. */
int engine_adopt(int pidfd, const struct engine_options *opts, struct engine_result *result,
                 struct engine_error *err);

/* Who the process behind pidfd is, reading only what /proc shows every user
 * (no fds, nothing is touched): for a permission decision before any
 * adoption is attempted. Refuses pid 1, kernel threads and zombies. */
int engine_identify(int pidfd, struct engine_target *target, struct engine_error *err);

/* Open a pidfd for `pid` with a clear error for each failure. */
int engine_pidfd_open(pid_t pid, int *ret_pidfd, struct engine_error *err);

/* Parse a pid argument strictly: decimal, > 1, no sign, no trailing garbage,
 * within pid_max's type. Returns 0 or -EINVAL. */
int engine_parse_pid(const char *s, pid_t *ret);
