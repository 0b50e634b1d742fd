/* SPDX-License-Identifier: MIT */
/*
 * A request's way through reptyrd (the stages are described in reptyrd.c):
 * its bookkeeping, its workers, decide, polkit, work, the caller going
 * away, and at the end request_start(), where every request begins.
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

#include "bus-names.h"
#include "engine-worker.h"
#include "engine.h"
#include "options.h"
#include "permission.h"
#include "proc.h"
#include "reptyrd.h"
#include "util.h"

/* ---- requests ---- */

static unsigned requests_of(const struct manager *m, uid_t uid) {
        unsigned n = 0;

        /* Not those still waiting to hear who calls: their uid is not
         * known yet (0 until then, which would count against root). */
        for (const struct request *req = m->requests; req; req = req->next)
                n += req->stage != STAGE_IDENTIFY && req->caller.uid == uid;
        return n;
}

static void request_freep(struct request **req) { request_free(*req); }

static struct request *request_new(struct manager *m, sd_bus_message *call, enum request_kind kind,
                                   int pidfd) {
        struct request *req = calloc(1, sizeof(*req));

        if (!req)
                return NULL;
        req->manager = m;
        req->kind = kind;
        req->call = sd_bus_message_ref(call);
        req->pidfd = pidfd;
        req->worker = (struct engine_worker){.pid = -1, .pidfd = -1, .sock = -1};
        req->mode = "process";
        req->ptrace_scope = PTRACE_SCOPE_ABSENT;
        req->next = m->requests;
        if (req->next)
                req->next->prev = req;
        m->requests = req;
        m->n_requests++;
        req->serial = ++m->n_started;
        return req;
}

/* ---- workers ---- */

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int on_worker_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        struct request *req = userdata;

        /* The engine gives up on a target that does not stop long before
         * this; a worker still running now is wedged. Killing it releases
         * whatever it held (the kernel detaches its tracees as it exits):
         * the answer waits for that exit (on_worker_exit), so that nothing
         * is still traced by us once the caller hears back. */
        log_outcome(req, "worker timed out", "killed");
        req->deadline = sd_event_source_disable_unref(req->deadline);
        req->timed_out = true;
        (void)syscall(SYS_pidfd_send_signal, req->worker.pidfd, SIGKILL, NULL, 0);
        return 0;
}

static int request_start_worker(struct request *req, enum engine_job job, uint64_t timeout_usec) {
        int r;

        r = engine_worker_start(job, req->pidfd, &req->opts, NULL, &req->worker);
        if (r < 0)
                return r;
        r = sd_event_add_io(req->manager->event, &req->worker_source, req->worker.pidfd, EPOLLIN,
                            on_worker_exit, req);
        if (r >= 0)
                r = sd_event_add_time_relative(req->manager->event, &req->deadline, CLOCK_MONOTONIC,
                                               timeout_usec, 0, on_worker_deadline, req);
        if (r < 0)
                request_stop_worker(req);
        return r;
}

/* ---- stage: decide ---- */

static int ask_polkit(struct request *req);

/* Session mode also touches the processes holding the terminal's master
 * (a terminal emulator, sshd, tmux): each of them must be within what the
 * caller may adopt, or the whole takeover needs adopt-any. Fail closed: a
 * holder that cannot be examined needs the most. */
