/* SPDX-License-Identifier: MIT */
/*
 * attack-client: the unprivileged attacker of the adversarial bus tests
 * (test-attack-*.py), as a raw client of org.reptyr.Reptyr1.
 *
 *   attack-client flood N TARGET [CONNS]
 *       Registers a polkit authentication agent for its own process that
 *       never answers (BeginAuthentication gets no reply), then sends N
 *       Adopt calls with ALLOW_INTERACTIVE_AUTHORIZATION over CONNS bus
 *       connections (default 1): for TARGET "children" each call names a
 *       child of its own (forked here, idle), otherwise every call names
 *       pid TARGET. Prints "AGENT READY", "SENT N", "AGENT BEGIN <action>"
 *       per request polkit passes to the agent, and one JSON line per
 *       answer: {"i":K,"ok":false,"error":"NAME","message":"..."}. Runs
 *       until stdin ends.
 *   attack-client thread TID
 *       Adopt with a pidfd opened with PIDFD_THREAD for thread TID, then
 *       AdoptPID(TID): one JSON line each, {"call":"Adopt",...}.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "test-proc.h"

#define BUS_NAME "org.reptyr.Reptyr1"
#define BUS_PATH "/org/reptyr/Reptyr1"
#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"
#define AGENT_PATH "/org/reptyr/HangingAgent"
#define AGENT_IFACE "org.freedesktop.PolicyKit1.AuthenticationAgent"
#define MAX_CONNS 16
#define PIDFD_THREAD_FLAG 0200 /* O_EXCL, Linux >= 6.9 */

