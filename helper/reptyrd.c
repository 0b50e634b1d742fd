/* SPDX-License-Identifier: MIT */
/*
 * reptyrd: the D-Bus activated root helper behind `reptyrctl adopt`.
 *
 * Every method may be called by anyone; each call is authorized here, with
 * polkit, for the caller's bus name (never a pid, never anything the
 * message says about itself). The permission model (permission.c) picks the
 * polkit action from what the kernel would let the caller do without Yama;
 * polkit is asked asynchronously, so the event loop never blocks on it; the
 * engine then re-ptys the target and the master goes back over the bus.
 *
 * Layout, top-down: state, requests, polkit, method handlers, properties,
 * vtable, bus setup, idle exit, run().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "arch.h"
#include "engine.h"
#include "options.h"
#include "permission.h"
#include "util.h"

#define BUS_NAME "org.reptyr.Reptyr1"
#define BUS_PATH "/org/reptyr/Reptyr1"
#define BUS_IFACE "org.reptyr.Reptyr1"
#define ERROR_PREFIX "org.reptyr.Reptyr1.Error."
#define DEFAULT_PTRACE_SCOPE "/proc/sys/kernel/yama/ptrace_scope"
#define DEFAULT_IDLE_SEC 30
#define MAX_REQUESTS 256

/* ---- state ---- */

struct request;

struct manager {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *idle;
        uint64_t idle_usec;
        const char *ptrace_scope_path;
        unsigned n_pending;
        bool releasing; /* idle: the name is given up, finish what is pending */
        struct request *requests[MAX_REQUESTS];
};

enum request_kind { REQUEST_ADOPT, REQUEST_INSPECT };

struct request {
        struct manager *manager;
        enum request_kind kind;
        sd_bus_message *call;
        sd_bus_slot *polkit_slot;
        sd_bus_track *track; /* is the caller still connected? */
        int pidfd;
        uid_t caller_uid;
        pid_t caller_pid; /* for the log only */
        bool interactive;
        int ptrace_scope;
        struct engine_options opts;
        const char *mode;
        struct engine_target target;
        struct permission_decision decision;
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

static void idle_rearm(struct manager *m);

static void request_free(struct request *r) {
        if (!r)
                return;
        for (size_t i = 0; i < MAX_REQUESTS; i++)
                if (r->manager->requests[i] == r)
                        r->manager->requests[i] = NULL;
        r->manager->n_pending--;
        idle_rearm(r->manager);
        sd_bus_slot_unref(r->polkit_slot);
        sd_bus_track_unref(r->track);
        sd_bus_message_unref(r->call);
        if (r->pidfd >= 0)
                close(r->pidfd);
        free(r);
}

static void request_freep(struct request **r) { request_free(*r); }

static void log_outcome(struct request *r, const char *outcome, const char *detail) {
        const char *action = permission_action_id(r->decision.action);

        log_line("%s: caller uid=%u pid=%d, target pid=%d uid=%u comm=%s, action=%s, mode=%s: "
                 "%s%s%s",
                 r->kind == REQUEST_ADOPT ? (r->opts.dry_run ? "adopt (dry run)" : "adopt")
                                          : "inspect",
                 (unsigned)r->caller_uid, (int)r->caller_pid, (int)r->target.pid,
                 (unsigned)r->target.uid[0], r->target.comm[0] ? r->target.comm : "?",
                 action ? action : "none", r->mode ? r->mode : "process", outcome,
                 detail ? ": " : "", detail ? detail : "");
}

/* Engine failures as bus errors: one name per kind, the engine's message
 * (which names the process, the reason and the next step) as the text. */
static int set_engine_error(sd_bus_error *error, const struct engine_error *e) {
        return sd_bus_error_setf(error, options_error_bus_name(e->kind), "%s", e->message);
}

static int reply_engine_error(struct request *r, const struct engine_error *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        log_outcome(r, "refused", e->message);
        set_engine_error(&error, e);
        return sd_bus_reply_method_error(r->call, &error);
}

/* ---- adoption, once authorized ---- */

/* The engine's second look, with the target frozen: whatever it is now
 * must not need more than the action polkit granted. */
static int verify_frozen(const struct engine_target *t, void *userdata, struct engine_error *err) {
        struct request *r = userdata;
        struct permission_decision now;

        permission_decide(r->caller_uid, r->ptrace_scope, t, &now);
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

/* Entries of the result / info dictionary (the caller opened the array). */
static int append_result(sd_bus_message *reply, struct request *r, const struct engine_result *res,
                         bool inspect) {
        int k;

        k = sd_bus_message_append(reply, "{sv}{sv}{sv}", "pid", "u", (uint32_t)r->target.pid,
                                  "mode", "s", r->mode, "personality", "s",
                                  res->personality ? res->personality : "");
        if (k < 0)
                return k;
        if (inspect)
                k = sd_bus_message_append(reply, "{sv}{sv}{sv}", "uid", "u",
                                          (uint32_t)r->target.uid[0], "comm", "s", r->target.comm,
                                          "tty", "s", res->old_tty);
        else
                k = sd_bus_message_append(reply, "{sv}{sv}{sv}", "tty", "s", res->tty, "old-tty",
                                          "s", res->old_tty, "was-stopped", "b",
                                          (int)res->was_stopped);
        if (k < 0)
                return k;
        k = sd_bus_message_open_container(reply, 'e', "sv");
        if (k >= 0)
                k = sd_bus_message_append(reply, "s", inspect ? "fds" : "replaced-fds");
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'v', "ai");
        if (k >= 0)
                k = sd_bus_message_append_array(reply, 'i', res->replaced_fds,
                                                res->n_replaced * sizeof(int));
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0 && res->n_holders > 0)
                k = append_pids(reply, "holders", res->holders, res->n_holders);
        if (k >= 0 && res->n_members > 0)
                k = append_pids(reply, "session-processes", res->members, res->n_members);
        return k;
}