static void decide_session(struct request *req) {
        for (size_t i = 0; i < req->session.n_holders; i++) {
                struct permission_decision d;
                struct engine_target t;
                struct engine_error err;
                _cleanup_close_ int pidfd =
                        (int)syscall(SYS_pidfd_open, req->session.holders[i].pid, 0);

                bool known = pidfd >= 0 && engine_identify(pidfd, &t, &err) == 0;

                if (!known)
                        d = (struct permission_decision){
                                .action = PERMISSION_ADOPT_ANY,
                                .reason = "a process holding the terminal could not be examined",
                        };
                else
                        permission_decide(&req->caller, req->ptrace_scope, &t, &d);
                /* What polkit is told covers every process the takeover
                 * touches: a rule granting adopt-any for "same_user" must
                 * not reach another user's terminal holder. */
                if (!d.same_user)
                        req->decision.same_user = false;
                if (!d.kernel_allows)
                        req->decision.kernel_allows = false;
                if (d.action != PERMISSION_ADOPT_ANY || req->decision.action != PERMISSION_ADOPT)
                        continue;
                req->decision = d;
                /* Name the holder only where the caller could see it hold
                 * the terminal itself: in its own process. */
                if (known && t.uid[0] == req->caller.uid && t.uid[1] == req->caller.uid)
                        snprintf(req->reason, sizeof(req->reason),
                                 "the terminal is held by %d (%s), which you may not adopt "
                                 "yourself: %s",
                                 (int)t.pid, t.comm, d.reason);
                else
                        snprintf(req->reason, sizeof(req->reason),
                                 "the terminal is held by another user's process (a terminal "
                                 "emulator, sshd or tmux of theirs), which you may not adopt "
                                 "yourself");
                req->decision.reason = req->reason;
        }
}

static void request_ask(struct request *req) {
        int r;

        if (req->decision.action == PERMISSION_REFUSE) {
                if (req->kind == REQUEST_INSPECT)
                        inspect_reply(req, "no", req->decision.reason, NULL);
                else
                        request_fail(req, SD_BUS_ERROR_ACCESS_DENIED,
                                     "adopting process %d (%s) is refused: %s",
                                     (int)req->target.pid, req->target.comm, req->decision.reason);
                return;
        }
        req->stage = STAGE_POLKIT;
        r = ask_polkit(req);
        if (r < 0)
                request_fail(req, SD_BUS_ERROR_ACCESS_DENIED,
                             "cannot check authorization with polkit (%s); is polkitd running?",
                             strerror(-r));
}

/* ---- stage: polkit ---- */

static void request_work(struct request *req);

static int polkit_done(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct request *req = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0, r;

        req->polkit_slot = sd_bus_slot_unref(req->polkit_slot);
        /* Fail closed: no answer, or one we cannot read, is a no. */
        if (e) {
                if (req->kind == REQUEST_INSPECT) {
                        inspect_reply(req, "no", e->message, NULL);
                        return 0;
                }
                request_fail(req, SD_BUS_ERROR_ACCESS_DENIED,
                             "cannot check authorization with polkit (%s: %s); is polkitd "
                             "running?",
                             e->name, e->message);
                return 0;
        }
        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                request_fail(req, SD_BUS_ERROR_ACCESS_DENIED,
                             "polkit gave an answer reptyrd cannot read");
                return 0;
        }
        if (req->kind == REQUEST_INSPECT) {
                if (authorized)
                        request_work(req);
                else
                        inspect_reply(req, challenge ? "challenge" : "no", req->decision.reason,
                                      NULL);
                return 0;
        }
        if (authorized) {
                request_work(req);
                return 0;
        }
        if (challenge) {
                request_fail(req, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                             "adopting process %d (%s) needs authentication (%s) and %s; run "
                             "reptyrctl on a terminal with a polkit agent (pkttyagent) so that "
                             "it can ask for a password, or ask an administrator for a polkit "
                             "rule",
                             (int)req->target.pid, req->target.comm, req->decision.reason,
                             req->interactive ? "no polkit agent answered"
                                              : "the call did not allow a password prompt");
                return 0;
        }
        request_fail(req, SD_BUS_ERROR_ACCESS_DENIED,
                     "not authorized to adopt process %d (%s): %s; an administrator can allow it "
                     "with a polkit rule for %s",
                     (int)req->target.pid, req->target.comm, req->decision.reason,
                     permission_action_id(req->decision.action));
        return 0;
}

