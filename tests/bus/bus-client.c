/* SPDX-License-Identifier: MIT */
/*
 * bus-client: a raw client of org.reptyr.Reptyr1 for the bus tests, and a
 * polkit authentication agent that says yes.
 *
 *   bus-client adopt PID [OPTIONS]       Adopt(h pidfd, a{sv})
 *   bus-client adopt-pid PID [OPTIONS]   AdoptPID(u pid, a{sv})
 *   bus-client inspect PID [OPTIONS]     Inspect(h pidfd)
 *   bus-client agent PID [--deny]        (root) a polkit agent for process PID
 *
 * Options of the calls:
 *   -o KEY=TYPE:VALUE   an entry of the options dictionary; TYPE is one of
 *                       s b q u i t (b: true/false), e.g. -o rows=q:40
 *   --interactive       send the call with ALLOW_INTERACTIVE_AUTHORIZATION
 *   --wait-stdin        open the pidfd, print "PIDFD OPEN", and make the
 *                       call only after a line arrived on stdin
 *   --send-and-hold     send the call, print "SENT <unique bus name>", wait for a line on
 *                       stdin, then exit without reading the answer (a
 *                       caller that goes away while it is authorized)
 *   --relay             after a successful Adopt: relay stdin -> master and
 *                       master -> stdout (raw mode and window size when
 *                       stdin is a terminal, SIGWINCH forwarded) until the
 *                       target exits or the terminal hangs up
 *   --timeout=SEC       of the method call (default 60)
 *
 * Prints one JSON line on stdout: {"ok":true,"result":{...},"master":"tty"}
 * (Adopt; "master" says whether the fd that came back is a terminal, "size"
 * is its window size [rows, cols]), or
 * {"ok":false,"error":"NAME","message":"..."}. With --relay the JSON line
 * goes to stderr instead, so that stdout carries only the target's output.
 *
 * The agent registers with the private polkitd (RegisterAuthenticationAgent
 * for the unix-process PID, as pkttyagent --process does), prints "AGENT
 * READY" and, for every BeginAuthentication, prints "AGENT BEGIN <action>
 * <message>" and authenticates the first identity offered (root may answer
 * AuthenticationAgentResponse2 itself: the test stands in for
 * polkit-agent-helper-1 and PAM), or with --deny dismisses the request.
 *
 * Exit status: 0 success, 1 the call failed with a bus error, 2 any local
 * failure (usage, pidfd_open, bus connection).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <termios.h>
#include <unistd.h>

#include "test-proc.h"

#define BUS_NAME "org.reptyr.Reptyr1"
#define BUS_PATH "/org/reptyr/Reptyr1"
#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"
#define AGENT_PATH "/org/reptyr/TestAgent"
#define AGENT_IFACE "org.freedesktop.PolicyKit1.AuthenticationAgent"
#define MAX_OPTIONS 16

struct args {
        const char *verb;
        pid_t pid;
        const char *options[MAX_OPTIONS];
        unsigned n_options;
        bool interactive, wait_stdin, send_and_hold, relay, deny;
        uint64_t timeout_usec;
};

static FILE *json_out;

static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static int fail_errno(const char *what, int r) {
        fprintf(stderr, "bus-client: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 2;
}

static int print_bus_error(const sd_bus_error *e) {
        fprintf(json_out, "{\"ok\":false,\"error\":");
        json_string(json_out, e->name ? e->name : "");
        fprintf(json_out, ",\"message\":");
        json_string(json_out, e->message ? e->message : "");
        fprintf(json_out, "}\n");
        fflush(json_out);
        return 1;
}

static bool read_line_from_stdin(void) {
        char c;

        for (;;) {
                ssize_t n = read(STDIN_FILENO, &c, 1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                if (c == '\n')
                        return true;
        }
}

/* ---- the options dictionary ---- */