static int adopt_now(struct request *r) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct engine_result res;
        struct engine_error err;
        _cleanup_close_ int master = -1;
        int k;

        /* A caller that went away while polkit thought is not there to
         * take the terminal: leave its target alone. */
        if (sd_bus_track_count(r->track) == 0) {
                log_outcome(r, "abandoned",
                            "the caller disconnected before authorization ended; the process "
                            "was not touched");
                return 0;
        }
        r->opts.verify = verify_frozen;
        r->opts.userdata = r;
        if (engine_adopt(r->pidfd, &r->opts, &res, &err) < 0)
                return reply_engine_error(r, &err);
        master = res.master_fd;
        if (r->opts.dry_run) {
                /* The contract promises an fd: a placeholder that is not a
                 * terminal. */
                master = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (master < 0)
                        return sd_bus_reply_method_errorf(r->call, ERROR_PREFIX "Failed",
                                                          "cannot open /dev/null: %m");
        }
        k = sd_bus_message_new_method_return(r->call, &reply);
        if (k >= 0)
                k = sd_bus_message_append(reply, "h", master);
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (k >= 0)
                k = append_result(reply, r, &res, false);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = sd_bus_send(NULL, reply, NULL);
        if (k < 0) {
                /* Adopted, but the terminal cannot be handed over; closing
                 * the master hangs it up, as a closing terminal would. */
                log_outcome(r, "adopted, but the reply failed", strerror(-k));
                return 0;
        }
        log_outcome(r, r->opts.dry_run ? "allowed (dry run)" : "adopted",
                    res.tty[0] ? res.tty : NULL);
        return 0;
}

