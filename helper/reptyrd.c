/* SPDX-License-Identifier: MIT */
/*
 * reptyrd: the D-Bus activated root helper behind `reptyrctl adopt`.
 *
 * Every method may be called by anyone; each call is authorized here, with
 * polkit, for the caller's bus name (never a pid, never anything the
 * message says about itself). The permission model (permission.c) picks the
 * polkit action from what the kernel would let the caller do without Yama.
 *
 * The event loop never blocks on a target or on another process's files:
 * anything that ptraces, or walks other processes' fds in /proc (a stat()
 * of an fd can wait on a FUSE server its owner runs), runs in a forked
 * worker (engine-worker.h) under a deadline, and polkit is asked
 * asynchronously, under a timeout. A request goes through these stages:
 *
 *   decide   who calls (bus credentials), which process (its pidfd, never a
 *            thread), which action (permission.c); in session mode a
 *            worker first finds, without touching anyone, who holds the
 *            terminal, and every holder counts for the action;
 *   polkit   CheckAuthorization, cancelled if the caller disconnects;
 *   adopt    a worker seizes the target, checks it again against what was
 *            authorized before stopping it, and re-ptys it; a caller that
 *            disconnects meanwhile cancels it before its point of no
 *            return.
 *
 * No user can starve the others: each uid has at most
 * REQUESTS_PER_USER_MAX requests in flight, all users together at most
 * REQUESTS_MAX (below the bus's 128 pending replies per connection, which
 * also bound our own calls to polkit), and a request is refused as Busy
 * only when another one is really adopting the same target.
 *
 * Layout, top-down: state, requests, replies, the stages, method handlers,
 * properties, vtable, idle exit and stopping, run().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "arch.h"
#include "bus-names.h"
#include "engine-worker.h"
#include "engine.h"
#include "options.h"
#include "permission.h"
#include "proc.h"
#include "util.h"

#define BUS_NAME REPTYR_BUS_NAME
#define BUS_PATH REPTYR_BUS_PATH
#define BUS_IFACE REPTYR_BUS_INTERFACE
#define ERROR_PREFIX REPTYR_BUS_ERROR_PREFIX
#define DEFAULT_PTRACE_SCOPE "/proc/sys/kernel/yama/ptrace_scope"
#define DEFAULT_IDLE_SEC 30

#define REQUESTS_MAX 112
#define REQUESTS_PER_USER_MAX 32
#define USEC_PER_SEC UINT64_C(1000000)
/* A person typing a password, or polkit alone. */
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (120 * USEC_PER_SEC)
#define POLKIT_TIMEOUT_USEC (25 * USEC_PER_SEC)
/* Last resorts: the engine gives up by itself long before (each thread
 * gets STOP_TIMEOUT_MS to stop), and a probe only reads /proc. */
#define PROBE_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* Also what ends the one wait the engine cannot bound: attaching to a
 * thread of a target that is exec()ing waits for that exec, which waits for
 * threads we already attached to be reaped by us. */
#define ADOPT_TIMEOUT_USEC (8 * USEC_PER_SEC)
#define STOP_TIMEOUT_MS 1000

/* ---- state ---- */

struct request;
struct hangup_guard;

struct manager {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *idle;
        uint64_t idle_usec;
        const char *ptrace_scope_path;
        struct request *requests; /* every request in flight */
        unsigned n_requests;
        struct hangup_guard *guards; /* adopted jobs whose old session still runs */
        unsigned n_guards;
        unsigned long long n_started;
        bool releasing; /* idle: the name is given up, finish what is pending */
        bool stopping;  /* SIGTERM: finish or undo what is in flight, then exit */
        /* Test-only (command line, never from a caller): make the adopting
         * worker die at this engine step. */
        unsigned fault_kill_tracer_step;
};

enum request_kind { REQUEST_ADOPT, REQUEST_INSPECT };

enum request_stage {
        STAGE_DECIDE, /* a probe worker looks for the terminal's holders */
        STAGE_POLKIT,
        STAGE_WORK, /* the adopting (or inspecting) worker runs */
};

struct request {
        struct manager *manager;
        struct request *prev, *next;
        enum request_kind kind;
        enum request_stage stage;
        sd_bus_message *call;
        sd_bus_track *track; /* is the caller still connected? */
        bool caller_gone;

        sd_bus_slot *polkit_slot;
        char polkit_cancel_id[48];

        struct engine_worker worker;
        sd_event_source *worker_source, *deadline;

        int pidfd;
        struct permission_caller caller;
        pid_t caller_pid; /* for the log only */
        bool interactive;
        int ptrace_scope;
        struct engine_options opts;
        const char *mode;
        struct engine_target target;
        struct permission_decision decision;
        struct engine_session_info session; /* session mode, from the probe */
        char reason[192];                   /* decision.reason, when built here */
};

/* An adopted shell job runs with SIGHUP ignored until its old session is
 * gone (the old shell's "SIGHUP to all my jobs" would otherwise hit it:
 * after setsid() its process group has the old job's number). We watch the
 * old shell and the old session's leader and give the job its own SIGHUP
 * action back once both have exited, so that a hangup of its new terminal
 * reaches it. The saved action (a handler address) stays here: it never
 * comes from a caller. */
struct hangup_guard {
        struct manager *manager;
        struct hangup_guard *prev, *next;
        int pidfd; /* the adopted target */
        pid_t pid;
        char comm[64];
        struct engine_hangup_guard g;
        int watch[ENGINE_HANGUP_MAX_WATCH];
        sd_event_source *watch_source[ENGINE_HANGUP_MAX_WATCH];
        size_t n_watch, n_running;
        sd_event_source *target_source;
        struct engine_worker worker;
        sd_event_source *worker_source;
};

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
        va_list ap;

        /* stderr: the journal under systemd, the bus's log in the tests. */
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- requests ---- */

static void manager_check_exit(struct manager *m);

static unsigned requests_of(const struct manager *m, uid_t uid) {
        unsigned n = 0;

        for (const struct request *r = m->requests; r; r = r->next)
                n += r->caller.uid == uid;
        return n;
}

static void request_stop_worker(struct request *r) {
        r->worker_source = sd_event_source_disable_unref(r->worker_source);
        r->deadline = sd_event_source_disable_unref(r->deadline);
        engine_worker_free(&r->worker);
}