static int ask_polkit(struct request *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *q = NULL;
        char pid[16], uid[16], caller[16], scope[16];
        const char *sender = sd_bus_message_get_sender(req->call);
        int r;

        if (!sender)
                return -EBADMSG;
        snprintf(pid, sizeof(pid), "%d", (int)req->target.pid);
        snprintf(uid, sizeof(uid), "%u", (unsigned)req->target.uid[0]);
        snprintf(caller, sizeof(caller), "%u", (unsigned)req->caller.uid);
        if (req->ptrace_scope == PTRACE_SCOPE_ABSENT)
                snprintf(scope, sizeof(scope), "absent");
        else
                snprintf(scope, sizeof(scope), "%d", req->ptrace_scope);
        snprintf(req->polkit_cancel_id, sizeof(req->polkit_cancel_id), "reptyrd-%d-%llu",
                 (int)getpid(), req->serial);

        r = sd_bus_message_new_method_call(req->manager->bus, &q, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CheckAuthorization");
        if (r < 0)
                return r;
        /* The subject is the caller's bus name: polkit looks the process
         * and user up itself, race-free. */
        r = sd_bus_message_append(q, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender,
                                  permission_action_id(req->decision.action));
        if (r < 0)
                return r;
        r = sd_bus_message_append(q, "a{ss}", 9, "pid", pid, "uid", uid, "comm", req->target.comm,
                                  "exe", req->target.exe, "ptrace_scope", scope, "mode", req->mode,
                                  "same_user", req->decision.same_user ? "true" : "false",
                                  "kernel_allows", req->decision.kernel_allows ? "true" : "false",
                                  "caller_uid", caller);
        if (r < 0)
                return r;
        /* 1 = AllowUserInteraction: only if the caller said it may wait
         * for a password prompt. The cancellation id lets us withdraw the
         * question when the caller goes away. */
        r = sd_bus_message_append(q, "us", (uint32_t)(req->interactive ? 1 : 0),
                                  req->polkit_cancel_id);
        if (r < 0)
                return r;
        return sd_bus_call_async(req->manager->bus, &req->polkit_slot, q, polkit_done, req,
                                 req->interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC
                                                  : POLKIT_TIMEOUT_USEC);
}

/* Withdraw a question polkit may still be asking a person. No reply is
 * expected, so it holds no slot of ours on the bus. */
static void cancel_polkit(struct request *req) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *q = NULL;

        if (!req->polkit_slot)
                return;
        req->polkit_slot = sd_bus_slot_unref(req->polkit_slot);
        if (sd_bus_message_new_method_call(req->manager->bus, &q, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CancelCheckAuthorization") < 0 ||
            sd_bus_message_append(q, "s", req->polkit_cancel_id) < 0 ||
            sd_bus_message_set_expect_reply(q, false) < 0)
                return;
        (void)sd_bus_send(req->manager->bus, q, NULL);
}

/* ---- stage: work ---- */

/* The engine's second look, in the worker, with the target seized but not
 * yet stopped: whatever it is now must not need more than the action
 * polkit granted. */
/* In the worker (a forked copy of us): a bus connection of its own, made
 * while the target is seized but not yet stopped, so that the last look
 * before the point of no return costs one round trip, not a connect. */
static sd_bus *worker_bus;

static int verify_seized(const struct engine_target *t, void *userdata, struct engine_error *err) {
        struct request *req = userdata;
        struct permission_decision now;
        const char *what = NULL;

        if (!worker_bus && sd_bus_open_system(&worker_bus) < 0)
                worker_bus = NULL; /* caller_present() then fails closed */
        /* polkit was asked about req->target: the process adopted must be
         * that one, not what it exec'd since (a setuid program, under an
         * authorization given for "same_user"). */
        if (t->pid == req->target.pid)
                what = engine_target_changed(&req->target, t);
        if (what) {
                err->kind = ENGINE_ERR_PERMISSION;
                snprintf(err->message, sizeof(err->message),
                         "process %d (%s) changed while it was being adopted (%s changed); it "
                         "was left as it was; try again",
                         (int)t->pid, t->comm, what);
                return -EPERM;
        }
        permission_decide(&req->caller, req->ptrace_scope, t, &now);
        /* Nor may anything else touched (a session's terminal holders) have
         * lost a fact polkit's answer may rest on. */
        if (now.action == PERMISSION_REFUSE ||
            (now.action == PERMISSION_ADOPT_ANY && req->decision.action != PERMISSION_ADOPT_ANY) ||
            (req->decision.same_user && !now.same_user) ||
            (req->decision.kernel_allows && !now.kernel_allows)) {
                err->kind = ENGINE_ERR_PERMISSION;
                snprintf(err->message, sizeof(err->message),
                         "process %d (%s) changed while it was being adopted (%s); it was left "
                         "as it was; try again to be asked for the right authorization",
                         (int)t->pid, t->comm, now.reason);
                return -EPERM;
        }
        return 0;
}

/* In the worker, right before the point of no return: is the caller still
 * connected? Asked of the bus itself, which has seen its disconnect if it
 * happened: our own loop may not have read that news yet. Fail closed. */
static int caller_present(void *userdata, struct engine_error *err) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct request *req = userdata;
        const char *sender = sd_bus_message_get_sender(req->call);
        int has = 0;

        if (worker_bus && sender &&
            sd_bus_call_method(worker_bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s",
                               sender) >= 0 &&
            sd_bus_message_read(reply, "b", &has) >= 0 && has)
                return 0;
        err->kind = ENGINE_ERR_FAILED;
        snprintf(err->message, sizeof(err->message),
                 "the caller went away before process %d (%s) was moved; it was left as it was",
                 (int)req->target.pid, req->target.comm);
        return -ECANCELED;
}