static int append_option(sd_bus_message *m, const char *spec) {
        char key[64], type;
        const char *eq = strchr(spec, '='), *value;
        int r;

        if (!eq || (size_t)(eq - spec) >= sizeof(key) || !eq[1] || eq[2] != ':')
                return -EINVAL;
        memcpy(key, spec, eq - spec);
        key[eq - spec] = '\0';
        type = eq[1];
        value = eq + 3;
        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r < 0)
                return r;
        switch (type) {
        case 's':
                r = sd_bus_message_append(m, "v", "s", value);
                break;
        case 'b':
                r = sd_bus_message_append(m, "v", "b", strcmp(value, "true") == 0);
                break;
        case 'q':
                r = sd_bus_message_append(m, "v", "q", (uint16_t)strtoul(value, NULL, 0));
                break;
        case 'u':
                r = sd_bus_message_append(m, "v", "u", (uint32_t)strtoul(value, NULL, 0));
                break;
        case 'i':
                r = sd_bus_message_append(m, "v", "i", (int32_t)strtol(value, NULL, 0));
                break;
        case 't':
                r = sd_bus_message_append(m, "v", "t", (uint64_t)strtoull(value, NULL, 0));
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* ---- printing a{sv} as a JSON object ---- */

static int print_vardict(sd_bus_message *m, FILE *f) {
        bool first = true;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        fputc('{', f);
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents;
                char type;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                fprintf(f, "%s", first ? "" : ",");
                first = false;
                json_string(f, key);
                fputc(':', f);
                if (strcmp(contents, "s") == 0) {
                        const char *s;
                        r = sd_bus_message_read(m, "v", "s", &s);
                        if (r >= 0)
                                json_string(f, s);
                } else if (strcmp(contents, "u") == 0) {
                        uint32_t u;
                        r = sd_bus_message_read(m, "v", "u", &u);
                        if (r >= 0)
                                fprintf(f, "%" PRIu32, u);
                } else if (strcmp(contents, "i") == 0) {
                        int32_t i;
                        r = sd_bus_message_read(m, "v", "i", &i);
                        if (r >= 0)
                                fprintf(f, "%" PRIi32, i);
                } else if (strcmp(contents, "b") == 0) {
                        int b;
                        r = sd_bus_message_read(m, "v", "b", &b);
                        if (r >= 0)
                                fprintf(f, "%s", b ? "true" : "false");
                } else if (strcmp(contents, "ai") == 0) {
                        const int32_t *a;
                        size_t size;
                        r = sd_bus_message_enter_container(m, 'v', "ai");
                        if (r >= 0)
                                r = sd_bus_message_read_array(m, 'i', (const void **)&a, &size);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                        if (r >= 0) {
                                fputc('[', f);
                                for (size_t i = 0; i < size / sizeof(int32_t); i++)
                                        fprintf(f, "%s%" PRIi32, i ? "," : "", a[i]);
                                fputc(']', f);
                        }
                } else {
                        fprintf(f, "\"(type %s)\"", contents);
                        r = sd_bus_message_skip(m, "v");
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        fputc('}', f);
        return sd_bus_message_exit_container(m);
}

/* ---- the relay ---- */

static struct termios saved_termios;
static bool termios_saved;

static void restore_terminal(void) {
        if (termios_saved)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

static void copy_window_size(int master) {
        struct winsize ws;

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                (void)ioctl(master, TIOCSWINSZ, &ws);
}

static bool write_all(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, buf, n);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN) {
                        struct pollfd p = {.fd = fd, .events = POLLOUT};
                        (void)poll(&p, 1, 1000);
                        continue;
                }
                if (w <= 0)
                        return false;
                buf += w;
                n -= (size_t)w;
        }
        return true;
}

/* Copy what the master has now to stdout; false once it is hung up. */
static bool drain_master(int master) {
        char buf[65536];

        for (;;) {
                ssize_t n = read(master, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return true;
                if (n <= 0)
                        return false; /* EIO: no slave open any more */
                if (!write_all(STDOUT_FILENO, buf, (size_t)n))
                        return false;
        }
}

static int relay(int master, int pidfd) {
        struct pollfd p[4];
        sigset_t mask;
        int sfd;
        bool stdin_open = true;
        char buf[65536];

        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return fail_errno("signalfd", errno);
        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
                struct termios raw = saved_termios;

                termios_saved = true;
                atexit(restore_terminal);
                cfmakeraw(&raw);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                copy_window_size(master);
        }
        (void)fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        for (;;) {
                p[0] = (struct pollfd){.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN};
                p[1] = (struct pollfd){.fd = master, .events = POLLIN};
                p[2] = (struct pollfd){.fd = pidfd, .events = POLLIN};
                p[3] = (struct pollfd){.fd = sfd, .events = POLLIN};
                if (poll(p, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail_errno("poll", errno);
                }
                if (p[3].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si))
                                ;
                        if (termios_saved)
                                copy_window_size(master);
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        if (!drain_master(master))
                                break;
                }
                if (p[2].revents & POLLIN) {
                        /* The target exited: its last words are in the
                         * master already. */
                        (void)drain_master(master);
                        break;
                }
                if (p[0].revents & (POLLIN | POLLHUP)) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0)
                                stdin_open = false;
                        else if (!write_all(master, buf, (size_t)n))
                                break;
                }
        }
        restore_terminal();
        termios_saved = false;
        return 0;
}

/* ---- calls to reptyrd ---- */