static void request_free(struct request *r) {
        struct manager *m;

        if (!r)
                return;
        m = r->manager;
        if (r->prev)
                r->prev->next = r->next;
        else
                m->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        m->n_requests--;
        request_stop_worker(r);
        sd_bus_slot_unref(r->polkit_slot);
        sd_bus_track_unref(r->track);
        sd_bus_message_unref(r->call);
        if (r->pidfd >= 0)
                close(r->pidfd);
        free(r);
        manager_check_exit(m);
}

static void request_freep(struct request **r) { request_free(*r); }

static struct request *request_new(struct manager *m, sd_bus_message *call, enum request_kind kind,
                                   int pidfd) {
        struct request *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->manager = m;
        r->kind = kind;
        r->call = sd_bus_message_ref(call);
        r->pidfd = pidfd;
        r->worker = (struct engine_worker){.pid = -1, .pidfd = -1, .sock = -1};
        r->mode = "process";
        r->ptrace_scope = PTRACE_SCOPE_ABSENT;
        r->next = m->requests;
        if (r->next)
                r->next->prev = r;
        m->requests = r;
        m->n_requests++;
        m->n_started++;
        return r;
}

static void log_outcome(struct request *r, const char *outcome, const char *detail) {
        const char *action = permission_action_id(r->decision.action);

        log_line("%s: caller uid=%u pid=%d, target pid=%d uid=%u comm=%s, action=%s, mode=%s: "
                 "%s%s%s",
                 r->kind == REQUEST_ADOPT ? (r->opts.dry_run ? "adopt (dry run)" : "adopt")
                                          : "inspect",
                 (unsigned)r->caller.uid, (int)r->caller_pid, (int)r->target.pid,
                 (unsigned)r->target.uid[0], r->target.comm[0] ? r->target.comm : "?",
                 action ? action : "none", r->mode ? r->mode : "process", outcome,
                 detail ? ": " : "", detail ? detail : "");
}

/* ---- replies ---- */

/* Answer the call with an error and end the request. A caller that went
 * away gets nothing (there is nobody to send it to). */
static void request_fail(struct request *r, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void request_fail(struct request *r, const char *name, const char *fmt, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char msg[768];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_outcome(r, "refused", msg);
        if (!r->caller_gone) {
                sd_bus_error_set(&error, name, msg);
                (void)sd_bus_reply_method_error(r->call, &error);
        }
        request_free(r);
}

static void request_fail_engine(struct request *r, const struct engine_error *e) {
        request_fail(r, options_error_bus_name(e->kind), "%s", e->message);
}

static int append_pids(sd_bus_message *reply, const char *key, const pid_t *pids, size_t n) {
        int k = sd_bus_message_open_container(reply, 'e', "sv");

        if (k >= 0)
                k = sd_bus_message_append(reply, "s", key);
        /* "ai" like the fd lists, so that clients read all of them alike. */
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'v', "ai");
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'a', "i");
        for (size_t i = 0; k >= 0 && i < n; i++)
                k = sd_bus_message_append(reply, "i", (int32_t)pids[i]);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        return k;
}

static int append_fds(sd_bus_message *reply, const char *key, const int *fds, size_t n) {
        int k = sd_bus_message_open_container(reply, 'e', "sv");

        if (k >= 0)
                k = sd_bus_message_append(reply, "s", key);
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'v', "ai");
        if (k >= 0)
                k = sd_bus_message_append_array(reply, 'i', fds, n * sizeof(int));
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        return k;
}

static int adopt_reply(struct request *r, const struct engine_result *res, int master) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int k;

        k = sd_bus_message_new_method_return(r->call, &reply);
        if (k >= 0)
                k = sd_bus_message_append(reply, "h", master);
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (k >= 0)
                k = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "pid", "u", (uint32_t)r->target.pid,
                        "mode", "s", r->mode, "personality", "s",
                        res->personality ? res->personality : "", "tty", "s", res->tty, "old-tty",
                        "s", res->old_tty, "was-stopped", "b", (int)res->was_stopped);
        if (k >= 0)
                k = append_fds(reply, "replaced-fds", res->replaced_fds, res->n_replaced);
        if (k >= 0 && res->n_holders > 0)
                k = append_pids(reply, "holders", res->holders, res->n_holders);
        if (k >= 0 && res->n_members > 0)
                k = append_pids(reply, "session-processes", res->members, res->n_members);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = sd_bus_send(NULL, reply, NULL);
        return k;
}

/* Whether the caller may see that pid exists and what it is: its own
 * processes, which it can read in /proc itself; anyone's when it is
 * authorized for adopt-any. Fail closed. */
static bool caller_may_see(const struct request *r, pid_t pid, bool authorized_any) {
        char path[64], buf[4096];
        struct proc_status st;

        if (authorized_any)
                return true;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (proc_read(AT_FDCWD, path, buf, sizeof(buf)) < 0 || proc_parse_status(buf, &st) < 0)
                return false;
        return st.uid[0] == r->caller.uid && st.uid[1] == r->caller.uid;
}

static size_t visible_pids(const struct request *r, const pid_t *in, size_t n, bool any,
                           pid_t *out) {
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
                if (caller_may_see(r, in[i], any))
                        out[m++] = in[i];
        return m;
}

/* Inspect's answer. What anyone can read in /proc (pid, uid, comm) and
 * polkit's answer always; what adoption would touch (fds, exe, terminal)
 * only when authorized; holders and session processes of other users only
 * when authorized for adopt-any. */