static void request_work(struct request *req) {
        struct manager *m = req->manager;
        int r;

        /* Busy only when another request is really adopting the same
         * target now, never because someone asked about it before. */
        if (req->kind == REQUEST_ADOPT && !req->opts.dry_run)
                for (struct request *o = m->requests; o; o = o->next)
                        if (o != req && o->stage == STAGE_WORK && o->kind == REQUEST_ADOPT &&
                            !o->opts.dry_run && o->target.pid == req->target.pid) {
                                request_fail(req, ERROR_PREFIX "Busy",
                                             "process %d (%s) is being adopted by another "
                                             "request right now; wait for it to finish",
                                             (int)req->target.pid, req->target.comm);
                                return;
                        }
        req->stage = STAGE_WORK;
        req->opts.verify = verify_seized;
        req->opts.proceed = caller_present;
        req->opts.userdata = req;
        req->opts.stop_timeout_ms = STOP_TIMEOUT_MS;
        if (m->fault_kill_tracer_step > 0) {
                req->opts.fault.action = ENGINE_FAULT_KILL_TRACER;
                req->opts.fault.step = m->fault_kill_tracer_step;
        }
        r = request_start_worker(
                req, req->kind == REQUEST_INSPECT ? ENGINE_JOB_INSPECT : ENGINE_JOB_ADOPT,
                ADOPT_TIMEOUT_USEC);
        if (r < 0)
                request_fail(req, ERROR_PREFIX "Failed",
                             "cannot start a worker to adopt process %d (%s): %s; the process "
                             "was not touched",
                             (int)req->target.pid, req->target.comm, strerror(-r));
}

static void adopt_done(struct request *req, struct engine_outcome *o) {
        _cleanup_close_ int master = o->res.master_fd;
        int r;

        if (o->r < 0) {
                request_fail_engine(req, &o->err);
                return;
        }
        if (req->opts.dry_run) {
                /* The contract promises an fd: a placeholder that is not a
                 * terminal. */
                master = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (master < 0) {
                        request_fail(req, ERROR_PREFIX "Failed", "cannot open /dev/null: %m");
                        return;
                }
        }
        /* Adopted. A caller that went away after the point of no return
         * cannot take the terminal: closing the master hangs it up, as
         * closing a terminal window would. */
        if (req->caller_gone) {
                log_outcome(req, "adopted, but the caller went away",
                            "its new terminal was hung up");
                if (o->res.hangup.armed)
                        guard_start(req, &o->res);
                request_free(req);
                return;
        }
        r = adopt_reply(req, &o->res, master);
        if (o->res.hangup.armed && !req->opts.dry_run)
                guard_start(req, &o->res);
        log_outcome(req,
                    r < 0               ? "adopted, but the reply failed"
                    : req->opts.dry_run ? "allowed (dry run)"
                                        : "adopted",
                    r < 0           ? strerror(-r)
                    : o->res.tty[0] ? o->res.tty
                                    : NULL);
        request_free(req);
}

