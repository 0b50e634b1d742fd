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
 * This file: method handlers, properties, vtable, idle exit and stopping,
 * run(). The stages are in request.c, the replies in reply.c, the SIGHUP
 * guards in hangup-guard.c, the shared state in reptyrd.h.
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
#include <sys/socket.h>
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
#include "reptyrd.h"
#include "util.h"

/* ---- method handlers ---- */

static int read_pidfd(sd_bus_message *m, int *ret, sd_bus_error *error) {
        int fd, r;

        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;
        /* If it is a socket told to linger, its last close would wait for
         * the peer, on whichever process closes it last: us, or the bus
         * daemon. Not any more (harmless on anything else; see
         * loop-guard.c for the files we never get to see). */
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){0}, sizeof(struct linger));
        /* Ours from here on, independent of the message's lifetime. */
        *ret = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (*ret < 0)
                return sd_bus_error_set_errnof(error, errno, "cannot duplicate the pidfd: %m");
        return 0;
}

static int method_adopt(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int pidfd, r = read_pidfd(m, &pidfd, error);

        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        return request_start(m, userdata, REQUEST_ADOPT, pidfd, true, error);
}

static int method_adopt_pid(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct engine_error err;
        uint32_t pid;
        pid_t tgid;
        int pidfd, r;

        r = sd_bus_message_read(m, "u", &pid);
        if (r < 0)
                return r;
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
        int pidfd, r = read_pidfd(m, &pidfd, error);

        if (r < 0 || sd_bus_error_is_set(error))
                return r;
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
        int r = sd_bus_message_open_container(reply, 'a', "s");

        for (size_t i = 0; r >= 0 && arch_personalities[i]; i++)
                r = sd_bus_message_append(reply, "s", arch_personalities[i]->name);
        return r < 0 ? r : sd_bus_message_close_container(reply);
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
        struct request *req, *next;

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
        for (req = m->requests; req; req = next) {
                next = req->next;
                if (req->stage == STAGE_WORK) {
                        engine_worker_cancel(&req->worker);
                        continue;
                }
                request_cancel(req);
                request_fail(req, ERROR_PREFIX "Busy",
                             "reptyrd is shutting down; process %d was not touched; try again "
                             "in a moment",
                             (int)req->target.pid);
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
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0) {
                log_line("reptyrd: cannot connect to the system bus: %s", strerror(-r));
                return r;
        }
        r = sd_bus_add_object_vtable(m->bus, NULL, BUS_PATH, BUS_IFACE, manager_vtable, m);
        if (r < 0) {
                log_line("reptyrd: cannot register %s: %s", BUS_PATH, strerror(-r));
                return r;
        }
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_line("reptyrd: cannot attach the bus to the event loop: %s", strerror(-r));
                return r;
        }
        r = sd_bus_request_name(m->bus, BUS_NAME, 0);
        if (r < 0) {
                log_line("reptyrd: cannot own %s on the system bus: %s", BUS_NAME, strerror(-r));
                return r;
        }
        return 0;
}

static int run(int argc, char **argv) {
        _cleanup_(manager_done) struct manager m = {
                .idle_usec = DEFAULT_IDLE_SEC * USEC_PER_SEC,
                .ptrace_scope_path = DEFAULT_PTRACE_SCOPE,
        };
        sigset_t mask;
        int r;

        r = parse_argv(argc, argv, &m);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        /* A client closing its end must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        /* Blocked here, so the workers inherit them blocked: systemd's
         * SIGTERM to the whole unit must not kill a worker halfway through
         * an adoption (we cancel it, and it undoes, instead). */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&m.event);
        if (r < 0) {
                log_line("reptyrd: cannot create an event loop: %s", strerror(-r));
                return 1;
        }
        r = sd_event_add_signal(m.event, NULL, SIGTERM, on_terminate, &m);
        if (r >= 0)
                r = sd_event_add_signal(m.event, NULL, SIGINT, on_terminate, &m);
        if (r < 0) {
                log_line("reptyrd: cannot watch SIGTERM: %s", strerror(-r));
                return 1;
        }
        /* WATCHDOG_USEC from systemd: the loop pings it; a wedged helper
         * gets restarted. Without systemd this does nothing. */
        (void)sd_event_set_watchdog(m.event, true);
        r = sd_event_add_time_relative(m.event, &m.idle, CLOCK_MONOTONIC, m.idle_usec, 0, on_idle,
                                       &m);
        if (r < 0) {
                log_line("reptyrd: cannot arm the idle timer: %s", strerror(-r));
                return 1;
        }
        r = loop_guard_start();
        if (r < 0) {
                log_line("reptyrd: cannot start the event loop's watcher: %s", strerror(-r));
                return 1;
        }
        if (connect_bus(&m) < 0)
                return 1;
        r = loop_guard_run(m.event);
        if (r < 0) {
                log_line("reptyrd: event loop failed: %s", strerror(-r));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) { return run(argc, argv); }