static void inspect_reply(struct request *r, const char *authorized, const char *reason,
                          const struct engine_outcome *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *action = permission_action_id(r->decision.action);
        bool yes = strcmp(authorized, "yes") == 0 && o && o->r == 0;
        bool any = yes && r->decision.action == PERMISSION_ADOPT_ANY;
        pid_t pids[ENGINE_MAX_MEMBERS];
        size_t n;
        int k;

        k = sd_bus_message_new_method_return(r->call, &reply);
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (k >= 0)
                k = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "pid", "u",
                        (uint32_t)r->target.pid, "uid", "u", (uint32_t)r->target.uid[0], "comm",
                        "s", r->target.comm, "mode", "s", r->mode, "action", "s",
                        action ? action : "", "authorized", "s", authorized, "reason", "s",
                        reason ? reason : "", "exe", "s", yes ? r->target.exe : "", "tty", "s",
                        yes ? o->inspection.old_tty : "", "personality", "s",
                        yes && o->inspection.personality ? o->inspection.personality : "");
        if (k >= 0)
                k = append_fds(reply, "fds", yes ? o->inspection.fds : NULL,
                               yes ? o->inspection.n_fds : 0);
        if (k >= 0 && yes && o->session.n_holders > 0) {
                pid_t h[ENGINE_MAX_HOLDERS];
                for (size_t i = 0; i < o->session.n_holders; i++)
                        h[i] = o->session.holders[i].pid;
                n = visible_pids(r, h, o->session.n_holders, any, pids);
                if (n > 0)
                        k = append_pids(reply, "holders", pids, n);
        }
        if (k >= 0 && yes && o->session.n_members > 0) {
                n = visible_pids(r, o->session.members, o->session.n_members, any, pids);
                if (n > 0)
                        k = append_pids(reply, "session-processes", pids, n);
        }
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0 && !r->caller_gone)
                k = sd_bus_send(NULL, reply, NULL);
        log_outcome(r, "inspected", k < 0 ? "the reply failed" : authorized);
        request_free(r);
}

/* ---- workers ---- */

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int on_worker_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        struct request *r = userdata;

        /* The engine gives up on a target that does not stop long before
         * this; a worker still running now is wedged. Killing it releases
         * whatever it held (the kernel detaches its tracees). */
        log_outcome(r, "worker timed out", "killed");
        request_stop_worker(r);
        request_fail(r, ERROR_PREFIX "Failed",
                     "adopting process %d (%s) did not finish in time and was stopped; check "
                     "the process with reptyrctl inspect",
                     (int)r->target.pid, r->target.comm);
        return 0;
}

static int request_start_worker(struct request *r, enum engine_job job, uint64_t timeout_usec) {
        int k;

        k = engine_worker_start(job, r->pidfd, &r->opts, NULL, &r->worker);
        if (k < 0)
                return k;
        k = sd_event_add_io(r->manager->event, &r->worker_source, r->worker.pidfd, EPOLLIN,
                            on_worker_exit, r);
        if (k >= 0)
                k = sd_event_add_time_relative(r->manager->event, &r->deadline, CLOCK_MONOTONIC,
                                               timeout_usec, 0, on_worker_deadline, r);
        if (k < 0)
                request_stop_worker(r);
        return k;
}

/* ---- stage: decide ---- */

static int ask_polkit(struct request *r);

/* Session mode also touches the processes holding the terminal's master
 * (a terminal emulator, sshd, tmux): each of them must be within what the
 * caller may adopt, or the whole takeover needs adopt-any. Fail closed: a
 * holder that cannot be examined needs the most. */
static void decide_session(struct request *r) {
        for (size_t i = 0; i < r->session.n_holders; i++) {
                struct permission_decision d;
                struct engine_target t;
                struct engine_error err;
                _cleanup_close_ int pidfd =
                        (int)syscall(SYS_pidfd_open, r->session.holders[i].pid, 0);

                bool known = pidfd >= 0 && engine_identify(pidfd, &t, &err) == 0;

                if (!known)
                        d = (struct permission_decision){
                                .action = PERMISSION_ADOPT_ANY,
                                .reason = "a process holding the terminal could not be examined",
                        };
                else
                        permission_decide(&r->caller, r->ptrace_scope, &t, &d);
                if (d.action != PERMISSION_ADOPT_ANY || r->decision.action != PERMISSION_ADOPT)
                        continue;
                r->decision = d;
                /* Name the holder only where the caller could see it hold
                 * the terminal itself: in its own process. */
                if (known && t.uid[0] == r->caller.uid && t.uid[1] == r->caller.uid)
                        snprintf(r->reason, sizeof(r->reason),
                                 "the terminal is held by %d (%s), which you may not adopt "
                                 "yourself: %s",
                                 (int)t.pid, t.comm, d.reason);
                else
                        snprintf(r->reason, sizeof(r->reason),
                                 "the terminal is held by another user's process (a terminal "
                                 "emulator, sshd or tmux of theirs), which you may not adopt "
                                 "yourself");
                r->decision.reason = r->reason;
        }
}

static void request_ask(struct request *r) {
        int k;

        if (r->decision.action == PERMISSION_REFUSE) {
                if (r->kind == REQUEST_INSPECT)
                        inspect_reply(r, "no", r->decision.reason, NULL);
                else
                        request_fail(r, SD_BUS_ERROR_ACCESS_DENIED,
                                     "adopting process %d (%s) is refused: %s", (int)r->target.pid,
                                     r->target.comm, r->decision.reason);
                return;
        }
        r->stage = STAGE_POLKIT;
        k = ask_polkit(r);
        if (k < 0)
                request_fail(r, SD_BUS_ERROR_ACCESS_DENIED,
                             "cannot check authorization with polkit (%s); is polkitd running?",
                             strerror(-k));
}

/* ---- stage: polkit ---- */

static void request_work(struct request *r);

static int polkit_done(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct request *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0, k;

        r->polkit_slot = sd_bus_slot_unref(r->polkit_slot);
        /* Fail closed: no answer, or one we cannot read, is a no. */
        if (e) {
                if (r->kind == REQUEST_INSPECT) {
                        inspect_reply(r, "no", e->message, NULL);
                        return 0;
                }
                request_fail(r, SD_BUS_ERROR_ACCESS_DENIED,
                             "cannot check authorization with polkit (%s: %s); is polkitd "
                             "running?",
                             e->name, e->message);
                return 0;
        }
        k = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (k >= 0)
                k = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (k < 0) {
                request_fail(r, SD_BUS_ERROR_ACCESS_DENIED,
                             "polkit gave an answer reptyrd cannot read");
                return 0;
        }
        if (r->kind == REQUEST_INSPECT) {
                if (authorized)
                        request_work(r);
                else
                        inspect_reply(r, challenge ? "challenge" : "no", r->decision.reason, NULL);
                return 0;
        }
        if (authorized) {
                request_work(r);
                return 0;
        }
        if (challenge) {
                request_fail(r, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                             "adopting process %d (%s) needs authentication (%s) and %s; run "
                             "reptyrctl on a terminal with a polkit agent (pkttyagent) so that "
                             "it can ask for a password, or ask an administrator for a polkit "
                             "rule",
                             (int)r->target.pid, r->target.comm, r->decision.reason,
                             r->interactive ? "no polkit agent answered"
                                            : "the call did not allow a password prompt");
                return 0;
        }
        request_fail(r, SD_BUS_ERROR_ACCESS_DENIED,
                     "not authorized to adopt process %d (%s): %s; an administrator can allow it "
                     "with a polkit rule for %s",
                     (int)r->target.pid, r->target.comm, r->decision.reason,
                     permission_action_id(r->decision.action));
        return 0;
}

