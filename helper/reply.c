/* SPDX-License-Identifier: MIT */
/* A request's end: reptyrd's replies (Adopt's, Inspect's, its errors),
 * the log line that says how it ended, and freeing it. */
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
#include <sys/wait.h>
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

/* ---- a request's end ---- */

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* A killed worker that is not dead yet: reaped once its pidfd says so. */
static int on_zombie(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        siginfo_t si;

        (void)waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG);
        sd_event_source_disable_unref(s);
        close(fd);
        return 0;
}

void abandon_worker(struct manager *m, struct engine_worker *w) {
        sd_event_source *s = NULL;
        int fd = engine_worker_abandon(w);

        /* The source is unreferenced by on_zombie(). */
        if (fd >= 0 && sd_event_add_io(m->event, &s, fd, EPOLLIN, on_zombie, NULL) < 0)
                close(fd); /* a zombie until we exit */
}

void request_stop_worker(struct request *req) {
        req->worker_source = sd_event_source_disable_unref(req->worker_source);
        req->deadline = sd_event_source_disable_unref(req->deadline);
        abandon_worker(req->manager, &req->worker);
}

void request_free(struct request *req) {
        struct manager *m;

        if (!req)
                return;
        m = req->manager;
        if (req->prev)
                req->prev->next = req->next;
        else
                m->requests = req->next;
        if (req->next)
                req->next->prev = req->prev;
        m->n_requests--;
        request_stop_worker(req);
        sd_bus_slot_unref(req->polkit_slot);
        sd_bus_slot_unref(req->gone_slot);
        sd_bus_slot_unref(req->identity_slot);
        sd_bus_message_unref(req->call);
        if (req->pidfd >= 0)
                close(req->pidfd);
        free(req);
        manager_check_exit(m);
}

void log_outcome(struct request *req, const char *outcome, const char *detail) {
        const char *action = permission_action_id(req->decision.action);

        /* Not "uid=0 pid=0": that would read as root. */
        if (req->stage == STAGE_IDENTIFY) {
                const char *sender = sd_bus_message_get_sender(req->call);

                log_line("%s: caller %s (not yet identified): %s%s%s",
                         req->kind == REQUEST_ADOPT ? "adopt" : "inspect", sender ? sender : "?",
                         outcome, detail ? ": " : "", detail ? detail : "");
                return;
        }
        log_line("%s: caller uid=%u pid=%d, target pid=%d uid=%u comm=%s, action=%s, mode=%s: "
                 "%s%s%s",
                 req->kind == REQUEST_ADOPT ? (req->opts.dry_run ? "adopt (dry run)" : "adopt")
                                            : "inspect",
                 (unsigned)req->caller.uid, (int)req->caller_pid, (int)req->target.pid,
                 (unsigned)req->target.uid[0], req->target.comm[0] ? req->target.comm : "?",
                 action ? action : "none", req->mode ? req->mode : "process", outcome,
                 detail ? ": " : "", detail ? detail : "");
}

/* ---- replies ---- */

/* Answer the call with an error and end the request. A caller that went
 * away gets nothing (there is nobody to send it to). */
void request_fail(struct request *req, const char *name, const char *fmt, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char msg[768];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_outcome(req, "refused", msg);
        if (!req->caller_gone) {
                sd_bus_error_set(&error, name, msg);
                (void)sd_bus_reply_method_error(req->call, &error);
        }
        request_free(req);
}

void request_fail_engine(struct request *req, const struct engine_error *e) {
        request_fail(req, options_error_bus_name(e->kind), "%s", e->message);
}

static int append_pids(sd_bus_message *reply, const char *key, const pid_t *pids, size_t n) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        /* "ai" like the fd lists, so that clients read all of them alike. */
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "ai");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "i");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "i", (int32_t)pids[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int append_fds(sd_bus_message *reply, const char *key, const int *fds, size_t n) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "ai");
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'i', fds, n * sizeof(int));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

int adopt_reply(struct request *req, const struct engine_result *res, int master) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(req->call, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "h", master);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "pid", "u", (uint32_t)req->target.pid,
                        "mode", "s", req->mode, "personality", "s",
                        res->personality ? res->personality : "", "tty", "s", res->tty, "old-tty",
                        "s", res->old_tty, "was-stopped", "b", (int)res->was_stopped);
        if (r >= 0)
                r = append_fds(reply, "replaced-fds", res->replaced_fds, res->n_replaced);
        if (r >= 0 && res->n_holders > 0)
                r = append_pids(reply, "holders", res->holders, res->n_holders);
        if (r >= 0 && res->n_members > 0)
                r = append_pids(reply, "session-processes", res->members, res->n_members);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

/* Whether the caller may see that pid exists and what it is: its own
 * processes, which it can read in /proc itself; anyone's when it is
 * authorized for adopt-any. Fail closed. */
static bool caller_may_see(const struct request *req, pid_t pid, bool authorized_any) {
        char path[64], buf[4096];
        struct proc_status st;

        if (authorized_any)
                return true;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (proc_read(AT_FDCWD, path, buf, sizeof(buf)) < 0 || proc_parse_status(buf, &st) < 0)
                return false;
        return st.uid[0] == req->caller.uid && st.uid[1] == req->caller.uid;
}

static size_t visible_pids(const struct request *req, const pid_t *in, size_t n, bool any,
                           pid_t *out) {
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
                if (caller_may_see(req, in[i], any))
                        out[m++] = in[i];
        return m;
}

/* Inspect's answer. What anyone can read in /proc (pid, uid, comm) and
 * polkit's answer always; what adoption would touch (fds, exe, terminal)
 * only when authorized; holders and session processes of other users only
 * when authorized for adopt-any. */
void inspect_reply(struct request *req, const char *authorized, const char *reason,
                   const struct engine_outcome *o) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *action = permission_action_id(req->decision.action);
        bool yes = strcmp(authorized, "yes") == 0 && o && o->r == 0;
        bool any = yes && req->decision.action == PERMISSION_ADOPT_ANY;
        pid_t pids[ENGINE_MAX_MEMBERS];
        size_t n;
        int r;

        r = sd_bus_message_new_method_return(req->call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "pid", "u",
                        (uint32_t)req->target.pid, "uid", "u", (uint32_t)req->target.uid[0], "comm",
                        "s", req->target.comm, "mode", "s", req->mode, "action", "s",
                        action ? action : "", "authorized", "s", authorized, "reason", "s",
                        reason ? reason : "", "exe", "s", yes ? req->target.exe : "", "tty", "s",
                        yes ? o->inspection.old_tty : "", "personality", "s",
                        yes && o->inspection.personality ? o->inspection.personality : "");
        if (r >= 0)
                r = append_fds(reply, "fds", yes ? o->inspection.fds : NULL,
                               yes ? o->inspection.n_fds : 0);
        if (r >= 0 && yes && o->session.n_holders > 0) {
                pid_t h[ENGINE_MAX_HOLDERS];
                for (size_t i = 0; i < o->session.n_holders; i++)
                        h[i] = o->session.holders[i].pid;
                n = visible_pids(req, h, o->session.n_holders, any, pids);
                if (n > 0)
                        r = append_pids(reply, "holders", pids, n);
        }
        if (r >= 0 && yes && o->session.n_members > 0) {
                n = visible_pids(req, o->session.members, o->session.n_members, any, pids);
                if (n > 0)
                        r = append_pids(reply, "session-processes", pids, n);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0 && !req->caller_gone)
                r = sd_bus_send(NULL, reply, NULL);
        log_outcome(req, "inspected", r < 0 ? "the reply failed" : authorized);
        request_free(req);
}