static int inspect_now(struct request *r, const char *authorized) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct engine_result res = {0};
        struct engine_error err = {0};
        const char *action = permission_action_id(r->decision.action);
        const char *reason = r->decision.reason;
        int k;

        /* What adoption would move is the target's private business: look
         * only when the caller may adopt it. */
        if (strcmp(authorized, "yes") == 0) {
                r->opts.dry_run = true;
                r->opts.verify = verify_frozen;
                r->opts.userdata = r;
                if (engine_adopt(r->pidfd, &r->opts, &res, &err) < 0) {
                        authorized = "no";
                        reason = err.message;
                }
                /* And what session mode would take over, where there is a
                 * session with a holder. */
                struct engine_options so = {.mode = ENGINE_MODE_SESSION, .dry_run = true};
                struct engine_result sres;
                if (engine_adopt(r->pidfd, &so, &sres, &err) == 0) {
                        memcpy(res.holders, sres.holders, sizeof(res.holders));
                        res.n_holders = sres.n_holders;
                        memcpy(res.members, sres.members, sizeof(res.members));
                        res.n_members = sres.n_members;
                }
        }
        k = sd_bus_message_new_method_return(r->call, &reply);
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (k >= 0)
                k = append_result(reply, r, &res, true);
        if (k >= 0)
                k = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}", "exe", "s",
                                          strcmp(authorized, "yes") == 0 ? r->target.exe : "",
                                          "action", "s", action ? action : "", "authorized", "s",
                                          authorized, "reason", "s", reason ? reason : "");
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = sd_bus_send(NULL, reply, NULL);
        log_outcome(r, "inspected", authorized);
        return k;
}

/* ---- polkit ---- */

static int polkit_done(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(request_freep) struct request *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0, k;

        r->polkit_slot = sd_bus_slot_unref(r->polkit_slot);
        /* Fail closed: no answer is a no. */
        if (e) {
                if (r->kind == REQUEST_INSPECT)
                        return inspect_now(r, "no");
                log_outcome(r, "refused", e->message);
                return sd_bus_reply_method_errorf(
                        r->call, SD_BUS_ERROR_ACCESS_DENIED,
                        "cannot check authorization with polkit (%s: %s); is polkitd running?",
                        e->name, e->message);
        }
        k = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (k >= 0)
                k = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (k < 0) {
                log_outcome(r, "refused", "unreadable polkit reply");
                return sd_bus_reply_method_errorf(r->call, SD_BUS_ERROR_ACCESS_DENIED,
                                                  "polkit gave an answer reptyrd cannot read");
        }
        if (r->kind == REQUEST_INSPECT)
                return inspect_now(r, authorized ? "yes" : challenge ? "challenge" : "no");
        if (authorized)
                return adopt_now(r);
        if (challenge) {
                log_outcome(r, "refused", "authentication required but not allowed");
                return sd_bus_reply_method_errorf(
                        r->call, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                        "adopting process %d (%s) needs authentication (%s) and %s; run "
                        "reptyrctl on a terminal with a polkit agent (pkttyagent) so that it can "
                        "ask for a password, or ask an administrator for a polkit rule",
                        (int)r->target.pid, r->target.comm, r->decision.reason,
                        r->interactive ? "no polkit agent answered"
                                       : "the call did not allow a password prompt");
        }
        log_outcome(r, "refused", "not authorized");
        return sd_bus_reply_method_errorf(
                r->call, SD_BUS_ERROR_ACCESS_DENIED,
                "not authorized to adopt process %d (%s): %s; an administrator can allow it "
                "with a polkit rule for %s",
                (int)r->target.pid, r->target.comm, r->decision.reason,
                permission_action_id(r->decision.action));
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
        snprintf(caller, sizeof(caller), "%u", (unsigned)r->caller_uid);
        if (r->ptrace_scope == PTRACE_SCOPE_ABSENT)
                snprintf(scope, sizeof(scope), "absent");
        else
                snprintf(scope, sizeof(scope), "%d", r->ptrace_scope);

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
         * for a password prompt. */
        k = sd_bus_message_append(q, "us", (uint32_t)(r->interactive ? 1 : 0), "");
        if (k < 0)
                return k;
        return sd_bus_call_async(r->manager->bus, &r->polkit_slot, q, polkit_done, r,
                                 UINT64_C(25) * 60 * 1000 * 1000);
}