static int ask_polkit(struct request *r) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *q = NULL;
        char pid[16], uid[16], caller[16], scope[16];
        const char *sender = sd_bus_message_get_sender(r->call);
        int k;

        if (!sender)
                return -EBADMSG;
        snprintf(pid, sizeof(pid), "%d", (int)r->target.pid);
        snprintf(uid, sizeof(uid), "%u", (unsigned)r->target.uid[0]);
        snprintf(caller, sizeof(caller), "%u", (unsigned)r->caller.uid);
        if (r->ptrace_scope == PTRACE_SCOPE_ABSENT)
                snprintf(scope, sizeof(scope), "absent");
        else
                snprintf(scope, sizeof(scope), "%d", r->ptrace_scope);
        snprintf(r->polkit_cancel_id, sizeof(r->polkit_cancel_id), "reptyrd-%d-%llu", (int)getpid(),
                 r->manager->n_started);

        k = sd_bus_message_new_method_call(r->manager->bus, &q, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CheckAuthorization");
        if (k < 0)
                return k;
        /* The subject is the caller's bus name: polkit looks the process
         * and user up itself, race-free. */
        k = sd_bus_message_append(q, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender,
                                  permission_action_id(r->decision.action));
        if (k < 0)
                return k;
        k = sd_bus_message_append(q, "a{ss}", 9, "pid", pid, "uid", uid, "comm", r->target.comm,
                                  "exe", r->target.exe, "ptrace_scope", scope, "mode", r->mode,
                                  "same_user", r->decision.same_user ? "true" : "false",
                                  "kernel_allows", r->decision.kernel_allows ? "true" : "false",
                                  "caller_uid", caller);
        if (k < 0)
                return k;
        /* 1 = AllowUserInteraction: only if the caller said it may wait
         * for a password prompt. The cancellation id lets us withdraw the
         * question when the caller goes away. */
        k = sd_bus_message_append(q, "us", (uint32_t)(r->interactive ? 1 : 0), r->polkit_cancel_id);
        if (k < 0)
                return k;
        return sd_bus_call_async(r->manager->bus, &r->polkit_slot, q, polkit_done, r,
                                 r->interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC
                                                : POLKIT_TIMEOUT_USEC);
}

/* Withdraw a question polkit may still be asking a person. No reply is
 * expected, so it holds no slot of ours on the bus. */
static void cancel_polkit(struct request *r) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *q = NULL;

        if (!r->polkit_slot)
                return;
        r->polkit_slot = sd_bus_slot_unref(r->polkit_slot);
        if (sd_bus_message_new_method_call(r->manager->bus, &q, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CancelCheckAuthorization") < 0 ||
            sd_bus_message_append(q, "s", r->polkit_cancel_id) < 0 ||
            sd_bus_message_set_expect_reply(q, false) < 0)
                return;
        (void)sd_bus_send(r->manager->bus, q, NULL);
}

/* ---- stage: work ---- */

/* The engine's second look, in the worker, with the target seized but not
 * yet stopped: whatever it is now must not need more than the action
 * polkit granted. */
static int verify_seized(const struct engine_target *t, void *userdata, struct engine_error *err) {
        struct request *r = userdata;
        struct permission_decision now;

        permission_decide(&r->caller, r->ptrace_scope, t, &now);
        if (now.action == PERMISSION_REFUSE ||
            (now.action == PERMISSION_ADOPT_ANY && r->decision.action != PERMISSION_ADOPT_ANY)) {
                err->kind = ENGINE_ERR_PERMISSION;
                snprintf(err->message, sizeof(err->message),
                         "process %d (%s) changed while it was being adopted (%s); it was left "
                         "as it was; try again to be asked for the right authorization",
                         (int)t->pid, t->comm, now.reason);
                return -EPERM;
        }
        return 0;
}

static void request_work(struct request *r) {
        struct manager *m = r->manager;
        int k;

        /* Busy only when another request is really adopting the same
         * target now, never because someone asked about it before. */
        if (r->kind == REQUEST_ADOPT && !r->opts.dry_run)
                for (struct request *o = m->requests; o; o = o->next)
                        if (o != r && o->stage == STAGE_WORK && o->kind == REQUEST_ADOPT &&
                            !o->opts.dry_run && o->target.pid == r->target.pid) {
                                request_fail(r, ERROR_PREFIX "Busy",
                                             "process %d (%s) is being adopted by another "
                                             "request right now; wait for it to finish",
                                             (int)r->target.pid, r->target.comm);
                                return;
                        }
        r->stage = STAGE_WORK;
        r->opts.verify = verify_seized;
        r->opts.userdata = r;
        r->opts.stop_timeout_ms = STOP_TIMEOUT_MS;
        if (m->fault_kill_tracer_step > 0) {
                r->opts.fault.action = ENGINE_FAULT_KILL_TRACER;
                r->opts.fault.step = m->fault_kill_tracer_step;
        }
        k = request_start_worker(r,
                                 r->kind == REQUEST_INSPECT ? ENGINE_JOB_INSPECT : ENGINE_JOB_ADOPT,
                                 ADOPT_TIMEOUT_USEC);
        if (k < 0)
                request_fail(r, ERROR_PREFIX "Failed",
                             "cannot start a worker to adopt process %d (%s): %s; the process "
                             "was not touched",
                             (int)r->target.pid, r->target.comm, strerror(-k));
}

/* ---- SIGHUP of adopted jobs, after their old session ---- */

