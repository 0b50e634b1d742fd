/* SPDX-License-Identifier: MIT */
/*
 * reptyrd's own header, shared by its files (not the engine's, not an
 * API):
 *
 *   reptyrd.c        run(), the bus connection, method handlers,
 *                    properties, vtable, idle exit and stopping;
 *   request.c        a request's stages: decide, polkit, work;
 *   reply.c          a request's end: its reply, its log line, its freeing;
 *   hangup-guard.c   the SIGHUP guards of adopted shell jobs;
 *   manager.c        the log and the manager's "anything left?".
 *
 * Calls only go down that list: reptyrd.c -> request.c -> reply.c,
 * hangup-guard.c -> manager.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-names.h"
#include "engine-worker.h"
#include "engine.h"
#include "permission.h"

#define BUS_NAME REPTYR_BUS_NAME
#define BUS_PATH REPTYR_BUS_PATH
#define BUS_IFACE REPTYR_BUS_INTERFACE
#define ERROR_PREFIX REPTYR_BUS_ERROR_PREFIX
#define DEFAULT_PTRACE_SCOPE "/proc/sys/kernel/yama/ptrace_scope"
#define DEFAULT_IDLE_SEC 30

#define REQUESTS_MAX 112
#define REQUESTS_PER_USER_MAX 32
/* Hangup guards outlive their request (as long as the old shell runs), so
 * the request limits do not bound them: a user with a long-lived shell
 * could otherwise adopt jobs one after the other until the guards' pidfds
 * (two or three each) take every fd reptyrd may open, and nobody else is
 * served. Beyond these, an adopted job just keeps ignoring SIGHUP, as on
 * any other failure to guard it. At most 3 * GUARDS_MAX fds, which with
 * the requests' (each holds its call and the fds attached to it) stays
 * well below the unit's LimitNOFILE. */
#define GUARDS_MAX 192
#define GUARDS_PER_USER_MAX 64
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
        STAGE_IDENTIFY, /* the bus is asked who calls */
        STAGE_DECIDE,   /* a probe worker looks for the terminal's holders */
        STAGE_POLKIT,
        STAGE_WORK, /* the adopting (or inspecting) worker runs */
};

struct request {
        struct manager *manager;
        struct request *prev, *next;
        enum request_kind kind;
        enum request_stage stage;
        sd_bus_message *call;
        /* NameOwnerChanged of the caller (is it still connected?), and
         * the bus's answer to who it is. */
        sd_bus_slot *gone_slot, *identity_slot;
        bool caller_gone;
        bool timed_out; /* its worker was killed past the deadline */

        sd_bus_slot *polkit_slot;
        char polkit_cancel_id[48];
        /* Which request this is (m->n_started when it began): names its
         * polkit check, which is asked later, after other requests began. */
        unsigned long long serial;

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
        uid_t caller_uid; /* who adopted it: counts against their limit */
        int pidfd;        /* the adopted target */
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

/* manager.c */
__attribute__((format(printf, 1, 2))) void log_line(const char *fmt, ...);
void manager_check_exit(struct manager *m);

/* request.c: a new request (the decide stage first), and stopping one. */
int request_start(sd_bus_message *call, struct manager *m, enum request_kind kind, int pidfd,
                  bool with_options, sd_bus_error *error);
void request_cancel(struct request *req);
pid_t tgid_of(pid_t tid);

/* reply.c */
void request_stop_worker(struct request *req);
/* Kill a worker; one that is not dead yet is reaped from the loop later. */
void abandon_worker(struct manager *m, struct engine_worker *w);
void request_free(struct request *req);
void log_outcome(struct request *req, const char *outcome, const char *detail);
__attribute__((format(printf, 3, 4))) void request_fail(struct request *req, const char *name,
                                                        const char *fmt, ...);
void request_fail_engine(struct request *req, const struct engine_error *e);
int adopt_reply(struct request *req, const struct engine_result *res, int master);
void inspect_reply(struct request *req, const char *authorized, const char *reason,
                   const struct engine_outcome *o);

/* hangup-guard.c */
void guard_start(struct request *req, const struct engine_result *res);
void guard_free(struct hangup_guard *h);

/* loop-guard.c: the event loop, with a watcher that keeps interrupting a
 * step that takes over 5 ms (a caller's lingering socket being closed). */
int loop_guard_start(void);
int loop_guard_run(sd_event *e);