static int call_helper(const struct args *a) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bool adopt = strcmp(a->verb, "inspect") != 0;
        bool by_pid = strcmp(a->verb, "adopt-pid") == 0;
        int pidfd = -1, master = -1, r;

        if (!by_pid) {
                pidfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
                if (pidfd < 0)
                        return fail_errno("pidfd_open", errno);
        }
        if (a->wait_stdin) {
                printf("PIDFD OPEN\n");
                fflush(stdout);
                if (!read_line_from_stdin())
                        return fail_errno("reading the go-ahead from stdin", EPIPE);
        }
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return fail_errno("connecting to the system bus", r);
        if (a->interactive) {
                r = sd_bus_set_allow_interactive_authorization(bus, true);
                if (r < 0)
                        return fail_errno("allow interactive authorization", r);
        }
        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_NAME,
                                           by_pid  ? "AdoptPID"
                                           : adopt ? "Adopt"
                                                   : "Inspect");
        if (r >= 0)
                r = by_pid ? sd_bus_message_append(m, "u", (uint32_t)a->pid)
                           : sd_bus_message_append(m, "h", pidfd);
        if (r >= 0 && adopt) {
                r = sd_bus_message_open_container(m, 'a', "{sv}");
                for (unsigned i = 0; r >= 0 && i < a->n_options; i++)
                        r = append_option(m, a->options[i]);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r < 0)
                return fail_errno("building the call", r);

        if (a->send_and_hold) {
                r = sd_bus_send(bus, m, NULL);
                if (r >= 0)
                        r = sd_bus_flush(bus);
                if (r < 0)
                        return fail_errno("sending the call", r);
                const char *unique = NULL;

                (void)sd_bus_get_unique_name(bus, &unique);
                printf("SENT %s\n", unique ? unique : "?");
                fflush(stdout);
                (void)read_line_from_stdin();
                /* Gone without reading the answer. */
                return 0;
        }

        r = sd_bus_call(bus, m, a->timeout_usec, &error, &reply);
        if (r < 0)
                return print_bus_error(&error);

        fprintf(json_out, "{\"ok\":true");
        if (adopt) {
                struct winsize ws;
                int fd;

                r = sd_bus_message_read(reply, "h", &fd);
                if (r < 0)
                        return fail_errno("reading the master", r);
                /* Ours beyond the message's lifetime. */
                master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (master < 0)
                        return fail_errno("duplicating the master", errno);
                fprintf(json_out, ",\"master\":\"%s\"", isatty(master) ? "tty" : "not-a-tty");
                if (ioctl(master, TIOCGWINSZ, &ws) == 0)
                        fprintf(json_out, ",\"size\":[%u,%u]", ws.ws_row, ws.ws_col);
        }
        fprintf(json_out, ",\"result\":");
        r = print_vardict(reply, json_out);
        if (r < 0)
                return fail_errno("reading the result", r);
        fprintf(json_out, "}\n");
        fflush(json_out);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);

        if (adopt && a->relay) {
                if (pidfd < 0) {
                        pidfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
                        if (pidfd < 0)
                                return fail_errno("pidfd_open", errno);
                }
                /* The bus connection is not needed any more; closing it
                 * also lets the helper go idle. */
                sd_bus_flush_close_unref(bus);
                return relay(master, pidfd);
        }
        sd_bus_flush_close_unref(bus);
        return 0;
}

/* ---- the polkit agent ---- */

static struct args agent_args;

/* ("unix-user", {"uid": u}) from the first identity of BeginAuthentication. */
static int read_first_uid(sd_bus_message *m, uint32_t *ret) {
        const char *kind;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(sa{sv})");
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = sd_bus_message_enter_container(m, 'r', "sa{sv}");
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = sd_bus_message_read(m, "s", &kind);
        if (r < 0)
                return r;
        if (strcmp(kind, "unix-user") != 0)
                return -EOPNOTSUPP;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents;
                char type;

                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (strcmp(key, "uid") == 0 && strcmp(contents, "u") == 0)
                        r = sd_bus_message_read(m, "v", "u", ret);
                else if (strcmp(key, "uid") == 0 && strcmp(contents, "i") == 0)
                        r = sd_bus_message_read(m, "v", "i", (int32_t *)ret);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r;
}

static int agent_respond(sd_bus *bus, uint32_t agent_uid, const char *cookie, uint32_t uid) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
                               "AuthenticationAgentResponse2", &error, NULL, "us(sa{sv})",
                               agent_uid, cookie, "unix-user", 1, "uid", "u", uid);
        if (r < 0) {
                printf("AGENT RESPONSE2 uid=%u FAILED %s: %s\n", agent_uid, error.name,
                       error.message);
                fflush(stdout);
        }
        sd_bus_error_free(&error);
        return r;
}