static void guard_free(struct hangup_guard *h) {
        struct manager *m = h->manager;

        if (h->prev)
                h->prev->next = h->next;
        else
                m->guards = h->next;
        if (h->next)
                h->next->prev = h->prev;
        m->n_guards--;
        for (size_t i = 0; i < h->n_watch; i++) {
                sd_event_source_disable_unref(h->watch_source[i]);
                close(h->watch[i]);
        }
        sd_event_source_disable_unref(h->target_source);
        sd_event_source_disable_unref(h->worker_source);
        engine_worker_free(&h->worker);
        close(h->pidfd);
        free(h);
        manager_check_exit(m);
}

static int on_guard_released(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_free_ struct engine_outcome *o = malloc(sizeof(*o));
        struct hangup_guard *h = userdata;

        h->worker_source = sd_event_source_disable_unref(h->worker_source);
        if (o && engine_worker_finish(&h->worker, o) == 0)
                log_line("hangup guard: %d (%s): its old session is gone; its own SIGHUP action "
                         "is back",
                         (int)h->pid, h->comm);
        else
                log_line("hangup guard: %d (%s): giving back its SIGHUP action failed (%s); it "
                         "keeps ignoring SIGHUP",
                         (int)h->pid, h->comm, o ? o->err.message : "out of memory");
        guard_free(h);
        return 0;
}

static void guard_release(struct hangup_guard *h) {
        struct engine_options opts = {.stop_timeout_ms = STOP_TIMEOUT_MS};
        int k;

        k = engine_worker_start(ENGINE_JOB_HANGUP_RELEASE, h->pidfd, &opts, &h->g, &h->worker);
        if (k >= 0)
                k = sd_event_add_io(h->manager->event, &h->worker_source, h->worker.pidfd, EPOLLIN,
                                    on_guard_released, h);
        if (k < 0) {
                log_line("hangup guard: %d (%s): cannot start a worker (%s); it keeps ignoring "
                         "SIGHUP",
                         (int)h->pid, h->comm, strerror(-k));
                guard_free(h);
        }
}

/* One of the old shell and the old session leader exited. */
static int on_guard_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct hangup_guard *h = userdata;

        (void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
        if (--h->n_running == 0)
                guard_release(h);
        return 0;
}

/* The adopted job itself ended: nothing is left to give back. */
static int on_guard_target_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        guard_free(userdata);
        return 0;
}

static void guard_start(struct request *r, const struct engine_result *res) {
        struct manager *m = r->manager;
        struct hangup_guard *h;
        int k = 0;

        h = calloc(1, sizeof(*h));
        if (!h || (h->pidfd = fcntl(r->pidfd, F_DUPFD_CLOEXEC, 3)) < 0) {
                free(h);
                log_line("hangup guard: %d: out of resources; it keeps ignoring SIGHUP",
                         (int)r->target.pid);
                return;
        }
        h->manager = m;
        h->pid = r->target.pid;
        snprintf(h->comm, sizeof(h->comm), "%s", r->target.comm);
        h->g = res->hangup;
        h->worker = (struct engine_worker){.pid = -1, .pidfd = -1, .sock = -1};
        h->next = m->guards;
        if (h->next)
                h->next->prev = h;
        m->guards = h;
        m->n_guards++;
        (void)engine_hangup_watch(&h->g, h->watch, &h->n_watch);
        h->n_running = h->n_watch;
        for (size_t i = 0; k >= 0 && i < h->n_watch; i++)
                k = sd_event_add_io(m->event, &h->watch_source[i], h->watch[i], EPOLLIN,
                                    on_guard_watch, h);
        if (k >= 0)
                k = sd_event_add_io(m->event, &h->target_source, h->pidfd, EPOLLIN,
                                    on_guard_target_exit, h);
        if (k < 0) {
                log_line("hangup guard: %d (%s): cannot watch its old session (%s); it keeps "
                         "ignoring SIGHUP",
                         (int)h->pid, h->comm, strerror(-k));
                guard_free(h);
                return;
        }
        log_line("hangup guard: %d (%s) ignores SIGHUP until its old shell and session leader "
                 "(%zu running) are gone",
                 (int)h->pid, h->comm, h->n_running);
        if (h->n_running == 0)
                guard_release(h);
}

static void adopt_done(struct request *r, struct engine_outcome *o) {
        _cleanup_close_ int master = o->res.master_fd;
        int k;

        if (o->r < 0) {
                request_fail_engine(r, &o->err);
                return;
        }
        if (r->opts.dry_run) {
                /* The contract promises an fd: a placeholder that is not a
                 * terminal. */
                master = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (master < 0) {
                        request_fail(r, ERROR_PREFIX "Failed", "cannot open /dev/null: %m");
                        return;
                }
        }
        /* Adopted. A caller that went away after the point of no return
         * cannot take the terminal: closing the master hangs it up, as
         * closing a terminal window would. */
        if (r->caller_gone || sd_bus_track_count(r->track) == 0) {
                log_outcome(r, "adopted, but the caller went away", "its new terminal was hung up");
                if (o->res.hangup.armed)
                        guard_start(r, &o->res);
                request_free(r);
                return;
        }
        k = adopt_reply(r, &o->res, master);
        if (o->res.hangup.armed && !r->opts.dry_run)
                guard_start(r, &o->res);
        log_outcome(r,
                    k < 0             ? "adopted, but the reply failed"
                    : r->opts.dry_run ? "allowed (dry run)"
                                      : "adopted",
                    k < 0           ? strerror(-k)
                    : o->res.tty[0] ? o->res.tty
                                    : NULL);
        request_free(r);
}

static void probe_done(struct request *r, struct engine_outcome *o) {
        if (o->r < 0) {
                request_fail_engine(r, &o->err);
                return;
        }
        r->session = o->session;
        decide_session(r);
        request_ask(r);
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_free_ struct engine_outcome *o = malloc(sizeof(*o));
        struct request *r = userdata;

        r->worker_source = sd_event_source_disable_unref(r->worker_source);
        r->deadline = sd_event_source_disable_unref(r->deadline);
        if (!o) {
                request_stop_worker(r);
                request_fail(r, ERROR_PREFIX "Failed", "out of memory");
                return 0;
        }
        (void)engine_worker_finish(&r->worker, o);
        if (r->stage == STAGE_DECIDE)
                probe_done(r, o);
        else if (r->kind == REQUEST_INSPECT)
                inspect_reply(r, o->r == 0 ? "yes" : "no",
                              o->r == 0 ? r->decision.reason : o->err.message, o);
        else
                adopt_done(r, o);
        return 0;
}