/* ---- method handlers ---- */

/* Session mode also touches the processes holding the terminal's master
 * (a terminal emulator, sshd, tmux): each of them must be within what the
 * caller may adopt, or the whole takeover needs adopt-any. */
static int decide_session(struct request *r, sd_bus_error *error) {
        struct engine_options probe = {.mode = ENGINE_MODE_SESSION, .dry_run = true};
        struct engine_result res;
        struct engine_error err;

        if (engine_adopt(r->pidfd, &probe, &res, &err) < 0) {
                log_outcome(r, "refused", err.message);
                return set_engine_error(error, &err);
        }
        for (size_t i = 0; i < res.n_holders; i++) {
                struct permission_decision d;
                struct engine_target t;
                int pidfd = (int)syscall(SYS_pidfd_open, res.holders[i], 0);

                /* Fail closed: a holder we cannot look at needs the most. */
                if (pidfd < 0 || engine_identify(pidfd, &t, &err) < 0) {
                        d.action = PERMISSION_ADOPT_ANY;
                        d.reason = "a process holding the terminal could not be examined";
                        d.same_user = d.kernel_allows = false;
                } else
                        permission_decide(r->caller_uid, r->ptrace_scope, &t, &d);
                if (pidfd >= 0)
                        close(pidfd);
                if (d.action == PERMISSION_ADOPT_ANY && r->decision.action == PERMISSION_ADOPT) {
                        r->decision = d;
                        r->decision.reason = "the terminal is held by a process of another "
                                             "user (a terminal emulator, sshd or tmux of theirs)";
                }
        }
        return 0;
}

/* Who is calling, from the bus alone: the uid dbus-daemon recorded when the
 * caller connected (SO_PEERCRED), never anything read from /proc later. */
static int caller_identity(sd_bus_message *m, struct request *r) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uint64_t augmented;
        uid_t uid;
        int k;

        k = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (k < 0)
                return k;
        augmented = sd_bus_creds_get_augmented_mask(creds);
        if (augmented & SD_BUS_CREDS_EUID)
                return -EPERM;
        k = sd_bus_creds_get_euid(creds, &uid);
        if (k < 0)
                return k;
        r->caller_uid = uid;
        if (!(augmented & SD_BUS_CREDS_PID))
                (void)sd_bus_creds_get_pid(creds, &r->caller_pid);
        return 0;
}

