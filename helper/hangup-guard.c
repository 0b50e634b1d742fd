/* SPDX-License-Identifier: MIT */
/* reptyrd's SIGHUP guards of adopted shell jobs (struct hangup_guard in
 * reptyrd.h): started once an adoption armed one, released by a worker
 * (engine_hangup_release()) once the old session is gone. */
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

/* ---- SIGHUP of adopted jobs, after their old session ---- */

void guard_free(struct hangup_guard *h) {
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
        abandon_worker(h->manager, &h->worker);
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
        int r;

        r = engine_worker_start(ENGINE_JOB_HANGUP_RELEASE, h->pidfd, &opts, &h->g, &h->worker);
        if (r >= 0)
                r = sd_event_add_io(h->manager->event, &h->worker_source, h->worker.pidfd, EPOLLIN,
                                    on_guard_released, h);
        if (r < 0) {
                log_line("hangup guard: %d (%s): cannot start a worker (%s); it keeps ignoring "
                         "SIGHUP",
                         (int)h->pid, h->comm, strerror(-r));
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

static unsigned guards_of(const struct manager *m, uid_t uid) {
        unsigned n = 0;

        for (const struct hangup_guard *h = m->guards; h; h = h->next)
                n += h->caller_uid == uid;
        return n;
}

void guard_start(struct request *req, const struct engine_result *res) {
        struct manager *m = req->manager;
        struct hangup_guard *h;
        int r = 0;

        /* Bounded (see GUARDS_MAX): the job is adopted all the same. */
        if (m->n_guards >= GUARDS_MAX || guards_of(m, req->caller.uid) >= GUARDS_PER_USER_MAX) {
                log_line("hangup guard: %d (%s): too many adopted jobs are guarded already (%u, "
                         "at most %d per user); it keeps ignoring SIGHUP",
                         (int)req->target.pid, req->target.comm, m->n_guards, GUARDS_PER_USER_MAX);
                return;
        }
        h = calloc(1, sizeof(*h));
        if (!h || (h->pidfd = fcntl(req->pidfd, F_DUPFD_CLOEXEC, 3)) < 0) {
                free(h);
                log_line("hangup guard: %d: out of resources; it keeps ignoring SIGHUP",
                         (int)req->target.pid);
                return;
        }
        h->manager = m;
        h->caller_uid = req->caller.uid;
        h->pid = req->target.pid;
        snprintf(h->comm, sizeof(h->comm), "%s", req->target.comm);
        h->g = res->hangup;
        h->worker = (struct engine_worker){.pid = -1, .pidfd = -1, .sock = -1};
        h->next = m->guards;
        if (h->next)
                h->next->prev = h;
        m->guards = h;
        m->n_guards++;
        (void)engine_hangup_watch(&h->g, h->watch, &h->n_watch);
        h->n_running = h->n_watch;
        for (size_t i = 0; r >= 0 && i < h->n_watch; i++)
                r = sd_event_add_io(m->event, &h->watch_source[i], h->watch[i], EPOLLIN,
                                    on_guard_watch, h);
        if (r >= 0)
                r = sd_event_add_io(m->event, &h->target_source, h->pidfd, EPOLLIN,
                                    on_guard_target_exit, h);
        if (r < 0) {
                log_line("hangup guard: %d (%s): cannot watch its old session (%s); it keeps "
                         "ignoring SIGHUP",
                         (int)h->pid, h->comm, strerror(-r));
                guard_free(h);
                return;
        }
        log_line("hangup guard: %d (%s) ignores SIGHUP until its old shell and session leader "
                 "(%zu running) are gone",
                 (int)h->pid, h->comm, h->n_running);
        if (h->n_running == 0)
                guard_release(h);
}