/* ---- the caller going away ---- */

static int on_caller_gone(sd_bus_track *t, void *userdata) {
        struct request *r = userdata;

        r->caller_gone = true;
        switch (r->stage) {
        case STAGE_DECIDE:
                log_outcome(r, "abandoned", "the caller disconnected; nothing was touched");
                request_free(r);
                break;
        case STAGE_POLKIT:
                log_outcome(r, "abandoned",
                            "the caller disconnected before authorization ended; the process "
                            "was not touched");
                cancel_polkit(r);
                request_free(r);
                break;
        case STAGE_WORK:
                /* The worker undoes what it did if it has not reached its
                 * point of no return; its end frees the request. */
                engine_worker_cancel(&r->worker);
                break;
        }
        /* Handled: not to be called again for this (now empty) track. */
        return 1;
}

/* ---- method handlers ---- */

/* Who is calling, from the bus alone: the uid and groups dbus-daemon
 * recorded when the caller connected (SO_PEERCRED, SO_PEERGROUPS), never
 * anything read from /proc later. sd-bus fills groups in from /proc
 * ("augmented"), so we ask the bus driver ourselves. */
static int caller_identity(struct manager *m, sd_bus_message *call, struct request *r) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *sender = sd_bus_message_get_sender(call), *key;
        bool have_uid = false;
        int k;

        if (!sender)
                return -EBADMSG;
        k = sd_bus_call_method(m->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetConnectionCredentials", &error, &reply,
                               "s", sender);
        if (k < 0)
                return k;
        k = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (k >= 0 && (k = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                k = sd_bus_message_read(reply, "s", &key);
                if (k >= 0 && strcmp(key, "UnixUserID") == 0) {
                        uint32_t uid;
                        k = sd_bus_message_read(reply, "v", "u", &uid);
                        r->caller.uid = (uid_t)uid;
                        have_uid = k >= 0;
                } else if (k >= 0 && strcmp(key, "ProcessID") == 0) {
                        uint32_t pid;
                        k = sd_bus_message_read(reply, "v", "u", &pid);
                        r->caller_pid = (pid_t)pid;
                } else if (k >= 0 && strcmp(key, "UnixGroupIDs") == 0) {
                        const void *gids;
                        size_t size;
                        k = sd_bus_message_enter_container(reply, 'v', "au");
                        if (k >= 0)
                                k = sd_bus_message_read_array(reply, 'u', &gids, &size);
                        if (k >= 0)
                                k = sd_bus_message_exit_container(reply);
                        /* All of them or none (fail closed). */
                        if (k >= 0 && size / sizeof(uint32_t) <= PERMISSION_MAX_GROUPS) {
                                const uint32_t *g = gids;
                                r->caller.n_groups = size / sizeof(uint32_t);
                                for (size_t i = 0; i < r->caller.n_groups; i++)
                                        r->caller.groups[i] = (gid_t)g[i];
                                r->caller.groups_known = true;
                        }
                } else if (k >= 0)
                        k = sd_bus_message_skip(reply, "v");
                if (k >= 0)
                        k = sd_bus_message_exit_container(reply);
        }
        if (k < 0)
                return k;
        return have_uid ? 0 : -EPERM;
}

/* The thread group of a tid, from /proc/TID/status; -1 if unknown. */
static pid_t tgid_of(pid_t tid) {
        char path[64], buf[4096];
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
        if (proc_read(AT_FDCWD, path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nTgid:")))
                return -1;
        return (pid_t)atoi(p + 6);
}

/* A pidfd may name a thread (PIDFD_THREAD): we adopt processes only. */
static int refuse_thread_pidfd(int pidfd, sd_bus_error *error) {
        char path[64], buf[1024];
        const char *p;
        pid_t pid, tgid;

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        if (proc_read(AT_FDCWD, path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nPid:")))
                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                         "the file descriptor is not a pidfd; open one with "
                                         "pidfd_open(2)");
        pid = (pid_t)atoi(p + 5);
        if (pid <= 0)
                return 0; /* exited, or not in our pid namespace: identify says so */
        tgid = tgid_of(pid);
        if (tgid > 0 && tgid != pid)
                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                         "%d is a thread of process %d, not a process; pass the "
                                         "process (pidfd_open(%d, 0))",
                                         (int)pid, (int)tgid, (int)tgid);
        return 0;
}

/* Everything before any other process is looked at: limits, options, who
 * calls, which process. Takes ownership of pidfd. Returns 1 when the
 * request lives on (a reply comes later), or an error for the caller. */
static int request_start(sd_bus_message *call, struct manager *m, enum request_kind kind, int pidfd,
                         bool with_options, sd_bus_error *error) {
        _cleanup_(request_freep) struct request *r = NULL;
        struct engine_error err;
        int k;

        r = request_new(m, call, kind, pidfd);
        if (!r) {
                close(pidfd);
                return -ENOMEM;
        }
        if (m->stopping)
                return sd_bus_error_setf(error, ERROR_PREFIX "Busy",
                                         "reptyrd is shutting down; try again in a moment");
        /* Fail closed: a caller we cannot identify gets nothing. */
        k = caller_identity(m, call, r);
        if (k < 0) {
                log_outcome(r, "refused", "caller could not be identified");
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "reptyrd cannot tell who is calling (%s); refusing",
                                         strerror(-k));
        }
        if (requests_of(m, r->caller.uid) > REQUESTS_PER_USER_MAX || m->n_requests > REQUESTS_MAX) {
                log_outcome(r, "refused", "too many requests in flight");
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "you have %u requests to reptyrd in flight already (at "
                                         "most %d per user); wait for them to finish",
                                         requests_of(m, r->caller.uid) - 1, REQUESTS_PER_USER_MAX);
        }
        /* polkit may prompt only if the caller said it can wait for that. */
        r->interactive = kind == REQUEST_ADOPT &&
                         sd_bus_message_get_allow_interactive_authorization(call) > 0;
        if (with_options) {
                k = options_parse(call, &r->opts, &r->mode, error);
                if (sd_bus_error_is_set(error))
                        return k < 0 ? k : -EINVAL;
                if (k < 0)
                        return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                                 "malformed options: %s", strerror(-k));
        }
        k = refuse_thread_pidfd(r->pidfd, error);
        if (k < 0)
                return k;
        if (engine_identify(r->pidfd, &r->target, &err) < 0) {
                log_outcome(r, "refused", err.message);
                return sd_bus_error_setf(error, options_error_bus_name(err.kind), "%s",
                                         err.message);
        }
        r->ptrace_scope = permission_read_ptrace_scope(m->ptrace_scope_path);
        if (r->ptrace_scope < PTRACE_SCOPE_ABSENT) {
                log_outcome(r, "refused", "cannot read Yama's ptrace_scope");
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "reptyrd cannot read %s; refusing", m->ptrace_scope_path);
        }
        permission_decide(&r->caller, r->ptrace_scope, &r->target, &r->decision);

        k = sd_bus_track_new(m->bus, &r->track, on_caller_gone, r);
        if (k >= 0)
                k = sd_bus_track_add_sender(r->track, call);
        if (k < 0)
                return k;

        if (r->opts.mode == ENGINE_MODE_SESSION && r->decision.action != PERMISSION_REFUSE) {
                /* Who holds the terminal is read from other processes' fds:
                 * in a worker, like everything that may block. */
                r->stage = STAGE_DECIDE;
                k = request_start_worker(r, ENGINE_JOB_PROBE, PROBE_TIMEOUT_USEC);
                if (k < 0)
                        return sd_bus_error_setf(error, ERROR_PREFIX "Failed",
                                                 "cannot start a worker: %s", strerror(-k));
        } else
                request_ask(TAKE_PTR(r));
        TAKE_PTR(r);
        return 1;
}