static void probe_done(struct request *req, struct engine_outcome *o) {
        if (o->r < 0) {
                request_fail_engine(req, &o->err);
                return;
        }
        req->session = o->session;
        decide_session(req);
        request_ask(req);
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_free_ struct engine_outcome *o = malloc(sizeof(*o));
        struct request *req = userdata;

        req->worker_source = sd_event_source_disable_unref(req->worker_source);
        req->deadline = sd_event_source_disable_unref(req->deadline);
        if (!o) {
                request_stop_worker(req);
                request_fail(req, ERROR_PREFIX "Failed", "out of memory");
                return 0;
        }
        (void)engine_worker_finish(&req->worker, o);
        if (req->timed_out) {
                if (o->r == 0 && o->res.master_fd >= 0)
                        close(o->res.master_fd);
                request_fail(req, ERROR_PREFIX "Failed",
                             "adopting process %d (%s) did not finish in time and was stopped; "
                             "check the process with reptyrctl inspect",
                             (int)req->target.pid, req->target.comm);
                return 0;
        }
        if (req->stage == STAGE_DECIDE)
                probe_done(req, o);
        else if (req->kind == REQUEST_INSPECT)
                inspect_reply(req, o->r == 0 ? "yes" : "no",
                              o->r == 0 ? req->decision.reason : o->err.message, o);
        else
                adopt_done(req, o);
        return 0;
}

/* ---- the caller going away ---- */

static void caller_gone(struct request *req) {
        req->caller_gone = true;
        switch (req->stage) {
        case STAGE_IDENTIFY:
        case STAGE_DECIDE:
                log_outcome(req, "abandoned", "the caller disconnected; nothing was touched");
                request_free(req);
                break;
        case STAGE_POLKIT:
                log_outcome(req, "abandoned",
                            "the caller disconnected before authorization ended; the process "
                            "was not touched");
                cancel_polkit(req);
                request_free(req);
                break;
        case STAGE_WORK:
                /* The worker undoes what it did if it has not reached its
                 * point of no return; its end frees the request. */
                engine_worker_cancel(&req->worker);
                break;
        }
}

/* NameOwnerChanged for the caller's unique name: it disconnected.
 *
 * Only the bus driver can say so. The match names it as the sender, but
 * sd-bus applies that to broadcasts only: a signal sent to us directly
 * (any user may send one, with the driver's path, interface and member)
 * reaches this callback from whoever sent it, and would drop another
 * user's request. The bus sets the sender field itself, so checking it
 * here is enough.
 *
 * Returns 0, never 1: a caller with several requests in flight has a
 * match for each, and 1 would stop sd-bus from running the others, which
 * then never heard that their caller had left. */
static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct request *req = userdata;
        const char *from = sd_bus_message_get_sender(m);
        const char *name, *old_owner, *new_owner;

        if (req->caller_gone || !from || strcmp(from, "org.freedesktop.DBus") != 0 ||
            sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || new_owner[0])
                return 0;
        caller_gone(req);
        return 0;
}

/* The bus's answer to our AddMatch. Without the match we would not hear
 * of the caller leaving: fail closed, as if it had (but it gets an
 * answer). */
static int on_watch_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct request *req = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (!e || req->caller_gone)
                return 0;
        log_outcome(req, "cannot watch the caller", e->message);
        if (req->stage == STAGE_WORK) {
                engine_worker_cancel(&req->worker);
                return 0;
        }
        request_cancel(req);
        request_fail(req, ERROR_PREFIX "Failed",
                     "reptyrd cannot watch your connection (%s); nothing was touched; try again",
                     e->name);
        return 0;
}