/* Everything up to the polkit question; takes ownership of pidfd. */
static int start_request(sd_bus_message *m, struct manager *mgr, enum request_kind kind, int pidfd,
                         bool with_options, sd_bus_error *error) {
        _cleanup_(request_freep) struct request *r = NULL;
        struct engine_error err;
        size_t slot;
        int k;

        r = calloc(1, sizeof(*r));
        if (!r) {
                close(pidfd);
                return -ENOMEM;
        }
        r->manager = mgr;
        r->kind = kind;
        r->pidfd = pidfd;
        r->call = sd_bus_message_ref(m);
        r->mode = "process";
        r->ptrace_scope = PTRACE_SCOPE_ABSENT;
        /* polkit may prompt only if the caller said it can wait for that. */
        r->interactive =
                kind == REQUEST_ADOPT && sd_bus_message_get_allow_interactive_authorization(m) > 0;
        mgr->n_pending++;
        for (slot = 0; slot < MAX_REQUESTS && mgr->requests[slot]; slot++)
                ;
        if (slot == MAX_REQUESTS)
                return sd_bus_error_setf(error, ERROR_PREFIX "Busy",
                                         "reptyrd is handling %d requests already; try again",
                                         MAX_REQUESTS);
        mgr->requests[slot] = r;

        if (with_options) {
                k = options_parse(m, &r->opts, &r->mode, error);
                if (k < 0 || sd_bus_error_is_set(error))
                        return k < 0 ? sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                                         "malformed options: %s", strerror(-k))
                                     : k;
        }
        /* Fail closed: a caller we cannot identify gets nothing. */
        k = caller_identity(m, r);
        if (k < 0) {
                log_outcome(r, "refused", "caller could not be identified");
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "reptyrd cannot tell who is calling (%s); refusing",
                                         strerror(-k));
        }
        if (engine_identify(r->pidfd, &r->target, &err) < 0) {
                log_outcome(r, "refused", err.message);
                return set_engine_error(error, &err);
        }
        if (kind == REQUEST_ADOPT) {
                for (size_t i = 0; i < MAX_REQUESTS; i++)
                        if (i != slot && mgr->requests[i] &&
                            mgr->requests[i]->kind == REQUEST_ADOPT &&
                            mgr->requests[i]->target.pid == r->target.pid) {
                                log_outcome(r, "refused", "busy");
                                return sd_bus_error_setf(
                                        error, ERROR_PREFIX "Busy",
                                        "process %d (%s) is being adopted by another request; "
                                        "wait for it to finish",
                                        (int)r->target.pid, r->target.comm);
                        }
        }

        r->ptrace_scope = permission_read_ptrace_scope(mgr->ptrace_scope_path);
        if (r->ptrace_scope < PTRACE_SCOPE_ABSENT) {
                log_outcome(r, "refused", "cannot read Yama's ptrace_scope");
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "reptyrd cannot read %s; refusing",
                                         mgr->ptrace_scope_path);
        }
        permission_decide(r->caller_uid, r->ptrace_scope, &r->target, &r->decision);
        if (r->opts.mode == ENGINE_MODE_SESSION && r->decision.action != PERMISSION_REFUSE) {
                k = decide_session(r, error);
                if (k < 0 || sd_bus_error_is_set(error))
                        return k;
        }
        if (r->decision.action == PERMISSION_REFUSE) {
                if (kind == REQUEST_INSPECT) {
                        k = inspect_now(r, "no");
                        return k < 0 ? k : 1;
                }
                log_outcome(r, "refused", r->decision.reason);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "adopting process %d (%s) is refused: %s",
                                         (int)r->target.pid, r->target.comm, r->decision.reason);
        }
        k = sd_bus_track_new(mgr->bus, &r->track, NULL, NULL);
        if (k >= 0)
                k = sd_bus_track_add_sender(r->track, m);
        if (k < 0)
                return k;
        k = ask_polkit(r);
        if (k < 0) {
                log_outcome(r, "refused", "cannot ask polkit");
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "cannot check authorization with polkit (%s); is "
                                         "polkitd running?",
                                         strerror(-k));
        }
        r = NULL; /* owned by the pending polkit call now */
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
        return start_request(m, userdata, REQUEST_ADOPT, pidfd, true, error);
}

static int method_adopt_pid(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct engine_error err;
        uint32_t pid;
        int pidfd, k;

        k = sd_bus_message_read(m, "u", &pid);
        if (k < 0)
                return k;
        if (pid == 0 || pid > INT32_MAX)
                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                         "%u is not a process id", pid);
        /* Pinned now: whatever this pid names from here on is what the
         * caller meant (or gone). */
        if (engine_pidfd_open((pid_t)pid, &pidfd, &err) < 0) {
                log_line("adopt: pid %u: refused: %s", pid, err.message);
                return set_engine_error(error, &err);
        }
        return start_request(m, userdata, REQUEST_ADOPT, pidfd, true, error);
}

static int method_inspect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int pidfd, k = read_pidfd(m, &pidfd, error);

        if (k < 0 || sd_bus_error_is_set(error))
                return k;
        return start_request(m, userdata, REQUEST_INSPECT, pidfd, false, error);
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

/* ---- idle exit ---- */