static int read_pidfd(sd_bus_message *m, int *ret, sd_bus_error *error) {
        int fd, k;

        k = sd_bus_message_read(m, "h", &fd);
        if (k < 0)
                return k;
        /* Ours from here on, independent of the message's lifetime. */
        *ret = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (*ret < 0)
                return sd_bus_error_set_errnof(error, errno, "cannot duplicate the pidfd: %m");
        return 0;
}

static int method_adopt(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int pidfd, k = read_pidfd(m, &pidfd, error);

        if (k < 0 || sd_bus_error_is_set(error))
                return k;
        return request_start(m, userdata, REQUEST_ADOPT, pidfd, true, error);
}

static int method_adopt_pid(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct engine_error err;
        uint32_t pid;
        pid_t tgid;
        int pidfd, k;

        k = sd_bus_message_read(m, "u", &pid);
        if (k < 0)
                return k;
        if (pid == 0 || pid > INT32_MAX)
                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                         "%u is not a process id", pid);
        tgid = tgid_of((pid_t)pid);
        if (tgid > 0 && tgid != (pid_t)pid)
                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                         "%u is a thread of process %d, not a process; pass the "
                                         "process (%d)",
                                         pid, (int)tgid, (int)tgid);
        /* Pinned now: whatever this pid names from here on is what the
         * caller meant (or gone). */
        if (engine_pidfd_open((pid_t)pid, &pidfd, &err) < 0) {
                log_line("adopt: pid %u: refused: %s", pid, err.message);
                return sd_bus_error_setf(error, options_error_bus_name(err.kind), "%s",
                                         err.message);
        }
        return request_start(m, userdata, REQUEST_ADOPT, pidfd, true, error);
}

static int method_inspect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int pidfd, k = read_pidfd(m, &pidfd, error);

        if (k < 0 || sd_bus_error_is_set(error))
                return k;
        return request_start(m, userdata, REQUEST_INSPECT, pidfd, false, error);
}

/* ---- properties ---- */

static int property_version(sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", REPTYR_VERSION);
}

static int property_architectures(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        int k = sd_bus_message_open_container(reply, 'a', "s");

        for (size_t i = 0; k >= 0 && arch_personalities[i]; i++)
                k = sd_bus_message_append(reply, "s", arch_personalities[i]->name);
        return k < 0 ? k : sd_bus_message_close_container(reply);
}

static int property_ptrace_scope(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        struct manager *m = userdata;
        int scope = permission_read_ptrace_scope(m->ptrace_scope_path);

        if (scope < PTRACE_SCOPE_ABSENT)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "cannot read %s",
                                         m->ptrace_scope_path);
        return sd_bus_message_append(reply, "i", (int32_t)scope);
}

/* ---- vtable ---- */

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Architectures", "as", property_architectures, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PtraceScope", "i", property_ptrace_scope, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Adopt", SD_BUS_ARGS("h", pidfd, "a{sv}", options),
                                SD_BUS_RESULT("h", master, "a{sv}", result), method_adopt,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AdoptPID", SD_BUS_ARGS("u", pid, "a{sv}", options),
                                SD_BUS_RESULT("h", master, "a{sv}", result), method_adopt_pid,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Inspect", SD_BUS_ARGS("h", pidfd), SD_BUS_RESULT("a{sv}", info),
                                method_inspect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- idle exit and stopping ---- */

static void idle_rearm(struct manager *m) {
        if (!m->idle || m->releasing || m->stopping)
                return;
        (void)sd_event_source_set_time_relative(m->idle, m->idle_usec);
        (void)sd_event_source_set_enabled(m->idle, SD_EVENT_ONESHOT);
}

/* Called whenever a request ends. */
static void manager_check_exit(struct manager *m) {
        if (m->stopping && m->n_requests == 0)
                (void)sd_event_exit(m->event, 0);
        else if (m->releasing && m->n_requests == 0 && m->n_guards == 0)
                (void)sd_event_exit(m->event, 0);
        else if (m->n_requests == 0 && m->n_guards == 0)
                idle_rearm(m);
}

/* Exit after idle_usec with nothing in flight. The name is released first
 * (new callers then activate a fresh helper), what is already queued is
 * still answered, and we never leave while a request is in flight. */
static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        if (m->n_requests > 0 || m->n_guards > 0)
                return 0; /* re-armed when the last one ends */
        m->releasing = true;
        (void)sd_bus_release_name(m->bus, BUS_NAME);
        /* Calls routed to us before the release are answered. */
        while (sd_bus_process(m->bus, NULL) > 0)
                ;
        manager_check_exit(m);
        return 0;
}

/* SIGTERM (systemctl stop/restart): take nothing new; what is waiting for
 * polkit or probing is answered now; adoptions under way are cancelled,
 * which undoes those not past their point of no return and lets the others
 * finish; then exit. */