/* ---- a new request: who calls, which process, then the decide stage ---- */

/* Who is calling, from the bus alone: the uid and groups dbus-daemon
 * recorded when the caller connected (SO_PEERCRED, SO_PEERGROUPS), never
 * anything read from /proc later. sd-bus fills groups in from /proc
 * ("augmented"), so we ask the bus driver ourselves: this parses its
 * answer to GetConnectionCredentials. */
static int caller_identity(sd_bus_message *reply, struct request *req) {
        const char *key;
        bool have_uid = false;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL))
                return -sd_bus_message_get_errno(reply) ?: -EPERM;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && strcmp(key, "UnixUserID") == 0) {
                        uint32_t uid;
                        r = sd_bus_message_read(reply, "v", "u", &uid);
                        req->caller.uid = (uid_t)uid;
                        have_uid = r >= 0;
                } else if (r >= 0 && strcmp(key, "ProcessID") == 0) {
                        uint32_t pid;
                        r = sd_bus_message_read(reply, "v", "u", &pid);
                        req->caller_pid = (pid_t)pid;
                } else if (r >= 0 && strcmp(key, "UnixGroupIDs") == 0) {
                        const void *gids;
                        size_t size;
                        r = sd_bus_message_enter_container(reply, 'v', "au");
                        if (r >= 0)
                                r = sd_bus_message_read_array(reply, 'u', &gids, &size);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        /* All of them or none (fail closed). */
                        if (r >= 0 && size / sizeof(uint32_t) <= PERMISSION_MAX_GROUPS) {
                                const uint32_t *g = gids;
                                req->caller.n_groups = size / sizeof(uint32_t);
                                for (size_t i = 0; i < req->caller.n_groups; i++)
                                        req->caller.groups[i] = (gid_t)g[i];
                                req->caller.groups_known = true;
                        }
                } else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        return have_uid ? 0 : -EPERM;
}