static void json_string(const char *s) {
        putchar('"');
        for (; s && *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

static void print_error(const char *key, const char *value, const sd_bus_error *e) {
        printf("{\"%s\":", key);
        json_string(value);
        printf(",\"ok\":false,\"error\":");
        json_string(e->name);
        printf(",\"message\":");
        json_string(e->message);
        printf("}\n");
        fflush(stdout);
}

/* ---- the agent that never answers ---- */

static sd_bus_message *held[4096];
static unsigned n_held;

static int agent_begin(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *action = "?";

        (void)sd_bus_message_read(m, "s", &action);
        printf("AGENT BEGIN %s\n", action);
        fflush(stdout);
        /* Keep the call and never reply: polkit waits for us. */
        if (n_held < sizeof(held) / sizeof(held[0]))
                held[n_held++] = sd_bus_message_ref(m);
        return 1;
}

static int agent_cancel(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        printf("AGENT CANCEL\n");
        fflush(stdout);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable agent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("BeginAuthentication", "sssa{ss}sa(sa{sv})", "", agent_begin,
                      SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("CancelAuthentication", "s", "", agent_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int register_agent(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t start_time;
        int r;

        r = test_start_time_of(getpid(), &start_time);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, AGENT_PATH, AGENT_IFACE, agent_vtable, NULL);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
                               "RegisterAuthenticationAgent", &error, NULL, "(sa{sv})ss",
                               "unix-process", 3, "pid", "u", (uint32_t)getpid(), "start-time", "t",
                               start_time, "uid", "i", (int32_t)getuid(), "C", AGENT_PATH);
        if (r < 0) {
                fprintf(stderr, "attack-client: RegisterAuthenticationAgent: %s: %s\n", error.name,
                        error.message);
                sd_bus_error_free(&error);
                return r;
        }
        return 0;
}

/* ---- flood ---- */

static unsigned answered;

static int on_answer(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        char idx[16];

        answered++;
        snprintf(idx, sizeof(idx), "%u", (unsigned)(uintptr_t)userdata);
        if (e)
                print_error("i", idx, e);
        else {
                printf("{\"i\":\"%s\",\"ok\":true}\n", idx);
                fflush(stdout);
        }
        return 0;
}

static int flood(unsigned n, const char *target, unsigned conns) {
        sd_bus *bus[MAX_CONNS] = {0};
        bool children = strcmp(target, "children") == 0;
        struct pollfd p[MAX_CONNS + 1];
        int r;

        if (conns < 1 || conns > MAX_CONNS)
                return 2;
        for (unsigned c = 0; c < conns; c++) {
                r = sd_bus_open_system(&bus[c]);
                if (r < 0)
                        return fprintf(stderr, "attack-client: bus: %s\n", strerror(-r)), 2;
                (void)sd_bus_set_allow_interactive_authorization(bus[c], true);
        }
        r = register_agent(bus[0]);
        if (r < 0)
                return fprintf(stderr, "attack-client: agent: %s\n", strerror(-r)), 2;
        printf("AGENT READY\n");
        fflush(stdout);
        for (unsigned i = 0; i < n; i++) {
                sd_bus_message *m = NULL;
                pid_t pid = (pid_t)atoi(target);
                int pidfd;

                if (children) {
                        pid = fork();
                        if (pid < 0)
                                return perror("attack-client: fork"), 2;
                        if (pid == 0) {
                                prctl(PR_SET_PDEATHSIG, SIGKILL);
                                for (;;)
                                        pause();
                        }
                }
                pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                if (pidfd < 0)
                        return perror("attack-client: pidfd_open"), 2;
                r = sd_bus_message_new_method_call(bus[i % conns], &m, BUS_NAME, BUS_PATH, BUS_NAME,
                                                   "Adopt");
                if (r >= 0)
                        r = sd_bus_message_append(m, "ha{sv}", pidfd, 0);
                if (r >= 0)
                        r = sd_bus_call_async(bus[i % conns], NULL, m, on_answer,
                                              (void *)(uintptr_t)i, UINT64_C(600) * 1000000);
                sd_bus_message_unref(m);
                close(pidfd);
                if (r < 0) {
                        sd_bus_error e = SD_BUS_ERROR_NULL;
                        char idx[16];
                        snprintf(idx, sizeof(idx), "%u", i);
                        sd_bus_error_set_errno(&e, r);
                        print_error("i", idx, &e);
                        sd_bus_error_free(&e);
                }
        }
        for (unsigned c = 0; c < conns; c++)
                (void)sd_bus_flush(bus[c]);
        printf("SENT %u\n", n);
        fflush(stdout);
        for (;;) {
                bool busy = false;
                for (unsigned c = 0; c < conns; c++) {
                        r = sd_bus_process(bus[c], NULL);
                        if (r < 0)
                                return fprintf(stderr, "attack-client: %s\n", strerror(-r)), 2;
                        if (r > 0)
                                busy = true;
                }
                if (busy)
                        continue;
                for (unsigned c = 0; c < conns; c++) {
                        p[c].fd = sd_bus_get_fd(bus[c]);
                        p[c].events = (short)sd_bus_get_events(bus[c]);
                }
                p[conns].fd = STDIN_FILENO;
                p[conns].events = POLLIN;
                if (poll(p, conns + 1, -1) < 0 && errno != EINTR)
                        return 2;
                if (p[conns].revents & (POLLIN | POLLHUP)) {
                        char buf[64];
                        if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
                                break;
                }
        }
        return 0;
}

/* ---- thread pidfd ---- */

static void print_answer(const char *call, int r, sd_bus_message *reply,
                         const sd_bus_error *error) {
        if (r < 0) {
                print_error("call", call, error);
                return;
        }
        printf("{\"call\":\"%s\",\"ok\":true}\n", call);
        fflush(stdout);
}

static int thread_calls(pid_t tid) {
        sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int pidfd, r;

        pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD_FLAG);
        if (pidfd < 0) {
                printf("PIDFD_THREAD errno=%d\n", errno);
                return 77;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return 2;
        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_NAME, "Adopt", &error, &reply, "ha{sv}",
                               pidfd, 0);
        print_answer("Adopt", r, reply, &error);
        sd_bus_message_unref(reply);
        reply = NULL;
        sd_bus_error_free(&error);
        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_NAME, "AdoptPID", &error, &reply,
                               "ua{sv}", (uint32_t)tid, 0);
        print_answer("AdoptPID", r, reply, &error);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 4 && strcmp(argv[1], "flood") == 0)
                return flood((unsigned)atoi(argv[2]), argv[3],
                             argc >= 5 ? (unsigned)atoi(argv[4]) : 1);
        if (argc >= 3 && strcmp(argv[1], "thread") == 0)
                return thread_calls((pid_t)atoi(argv[2]));
        fprintf(stderr, "usage: attack-client flood N TARGET [CONNS] | thread TID\n");
        return 2;
}