static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        struct request *r, *next;

        if (m->stopping)
                return 0;
        if (m->releasing) {
                /* We gave the name up ourselves (idle), and systemd answers
                 * that with SIGTERM (a Type=dbus service without its name is
                 * done). Calls that reached us just before are answered all
                 * the same; we exit when they are. */
                log_line("stopping after the idle exit: %u request(s) still answered",
                         m->n_requests);
                manager_check_exit(m);
                return 0;
        }
        m->stopping = true;
        log_line("stopping: %u request(s) in flight", m->n_requests);
        (void)sd_bus_release_name(m->bus, BUS_NAME);
        for (r = m->requests; r; r = next) {
                next = r->next;
                if (r->stage == STAGE_WORK) {
                        engine_worker_cancel(&r->worker);
                        continue;
                }
                cancel_polkit(r);
                request_stop_worker(r);
                request_fail(r, ERROR_PREFIX "Busy",
                             "reptyrd is shutting down; process %d was not touched; try again "
                             "in a moment",
                             (int)r->target.pid);
        }
        /* Safe, not ideal: such a job keeps ignoring SIGHUP (as the classic
         * tool leaves every adopted process). */
        while (m->guards) {
                log_line("hangup guard: %d (%s): reptyrd is stopping; it keeps ignoring SIGHUP",
                         (int)m->guards->pid, m->guards->comm);
                guard_free(m->guards);
        }
        manager_check_exit(m);
        return 0;
}

/* ---- run ---- */

static void help(void) {
        printf("reptyrd [OPTIONS]\n\n"
               "The D-Bus activated helper of reptyrctl: adopts processes onto new terminals\n"
               "for callers that polkit authorizes. Started by the system bus, not by hand.\n\n"
               "  --idle-timeout=SEC         exit after SEC seconds without requests (%d)\n"
               "  --ptrace-scope-file=PATH   read Yama's ptrace_scope here (tests)\n"
               "  --test-kill-worker-at=N    the adopting worker dies at engine step N (tests)\n"
               "  -h --help                  this text\n"
               "     --version               the version\n",
               DEFAULT_IDLE_SEC);
}

static int parse_argv(int argc, char **argv, struct manager *m) {
        static const struct option options[] = {
                {"idle-timeout", required_argument, NULL, 'i'},
                {"ptrace-scope-file", required_argument, NULL, 'p'},
                {"test-kill-worker-at", required_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                char *end;
                unsigned long v;

                switch (c) {
                case 'i':
                case 'k':
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || *end || !*optarg || v == 0 || v > 86400) {
                                fprintf(stderr, "reptyrd: --%s needs 1..86400\n",
                                        c == 'i' ? "idle-timeout" : "test-kill-worker-at");
                                return -EINVAL;
                        }
                        if (c == 'i')
                                m->idle_usec = (uint64_t)v * USEC_PER_SEC;
                        else
                                m->fault_kill_tracer_step = (unsigned)v;
                        break;
                case 'p':
                        m->ptrace_scope_path = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("reptyrd " REPTYR_VERSION "\n");
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "reptyrd: unexpected argument %s\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static void manager_done(struct manager *m) {
        while (m->requests)
                request_free(m->requests);
        while (m->guards)
                guard_free(m->guards);
        sd_event_source_unref(m->idle);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
}

static int connect_bus(struct manager *m) {
        int k;

        k = sd_bus_open_system(&m->bus);
        if (k < 0) {
                log_line("reptyrd: cannot connect to the system bus: %s", strerror(-k));
                return k;
        }
        k = sd_bus_add_object_vtable(m->bus, NULL, BUS_PATH, BUS_IFACE, manager_vtable, m);
        if (k < 0) {
                log_line("reptyrd: cannot register %s: %s", BUS_PATH, strerror(-k));
                return k;
        }
        k = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (k < 0) {
                log_line("reptyrd: cannot attach the bus to the event loop: %s", strerror(-k));
                return k;
        }
        k = sd_bus_request_name(m->bus, BUS_NAME, 0);
        if (k < 0) {
                log_line("reptyrd: cannot own %s on the system bus: %s", BUS_NAME, strerror(-k));
                return k;
        }
        return 0;
}

static int run(int argc, char **argv) {
        _cleanup_(manager_done) struct manager m = {
                .idle_usec = DEFAULT_IDLE_SEC * USEC_PER_SEC,
                .ptrace_scope_path = DEFAULT_PTRACE_SCOPE,
        };
        sigset_t mask;
        int k;

        k = parse_argv(argc, argv, &m);
        if (k <= 0)
                return k < 0 ? 2 : 0;
        /* A client closing its end must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        /* Workers are reaped by the kernel: one killed past its deadline
         * may take a moment to die, and we never wait for it. */
        (void)sigaction(SIGCHLD,
                        &(struct sigaction){.sa_handler = SIG_DFL, .sa_flags = SA_NOCLDWAIT}, NULL);
        /* Blocked here, so the workers inherit them blocked: systemd's
         * SIGTERM to the whole unit must not kill a worker halfway through
         * an adoption (we cancel it, and it undoes, instead). */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        k = sd_event_default(&m.event);
        if (k < 0) {
                log_line("reptyrd: cannot create an event loop: %s", strerror(-k));
                return 1;
        }
        k = sd_event_add_signal(m.event, NULL, SIGTERM, on_terminate, &m);
        if (k >= 0)
                k = sd_event_add_signal(m.event, NULL, SIGINT, on_terminate, &m);
        if (k < 0) {
                log_line("reptyrd: cannot watch SIGTERM: %s", strerror(-k));
                return 1;
        }
        /* WATCHDOG_USEC from systemd: the loop pings it; a wedged helper
         * gets restarted. Without systemd this does nothing. */
        (void)sd_event_set_watchdog(m.event, true);
        k = sd_event_add_time_relative(m.event, &m.idle, CLOCK_MONOTONIC, m.idle_usec, 0, on_idle,
                                       &m);
        if (k < 0) {
                log_line("reptyrd: cannot arm the idle timer: %s", strerror(-k));
                return 1;
        }
        if (connect_bus(&m) < 0)
                return 1;
        k = sd_event_loop(m.event);
        if (k < 0) {
                log_line("reptyrd: event loop failed: %s", strerror(-k));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) { return run(argc, argv); }