/* The thread group of a tid, from /proc/TID/status; -1 if unknown. */
pid_t tgid_of(pid_t tid) {
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

/* The bus driver's answer: who is calling. Then the per-user limit, which
 * process, which action, and the decide stage. */
static int on_identity(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct request *req = userdata;
        struct manager *m = req->manager;
        struct engine_error err;
        int r;

        req->identity_slot = sd_bus_slot_unref(req->identity_slot);
        /* Gone before the bus could say who it was: nobody to answer. */
        if (sd_bus_message_is_method_error(reply, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                caller_gone(req);
                return 0;
        }
        /* Fail closed: a caller we cannot identify gets nothing. */
        r = caller_identity(reply, req);
        if (r < 0) {
                request_fail(req, SD_BUS_ERROR_ACCESS_DENIED,
                             "reptyrd cannot tell who is calling (%s); refusing", strerror(-r));
                return 0;
        }
        req->stage = STAGE_DECIDE; /* counts from here on */
        if (requests_of(m, req->caller.uid) > REQUESTS_PER_USER_MAX) {
                request_fail(req, SD_BUS_ERROR_LIMITS_EXCEEDED,
                             "you have %u requests to reptyrd in flight already (at most %d per "
                             "user); wait for them to finish",
                             requests_of(m, req->caller.uid) - 1, REQUESTS_PER_USER_MAX);
                return 0;
        }
        if (engine_identify(req->pidfd, &req->target, &err) < 0) {
                request_fail_engine(req, &err);
                return 0;
        }
        req->ptrace_scope = permission_read_ptrace_scope(m->ptrace_scope_path);
        if (req->ptrace_scope < PTRACE_SCOPE_ABSENT) {
                request_fail(req, SD_BUS_ERROR_ACCESS_DENIED, "reptyrd cannot read %s; refusing",
                             m->ptrace_scope_path);
                return 0;
        }
        permission_decide(&req->caller, req->ptrace_scope, &req->target, &req->decision);

        if (req->opts.mode == ENGINE_MODE_SESSION && req->decision.action != PERMISSION_REFUSE) {
                /* Who holds the terminal is read from other processes' fds:
                 * in a worker, like everything that may block. */
                r = request_start_worker(req, ENGINE_JOB_PROBE, PROBE_TIMEOUT_USEC);
                if (r < 0)
                        request_fail(req, ERROR_PREFIX "Failed", "cannot start a worker: %s",
                                     strerror(-r));
        } else
                request_ask(req);
        return 0;
}

/* Everything that needs nothing but the message: limits, options, the
 * pidfd. Takes ownership of pidfd. Returns 1 when the request lives on (a
 * reply comes later), or an error for the caller.
 *
 * Nothing here waits for the bus: a synchronous call (who is calling?)
 * would leave every other incoming call, with the fds it carries (up to
 * 16 each), piling up in sd-bus's read queue until the answer came; and
 * the bus drops its answers to us while its queue towards us is full
 * (64 fds: four such calls), so the wait lasted the whole call timeout and
 * the pile grew until recvmsg() hit RLIMIT_NOFILE, which made sd-bus drop
 * the connection and, with it, every other user's request in flight. */
int request_start(sd_bus_message *call, struct manager *m, enum request_kind kind, int pidfd,
                  bool with_options, sd_bus_error *error) {
        _cleanup_(request_freep) struct request *req = NULL;
        const char *sender = sd_bus_message_get_sender(call);
        char match[512];
        int r;

        req = request_new(m, call, kind, pidfd);
        if (!req) {
                close(pidfd);
                return -ENOMEM;
        }
        if (m->stopping)
                return sd_bus_error_setf(error, ERROR_PREFIX "Busy",
                                         "reptyrd is shutting down; try again in a moment");
        /* All users together, checked before we know who calls: this also
         * bounds the calls (and their fds) waiting for the bus to say. */
        if (m->n_requests > REQUESTS_MAX) {
                log_outcome(req, "refused", "too many requests in flight");
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "reptyrd has %d requests in flight already; try again "
                                         "in a moment",
                                         REQUESTS_MAX);
        }
        /* polkit may prompt only if the caller said it can wait for that. */
        req->interactive = kind == REQUEST_ADOPT &&
                           sd_bus_message_get_allow_interactive_authorization(call) > 0;
        if (with_options) {
                r = options_parse(call, &req->opts, &req->mode, error);
                if (sd_bus_error_is_set(error))
                        return r < 0 ? r : -EINVAL;
                if (r < 0)
                        return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                                 "malformed options: %s", strerror(-r));
        }
        r = refuse_thread_pidfd(req->pidfd, error);
        if (r < 0)
                return r;
        if (!sender || strlen(sender) > 255)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "reptyrd cannot tell who is calling; refusing");
        /* Watch the caller first: the bus handles our calls in order, so
         * once it has told us who the caller is, any later disconnect
         * reaches us as NameOwnerChanged. */
        snprintf(match, sizeof(match),
                 "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                 "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                 sender);
        r = sd_bus_add_match_async(m->bus, &req->gone_slot, match, on_name_owner_changed,
                                   on_watch_installed, req);
        if (r >= 0)
                r = sd_bus_call_method_async(m->bus, &req->identity_slot, "org.freedesktop.DBus",
                                             "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                             "GetConnectionCredentials", on_identity, req, "s",
                                             sender);
        if (r < 0)
                return r;
        req->stage = STAGE_IDENTIFY;
        TAKE_PTR(req);
        return 1;
}

/* A request not adopting yet, stopped: polkit's question withdrawn, its
 * probe worker gone. The caller still gets a reply (request_fail()). */
void request_cancel(struct request *req) {
        req->identity_slot = sd_bus_slot_unref(req->identity_slot);
        cancel_polkit(req);
        request_stop_worker(req);
}