static int agent_begin(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *action, *message, *icon, *cookie;
        uint32_t uid = UINT32_MAX;
        int r;

        r = sd_bus_message_read(m, "sss", &action, &message, &icon);
        if (r >= 0)
                r = sd_bus_message_skip(m, "a{ss}");
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &cookie);
        if (r >= 0)
                r = read_first_uid(m, &uid);
        if (r < 0)
                return r;
        printf("AGENT BEGIN %s %s\n", action, message);
        fflush(stdout);
        if (agent_args.deny)
                return sd_bus_error_set(ret_error, "org.freedesktop.PolicyKit1.Error.Cancelled",
                                        "the test agent dismisses every request");
        /* The agent was registered for a process of `uid`: polkit counts
         * that user as the agent's creator (or, in some versions, root). */
        if (agent_respond(sd_bus_message_get_bus(m), uid, cookie, uid) < 0 &&
            agent_respond(sd_bus_message_get_bus(m), 0, cookie, uid) < 0)
                return sd_bus_error_set(ret_error, "org.freedesktop.PolicyKit1.Error.Failed",
                                        "the test agent could not answer polkitd");
        printf("AGENT AUTHENTICATED uid=%u\n", uid);
        fflush(stdout);
        return sd_bus_reply_method_return(m, NULL);
}

static int agent_cancel(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        printf("AGENT CANCEL\n");
        fflush(stdout);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable agent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        /* polkitd runs as its own user: without UNPRIVILEGED sd-bus would
         * refuse its calls. The bus policy lets only polkitd send these. */
        SD_BUS_METHOD("BeginAuthentication", "sssa{ss}sa(sa{sv})", "", agent_begin,
                      SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("CancelAuthentication", "s", "", agent_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int run_agent(const struct args *a) {
        sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t start_time;
        char path[64];
        char line[256];
        unsigned owner = UINT32_MAX;
        FILE *f;
        int r;

        r = test_start_time_of(a->pid, &start_time);
        if (r < 0)
                return fail_errno("reading the start time", r);
        snprintf(path, sizeof(path), "/proc/%d/status", (int)a->pid);
        f = fopen(path, "re");
        if (!f)
                return fail_errno("reading the uid", errno);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Uid: %u", &owner) == 1)
                        break;
        fclose(f);

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return fail_errno("connecting to the system bus", r);
        r = sd_bus_add_object_vtable(bus, NULL, AGENT_PATH, AGENT_IFACE, agent_vtable, NULL);
        if (r < 0)
                return fail_errno("adding the agent object", r);
        r = sd_bus_call_method(bus, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
                               "RegisterAuthenticationAgent", &error, NULL, "(sa{sv})ss",
                               "unix-process", 3, "pid", "u", (uint32_t)a->pid, "start-time", "t",
                               start_time, "uid", "i", (int32_t)owner, "C", AGENT_PATH);
        if (r < 0) {
                fprintf(stderr, "bus-client: RegisterAuthenticationAgent: %s: %s\n", error.name,
                        error.message);
                return 1;
        }
        printf("AGENT READY\n");
        fflush(stdout);
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return fail_errno("processing the bus", r);
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return fail_errno("waiting for the bus", r);
        }
}

/* ---- main ---- */

static int usage(void) {
        fprintf(stderr, "usage: bus-client adopt|adopt-pid|inspect|agent PID [OPTIONS]\n");
        return 2;
}

int main(int argc, char **argv) {
        struct args a = {.timeout_usec = UINT64_C(60) * 1000000};
        char *end;
        long pid;

        if (argc < 3)
                return usage();
        a.verb = argv[1];
        errno = 0;
        pid = strtol(argv[2], &end, 10);
        if (errno || *end || pid < 0)
                return usage();
        a.pid = (pid_t)pid;
        for (int i = 3; i < argc; i++) {
                if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && a.n_options < MAX_OPTIONS)
                        a.options[a.n_options++] = argv[++i];
                else if (strcmp(argv[i], "--interactive") == 0)
                        a.interactive = true;
                else if (strcmp(argv[i], "--wait-stdin") == 0)
                        a.wait_stdin = true;
                else if (strcmp(argv[i], "--send-and-hold") == 0)
                        a.send_and_hold = true;
                else if (strcmp(argv[i], "--relay") == 0)
                        a.relay = true;
                else if (strcmp(argv[i], "--deny") == 0)
                        a.deny = true;
                else if (strncmp(argv[i], "--timeout=", 10) == 0)
                        a.timeout_usec = strtoull(argv[i] + 10, NULL, 10) * 1000000;
                else
                        return usage();
        }
        json_out = a.relay ? stderr : stdout;
        if (strcmp(a.verb, "agent") == 0) {
                agent_args = a;
                return run_agent(&a);
        }
        if (strcmp(a.verb, "adopt") != 0 && strcmp(a.verb, "adopt-pid") != 0 &&
            strcmp(a.verb, "inspect") != 0)
                return usage();
        return call_helper(&a);
}