/* Exit after idle_usec with nothing in flight. The name is released first
 * (new callers then activate a fresh helper), what is already queued is
 * still answered, and we never leave while a polkit check or an adoption
 * is pending. */
static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        if (m->n_pending > 0) {
                idle_rearm(m);
                return 0;
        }
        m->releasing = true;
        (void)sd_bus_release_name(m->bus, BUS_NAME);
        while (sd_bus_process(m->bus, NULL) > 0)
                ;
        if (m->n_pending == 0)
                return sd_event_exit(m->event, 0);
        return 0;
}

static void idle_rearm(struct manager *m) {
        if (m->releasing) {
                if (m->n_pending == 0)
                        (void)sd_event_exit(m->event, 0);
                return;
        }
        if (!m->idle)
                return;
        (void)sd_event_source_set_time_relative(m->idle, m->idle_usec);
        (void)sd_event_source_set_enabled(m->idle, SD_EVENT_ONESHOT);
}

/* ---- run ---- */

static void help(void) {
        printf("reptyrd [OPTIONS]\n\n"
               "The D-Bus activated helper of reptyrctl: adopts processes onto new terminals\n"
               "for callers that polkit authorizes. Started by the system bus, not by hand.\n\n"
               "  --idle-timeout=SEC         exit after SEC seconds without requests (%d)\n"
               "  --ptrace-scope-file=PATH   read Yama's ptrace_scope here (tests)\n"
               "  -h --help                  this text\n"
               "     --version               the version\n",
               DEFAULT_IDLE_SEC);
}

static int parse_argv(int argc, char **argv, struct manager *m) {
        static const struct option options[] = {
                {"idle-timeout", required_argument, NULL, 'i'},
                {"ptrace-scope-file", required_argument, NULL, 'p'},
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
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || *end || !*optarg || v == 0 || v > 86400) {
                                fprintf(stderr, "reptyrd: --idle-timeout needs 1..86400 seconds\n");
                                return -EINVAL;
                        }
                        m->idle_usec = (uint64_t)v * 1000000;
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

int main(int argc, char **argv) {
        struct manager m = {
                .idle_usec = DEFAULT_IDLE_SEC * UINT64_C(1000000),
                .ptrace_scope_path = DEFAULT_PTRACE_SCOPE,
        };
        sigset_t mask;
        int k;

        k = parse_argv(argc, argv, &m);
        if (k <= 0)
                return k < 0 ? 2 : 0;
        /* A client closing its end must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        k = sd_event_default(&m.event);
        if (k < 0)
                goto fail;
        (void)sd_event_add_signal(m.event, NULL, SIGTERM, NULL, NULL);
        (void)sd_event_add_signal(m.event, NULL, SIGINT, NULL, NULL);
        k = sd_bus_open_system(&m.bus);
        if (k < 0)
                goto fail;
        k = sd_bus_add_object_vtable(m.bus, NULL, BUS_PATH, BUS_IFACE, manager_vtable, &m);
        if (k < 0)
                goto fail;
        k = sd_bus_attach_event(m.bus, m.event, SD_EVENT_PRIORITY_NORMAL);
        if (k < 0)
                goto fail;
        k = sd_event_add_time_relative(m.event, &m.idle, CLOCK_MONOTONIC, m.idle_usec, 0, on_idle,
                                       &m);
        if (k < 0)
                goto fail;
        k = sd_bus_request_name(m.bus, BUS_NAME, 0);
        if (k < 0) {
                fprintf(stderr, "reptyrd: cannot own %s on the system bus: %s\n", BUS_NAME,
                        strerror(-k));
                goto out;
        }
        k = sd_event_loop(m.event);
        if (k < 0)
                goto fail;
        goto out;
fail:
        fprintf(stderr, "reptyrd: %s\n", strerror(-k));
out:
        sd_event_source_unref(m.idle);
        sd_bus_flush_close_unref(m.bus);
        sd_event_unref(m.event);
        return k < 0 ? 1 : 0;
}
