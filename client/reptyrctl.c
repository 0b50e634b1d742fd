/* SPDX-License-Identifier: MIT */
/*
 * reptyrctl: move a running process onto the terminal you are typing in.
 *
 *   reptyrctl [OPTIONS] adopt PID
 *   reptyrctl [OPTIONS] inspect PID
 *
 * By default the reptyrd helper does the work over the system bus, after
 * asking polkit (with a text agent in this terminal when a password is
 * needed). With --direct the engine runs in this process and needs ptrace
 * rights over PID.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "bus-call.h"
#include "engine-worker.h"
#include "engine.h"
#include "exit-code.h"
#include "handover.h"
#include "polkit-agent.h"
#include "proc.h"
#include "proclist.h"
#include "relay.h"
#include "target-info.h"
#include "tmux.h"
#include "util.h"

#define streq(a, b) (strcmp((a), (b)) == 0)
/* The engine gives up on a target that does not stop within a second;
 * this only bounds a wedged worker. */
#define DIRECT_TIMEOUT_MS 30000
/* adopt --tmux: how long tmux may take to start our receiver, and the
 * receiver to take the terminal. */
#define TMUX_RECEIVER_TIMEOUT_MS 10000

#ifndef REPTYR_VERSION
#error "REPTYR_VERSION comes from the top-level meson.build"
#endif

static bool arg_direct;
static bool arg_dry_run;
static bool arg_force;
static bool arg_session;
static bool arg_quiet;
static bool arg_json;
static bool arg_all;
static bool arg_ask_password = true;
static bool arg_tmux;
static bool arg_stdio;
static const char *arg_tmux_session;
static struct tmux_window tmux_win;
static enum engine_fds arg_fds = ENGINE_FDS_TERMINAL;

static int help(void) {
        printf("reptyrctl [OPTIONS...] COMMAND PID\n"
               "\n"
               "Move a running process onto this terminal.\n"
               "\n"
               "Commands:\n"
               "  adopt PID              Move PID onto this terminal and relay until it exits\n"
               "  inspect PID            Show what adopting PID would do and whether it would\n"
               "                         be allowed; change nothing\n"
               "  pty [-- COMMAND...]    Create a new terminal, print its name and relay it\n"
               "                         here; run COMMAND with REPTYR_PTY set to it\n"
               "  list [--json] [--all]  List your processes that have a terminal, orphaned\n"
               "                         ones (their terminal was closed) first\n"
               "\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show package version\n"
               "     --direct            Work in this process with ptrace, without the\n"
               "                         reptyrd helper (as root, or where the kernel lets\n"
               "                         you ptrace PID)\n"
               "     --fds=terminal|stdio\n"
               "                         Move every fd open on PID's terminal (default), or\n"
               "                         only fds 0, 1 and 2\n"
               "     --stdio             pty: run COMMAND with stdin, stdout and stderr on the\n"
               "                         new terminal, as its controlling terminal\n"
               "     --tmux[=SESSION]    adopt: into a new tmux window of the tmux session\n"
               "                         you are in, or of SESSION, or of a new detached\n"
               "                         session; prints how to attach\n"
               "     --session           adopt: take over PID's whole terminal session (its\n"
               "                         shell, jobs and pipelines) from the process holding\n"
               "                         the terminal's master (terminal emulator, tmux, sshd,\n"
               "                         or an earlier reptyrctl)\n"
               "     --dry-run           adopt: check everything (including authorization)\n"
               "                         and print what would happen; change nothing\n"
               "     --force             adopt: even when a process outside PID's session\n"
               "                         (a tmux or screen server) has its terminal open too\n"
               "     --no-ask-password   Do not ask for a password to authorize the adoption\n"
               "     --json              inspect: print one JSON object; list: one object\n"
               "                         per process\n"
               "     --all               list: other users' processes too\n"
               "  -q --quiet             Do not print informational messages\n"
               "\n"
               "Exit status:\n"
               "  N    once adopted: PID's own exit status, 128+SIGNAL if a signal killed it;\n"
               "       0 if PID left this terminal and runs on; 76 if it exited and its\n"
               "       status cannot be known (reaped before reptyrctl looked, Linux < 6.15)\n"
               "  64   invalid usage or argument     70   PID went away during adoption\n"
               "  65   no such process               71   PID is traced by someone else\n"
               "  66   PID has no terminal to move   72   permission denied\n"
               "  67   PID shares its group/session  73   other failure\n"
               "  68   PID has a seccomp filter      74   reptyrd helper unreachable\n"
               "  69   unsupported process           75   a password is needed but cannot\n"
               "                                          be asked for\n"
               "\n"
               "See the reptyrctl(1) man page for details.\n");
        return 0;
}

/* Says what is wrong with the command line; returns the exit code. */
static int usage_error(const char *what, const char *arg) {
        fprintf(stderr, "reptyrctl: %s '%s'; see reptyrctl --help\n", what, arg);
        return EXIT_USAGE;
}

/* Returns the option's value for "--name=value" / "--name value", "" for a
 * bare "--name" that takes none, or NULL if argv[*i] is not --name. *ret is
 * 0, or the exit code of a usage error. */
static const char *match_long(const char *name, bool has_value, int argc, char *argv[], int *i,
                              int *ret) {
        const char *a = argv[*i];
        size_t n = strlen(name);

        *ret = 0;
        if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
                return NULL;
        if (!has_value) {
                if (a[n] == '=')
                        *ret = usage_error("option takes no value:", a);
                return "";
        }
        if (a[n] == '=')
                return a + n + 1;
        if (*i + 1 >= argc) {
                *ret = usage_error("option needs a value:", a);
                return "";
        }
        return argv[++*i];
}

/* Options may come anywhere, as with systemd's tools. Hand-parsed rather than
 * with getopt_long(): getopt would take "-5" for an option, while it is a
 * (negative, invalid) PID that engine_parse_pid() must report as such.
 * Collects the non-option arguments into args. Returns 0 or the exit code of
 * a usage error; *done is set when help or the version was printed, and
 * there is nothing more to do. */
static int parse_argv(int argc, char *argv[], char **args, int *n_args, bool *done) {
        bool only_args = false;

        *n_args = 0;
        *done = false;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v;
                int r;

                if (only_args || a[0] != '-' || a[1] == '\0' || isdigit((unsigned char)a[1])) {
                        args[(*n_args)++] = argv[i];
                        continue;
                }
                if (streq(a, "--")) {
                        only_args = true;
                        continue;
                }
                if (a[1] != '-') {
                        for (const char *c = a + 1; *c; c++) {
                                switch (*c) {
                                case 'h':
                                        *done = true;
                                        return help();
                                case 'q':
                                        arg_quiet = true;
                                        break;
                                default:
                                        return usage_error("unknown option", (char[]){'-', *c, 0});
                                }
                        }
                        continue;
                }

                if ((v = match_long("--help", false, argc, argv, &i, &r))) {
                        if (r != 0)
                                return r;
                        *done = true;
                        return help();
                } else if ((v = match_long("--version", false, argc, argv, &i, &r))) {
                        if (r != 0)
                                return r;
                        printf("reptyrctl %s\n", REPTYR_VERSION);
                        *done = true;
                        return 0;
                } else if ((v = match_long("--direct", false, argc, argv, &i, &r))) {
                        arg_direct = true;
                } else if ((v = match_long("--dry-run", false, argc, argv, &i, &r))) {
                        arg_dry_run = true;
                } else if ((v = match_long("--force", false, argc, argv, &i, &r))) {
                        arg_force = true;
                } else if ((v = match_long("--session", false, argc, argv, &i, &r))) {
                        arg_session = true;
                } else if ((v = match_long("--json", false, argc, argv, &i, &r))) {
                        arg_json = true;
                } else if ((v = match_long("--all", false, argc, argv, &i, &r))) {
                        arg_all = true;
                } else if ((v = match_long("--quiet", false, argc, argv, &i, &r))) {
                        arg_quiet = true;
                } else if ((v = match_long("--no-ask-password", false, argc, argv, &i, &r))) {
                        arg_ask_password = false;
                } else if ((v = match_long("--stdio", false, argc, argv, &i, &r))) {
                        arg_stdio = true;
                } else if (streq(a, "--tmux") || strncmp(a, "--tmux=", 7) == 0) {
                        arg_tmux = true;
                        arg_tmux_session = a[6] == '=' ? a + 7 : NULL;
                        if (arg_tmux_session && !*arg_tmux_session)
                                return usage_error("--tmux= needs a session name:", a);
                } else if ((v = match_long("--fds", true, argc, argv, &i, &r))) {
                        if (r != 0)
                                return r;
                        if (streq(v, "terminal"))
                                arg_fds = ENGINE_FDS_TERMINAL;
                        else if (streq(v, "stdio"))
                                arg_fds = ENGINE_FDS_STDIO;
                        else
                                return usage_error("--fds takes 'terminal' or 'stdio', not", v);
                } else {
                        return usage_error("unknown option", a);
                }
                if (r != 0)
                        return r;
        }
        return 0;
}

static int log_engine_error(const struct engine_error *err) {
        enum engine_error_kind kind = err->kind;

        /* A failure reported as ENGINE_OK is an engine bug; still fail. */
        if (kind <= ENGINE_OK || kind >= _ENGINE_ERR_MAX)
                kind = ENGINE_ERR_FAILED;
        if (err->message[0])
                fprintf(stderr, "reptyrctl: %s\n", err->message);
        else
                fprintf(stderr, "reptyrctl: %s: %s\n", engine_error_name(kind),
                        err->errnum ? strerror(err->errnum) : "adoption failed");
        return exit_code_of_engine_kind(kind);
}

static bool startswith_reptyr_error(const char *name) {
        static const char prefix[] = REPTYR_BUS_ERROR_PREFIX;
        return strncmp(name, prefix, sizeof(prefix) - 1) == 0;
}

static int log_helper_unreachable(pid_t pid, const char *why) {
        fprintf(stderr,
                "reptyrctl: the reptyrd helper is not installed or the system bus is not running "
                "(%s); as root, or where the kernel lets you ptrace %d, use --direct\n",
                why, (int)pid);
        return EXIT_HELPER_UNREACHABLE;
}

/* Why no polkit agent could ask for a password, and what to do about it. */
static void log_interactive_hint(pid_t pid, bool agent_ran) {
        if (agent_ran)
                return;
        if (!arg_ask_password)
                fprintf(stderr, "reptyrctl: run it without --no-ask-password to be asked for the "
                                "password\n");
        else if (!isatty(STDIN_FILENO))
                fprintf(stderr,
                        "reptyrctl: run it from a terminal to be asked for the password, or ask "
                        "an administrator for a polkit rule that allows it\n");
        else
                fprintf(stderr,
                        "reptyrctl: install polkit's text agent (%s) to be asked for the "
                        "password here, or run it as an administrator (sudo reptyrctl adopt %d)\n",
                        POLKIT_AGENT_PATH, (int)pid);
}

/* A failed call to the helper: r and, when the bus or the helper answered
 * with an error, its name and message. The helper's messages say what to
 * do next and are shown as they are. */
static int log_bus_error(int r, const struct bus_failure *e, pid_t pid, bool agent_ran) {
        const char *message = e->message[0] ? e->message : e->name;
        int code;

        if (!e->name[0]) {
                fprintf(stderr, "reptyrctl: calling the reptyrd helper about %d failed: %s\n",
                        (int)pid, strerror(-r));
                return EXIT_FAILED;
        }
        code = exit_code_of_bus_error(e->name);
        switch (code) {
        case EXIT_HELPER_UNREACHABLE:
                return log_helper_unreachable(pid, message);
        case EXIT_INTERACTIVE_AUTH:
                fprintf(stderr, "reptyrctl: %s\n", message);
                log_interactive_hint(pid, agent_ran);
                return code;
        case EXIT_FAILED:
                /* Not one of the helper's own errors: name it, it is all
                 * we know (a timeout, a helper that crashed, ...). */
                if (!startswith_reptyr_error(e->name)) {
                        fprintf(stderr,
                                "reptyrctl: calling the reptyrd helper about %d failed: %s (%s)\n",
                                (int)pid, message, e->name);
                        return code;
                }
                break;
        }
        fprintf(stderr, "reptyrctl: %s\n", message);
        return code;
}

/* Only for messages: the engine holds the pidfd, so the name belongs to PID. */
static void read_comm(pid_t pid, char *buf, size_t size) {
        char path[64];
        _cleanup_close_ int fd = -1;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd < 0 ? -1 : read(fd, buf, size - 1);
        if (n <= 0) {
                snprintf(buf, size, "?");
                return;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
}

static void print_dry_run(const struct engine_inspection *in, const char *comm) {
        printf("PID %d (%s) can be adopted: its terminal %s would be replaced by a new one\n",
               (int)in->pid, comm, in->old_tty[0] ? in->old_tty : "(none)");
        printf("  fds:");
        for (size_t i = 0; i < in->n_fds && i < ENGINE_MAX_FDS; i++)
                printf(" %d", in->fds[i]);
        printf("\n");
        if (in->threads > 0)
                printf("  threads: %u\n", in->threads);
        if (in->personality)
                printf("  personality: %s\n", in->personality);
        if (in->leader)
                printf("  leads its session\n");
        if (in->was_stopped)
                printf("  stopped (would stay stopped)\n");
}

/* A dry run's answer as an adoption's reply carries it (the helper's, or a
 * session-mode dry run): what it says of the inspection. */
static void print_dry_run_result(const struct engine_result *res, const char *comm) {
        struct engine_inspection in = {
                .pid = res->pid,
                .n_fds = res->n_replaced < ENGINE_MAX_FDS ? res->n_replaced : ENGINE_MAX_FDS,
                .leader = res->was_leader,
                .was_stopped = res->was_stopped,
                .threads = res->threads,
                .personality = res->personality,
        };

        snprintf(in.old_tty, sizeof(in.old_tty), "%s", res->old_tty);
        memcpy(in.fds, res->replaced_fds, in.n_fds * sizeof(int));
        print_dry_run(&in, comm);
}

/* adopt --dry-run --direct in process mode: the engine's inspection, in a
 * worker process as an adoption would run. */
static int dry_run_direct(int pidfd, const char *comm) {
        struct engine_options opts = {.fds = arg_fds, .force = arg_force};
        _cleanup_free_ struct engine_outcome *o = malloc(sizeof(*o));

        if (!o) {
                fprintf(stderr, "reptyrctl: out of memory\n");
                return EXIT_FAILED;
        }
        if (engine_run_isolated(ENGINE_JOB_INSPECT, pidfd, &opts, NULL, DIRECT_TIMEOUT_MS, o) < 0)
                return log_engine_error(&o->err);
        print_dry_run(&o->inspection, comm);
        return 0;
}

/* Exit with the target's status; the numbers are those of a shell. */
static int report_exit(pid_t pid, const char *comm, const struct relay_exit *ex) {
        if (ex->end == RELAY_TAKEN_OVER) {
                if (!arg_quiet)
                        fprintf(stderr,
                                "reptyrctl: the session of %d (%s) was taken over by another "
                                "terminal (reptyrctl adopt --session); it goes on there\n",
                                (int)pid, comm);
                return 0;
        }
        if (ex->end == RELAY_TERMINAL_CLOSED) {
                if (!arg_quiet)
                        fprintf(stderr,
                                "reptyrctl: %d (%s) closed this terminal and keeps running "
                                "without it\n",
                                (int)pid, comm);
                return 0;
        }
        if (ex->status == EXIT_STATUS_UNKNOWN || ex->status == EXIT_STATUS_HIDDEN) {
                /* Never 0: a failed job must not look like success. */
                fprintf(stderr,
                        "reptyrctl: %d (%s) exited; its exit status is unknown (%s, and this "
                        "kernel keeps no copy for reptyrctl: Linux 6.15 does); exiting with "
                        "%d\n",
                        (int)pid, comm,
                        ex->status == EXIT_STATUS_HIDDEN
                                ? "it is another user's process, whose status the kernel shows "
                                  "only to whoever may trace it"
                                : "its parent collected it before reptyrctl could read it",
                        EXIT_STATUS_UNKNOWN_CODE);
                return EXIT_STATUS_UNKNOWN_CODE;
        }

        if (WIFSIGNALED(ex->wait_status)) {
                int sig = WTERMSIG(ex->wait_status);
                const char *name = sigabbrev_np(sig);
                if (!arg_quiet)
                        fprintf(stderr, "reptyrctl: %d (%s) was killed by SIG%s\n", (int)pid, comm,
                                name ? name : "?");
                return 128 + sig;
        }
        if (!arg_quiet && WEXITSTATUS(ex->wait_status) != 0)
                fprintf(stderr, "reptyrctl: %d (%s) exited with status %d\n", (int)pid, comm,
                        WEXITSTATUS(ex->wait_status));
        return WEXITSTATUS(ex->wait_status);
}

/* Returns 0, or EXIT_USAGE once it has said what is wrong. */
static int parse_pid_arg(const char *pid_arg, pid_t *pid) {
        if (engine_parse_pid(pid_arg, pid) < 0) {
                fprintf(stderr,
                        "reptyrctl: invalid PID '%s': give the decimal process ID (greater than "
                        "1) of the process to adopt, e.g. from pgrep NAME\n",
                        pid_arg);
                return EXIT_USAGE;
        }
        return 0;
}

static int connect_helper(pid_t pid, struct bus_connection **ret) {
        char why[128];
        int r;

        if (!bus_available())
                return log_helper_unreachable(
                        pid, "this reptyrctl was built without D-Bus support (libsystemd)");
        r = bus_connect(ret);
        if (r < 0) {
                snprintf(why, sizeof(why), "cannot connect to the system bus: %s", strerror(-r));
                return log_helper_unreachable(pid, why);
        }
        return 0;
}

static void start_hangup_guardian(int pidfd, const struct engine_hangup_guard *g);

/* The engine in this process. Returns 0 or an exit code; on success
 * *master is the new terminal's master (-1 for a dry run). */
static int adopt_direct(int pidfd, unsigned short rows, unsigned short cols,
                        struct engine_result *res, int *master) {
        struct engine_options opts = {.mode = arg_session ? ENGINE_MODE_SESSION
                                                          : ENGINE_MODE_PROCESS,
                                      .fds = arg_fds,
                                      .rows = rows,
                                      .cols = cols,
                                      .dry_run = arg_dry_run,
                                      .force = arg_force};
        _cleanup_free_ struct engine_outcome *o = NULL;
        int r;

        /* ^C or ^Z while the target is frozen under ptrace must not kill or
         * stop us half-way: those signals queue until the relay runs. */
        r = relay_block_signals();
        if (r < 0) {
                fprintf(stderr, "reptyrctl: cannot block signals: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        /* In a worker process of ours: a thread of the target that never
         * stops (vfork, an uninterruptible wait) stays seized by whoever
         * seized it until that one exits, and we go on to relay. */
        o = malloc(sizeof(*o));
        if (!o) {
                fprintf(stderr, "reptyrctl: out of memory\n");
                return EXIT_FAILED;
        }
        if (engine_run_isolated(ENGINE_JOB_ADOPT, pidfd, &opts, NULL, DIRECT_TIMEOUT_MS, o) < 0)
                return log_engine_error(&o->err);
        *res = o->res;
        if (!arg_dry_run)
                start_hangup_guardian(pidfd, &res->hangup);
        *master = res->master_fd;
        return 0;
}

/* adopt --direct of a shell job: the job ignores SIGHUP until its old
 * session is gone (see engine.h, engine_hangup_guard). A small process of
 * our own waits for the old shell and session leader to exit, then gives
 * the job its own SIGHUP action back, and ends; it ends as well when the
 * job does. It holds nothing else: not our terminal, not the new master. */
static void start_hangup_guardian(int pidfd, const struct engine_hangup_guard *g) {
        int watch[ENGINE_HANGUP_MAX_WATCH];
        size_t n = 0;
        pid_t child;

        if (!g->armed)
                return;
        child = fork();
        if (child != 0)
                return; /* on failure the job keeps ignoring SIGHUP: safe */
        {
                struct pollfd p[ENGINE_HANGUP_MAX_WATCH + 1];
                struct engine_options opts = {0};
                struct engine_outcome *o;
                size_t running;
                int null = open("/dev/null", O_RDWR | O_CLOEXEC), target;

                if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(1);
                target = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
                /* Nothing of ours but the job's pidfd: the master above all,
                 * or the new terminal would never hang up. */
                if (target < 0 || dup2(target, 3) < 0)
                        _exit(1);
                (void)syscall(SYS_close_range, 4U, ~0U, 0U);
                (void)setsid();
                (void)engine_hangup_watch(g, watch, &n);
                for (size_t i = 0; i < n; i++)
                        p[i] = (struct pollfd){.fd = watch[i], .events = POLLIN};
                p[n] = (struct pollfd){.fd = 3, .events = POLLIN};
                for (running = n; running > 0;) {
                        if (poll(p, n + 1, -1) < 0) {
                                if (errno == EINTR)
                                        continue;
                                _exit(1);
                        }
                        if (p[n].revents)
                                _exit(0); /* the job ended */
                        for (size_t i = 0; i < n; i++)
                                if (p[i].revents && p[i].fd >= 0) {
                                        p[i].fd = -1;
                                        running--;
                                }
                }
                o = malloc(sizeof(*o));
                _exit(o && engine_run_isolated(ENGINE_JOB_HANGUP_RELEASE, 3, &opts, g,
                                               DIRECT_TIMEOUT_MS, o) == 0
                              ? 0
                              : 1);
        }
}

/* The signals that end reptyrctl (the relay's fatal ones). While it waits
 * for the helper they are blocked and watched through a signalfd, so that
 * it can stop the polkit agent and restore the terminal before it goes. */
static int watch_fatal_signals(void) {
        sigset_t set;
        int fd;

        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGQUIT);
        sigaddset(&set, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

/* Die by the signal queued on signal_fd, the way its sender meant. */
static _Noreturn void die_by_queued_signal(int signal_fd) {
        struct signalfd_siginfo si;
        int sig = read(signal_fd, &si, sizeof(si)) == sizeof(si) ? (int)si.ssi_signo : SIGINT;
        sigset_t set;

        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        raise(sig);
        (void)sigprocmask(SIG_UNBLOCK, &set, NULL);
        _exit(128 + sig);
}

/* The reptyrd helper over the system bus. Same contract as adopt_direct();
 * res->personality points into *ad. */
static int adopt_via_helper(pid_t pid, int pidfd, unsigned short rows, unsigned short cols,
                            struct bus_adoption *ad, struct engine_result *res, int *master) {
        _cleanup_(bus_disconnectp) struct bus_connection *bus = NULL;
        _cleanup_close_ int signal_fd = -1;
        struct bus_failure failure;
        struct bus_adopt_request req = {
                .pidfd = pidfd,
                .mode = arg_session ? "session" : NULL,
                .fds = arg_fds == ENGINE_FDS_STDIO ? "stdio" : "terminal",
                .rows = rows,
                .cols = cols,
                .dry_run = arg_dry_run,
                .force = arg_force,
                .interactive = arg_ask_password,
                .interrupt_fd = -1,
        };
        struct termios modes;
        bool have_modes = false;
        pid_t agent = 0;
        int r, k;

        r = connect_helper(pid, &bus);
        if (r != 0)
                return r;
        /* As systemd's tools do: root needs no agent (polkit asks root
         * nothing), and an agent needs a terminal to ask on. The agent
         * turns echo off for the password and should turn it back on when
         * it is stopped, but a ^C in the middle of the prompt can beat it:
         * keep our own copy of the terminal's modes. */
        if (arg_ask_password && geteuid() != 0 && isatty(STDIN_FILENO) &&
            polkit_agent_available()) {
                have_modes = tcgetattr(STDIN_FILENO, &modes) == 0;
                agent = polkit_agent_open();
        }
        signal_fd = watch_fatal_signals();
        if (signal_fd < 0) {
                polkit_agent_close(agent);
                fprintf(stderr, "reptyrctl: cannot watch signals: %s\n", strerror(-signal_fd));
                return EXIT_FAILED;
        }
        req.interrupt_fd = signal_fd;
        r = bus_adopt(bus, &req, ad, &failure);
        /* From here on ^C and ^Z queue for the relay: the target is ours. */
        k = r < 0 ? 0 : relay_block_signals();
        polkit_agent_close(agent);
        if (agent > 0 && have_modes && tcgetpgrp(STDIN_FILENO) == getpgrp())
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &modes);
        /* ^C while waiting (for a password, say): going away is how we
         * cancel; the helper leaves the target as it was when its caller
         * disconnects before the answer. */
        if (r == -EINTR)
                die_by_queued_signal(signal_fd);
        if (r < 0)
                return log_bus_error(r, &failure, pid, agent > 0);
        if (k < 0) {
                closep(&ad->master_fd);
                fprintf(stderr, "reptyrctl: cannot block signals: %s; %d got a hangup\n",
                        strerror(-k), (int)pid);
                return EXIT_FAILED;
        }

        *res = (struct engine_result){
                .master_fd = -1,
                .pid = pid,
                .n_replaced = ad->n_replaced,
                .was_stopped = ad->was_stopped,
                .personality = ad->personality[0] ? ad->personality : NULL,
        };
        snprintf(res->tty, sizeof(res->tty), "%s", ad->tty);
        snprintf(res->old_tty, sizeof(res->old_tty), "%s", ad->old_tty);
        memcpy(res->replaced_fds, ad->replaced_fds, ad->n_replaced * sizeof(int));
        if (arg_dry_run)
                closep(&ad->master_fd); /* a placeholder, not a terminal */
        else
                *master = ad->master_fd;
        return 0;
}

/* Whether the "moved here" banner can be shown without landing inside the
 * adopted program's screen. Printed here, it comes before raw mode and
 * before any byte of the program's output. On another file than the
 * terminal we relay to (stderr redirected) it cannot disturb anything. On
 * that terminal it is only safe in front of a program in canonical mode
 * (a build, a script, a `read`): its output just goes on below the banner.
 * With canonical mode off the program reads key by key, as editors,
 * pagers, top/htop and line editors do, and may draw a screen of its own:
 * after adoption it redraws only what it believes changed (its picture of
 * the screen is the old terminal's), so a banner would stay inside its
 * screen. Then it is left out; ^Z and fg work the same without it.
 * Session mode keeps its message: what sits in a session's foreground is
 * mostly its shell, at a prompt (not in canonical mode either, but with no
 * screen to disturb), and the message says where the session went. */
static bool banner_wanted(int master_fd) {
        struct stat err, in;
        struct termios t;

        if (!isatty(STDERR_FILENO) || fstat(STDERR_FILENO, &err) < 0 ||
            fstat(STDIN_FILENO, &in) < 0 || err.st_rdev != in.st_rdev)
                return true;
        return tcgetattr(master_fd, &t) == 0 && (t.c_lflag & ICANON);
}

/* The adopted terminal, relayed here until the target (in session mode:
 * the session's leader) exits. pidfd and proc_dirfd may be replaced (the
 * leader's); the caller closes what they are on return. */
static int relay_adopted(pid_t pid, const char *comm, int *pidfd_io, int *proc_dirfd_io,
                         int master_fd, const struct handover_info *res) {
        int pidfd = *pidfd_io, proc_dirfd = *proc_dirfd_io, r;
        struct relay_exit ex;

        if (!arg_quiet && arg_session)
                fprintf(stderr,
                        "reptyrctl: the session of %d (%s) on %s is now on this terminal; its "
                        "shell does job control; end the session to return.\n",
                        (int)pid, comm, res->tty);
        else if (!arg_quiet && banner_wanted(master_fd))
                fprintf(stderr,
                        "reptyrctl: %d (%s) moved here from %s; ^Z suspends it, exit it to "
                        "return.\n",
                        (int)pid, comm, res->old_tty[0] ? res->old_tty : "no terminal");
        /* Shown even with --quiet: without it the terminal just looks dead. */
        if (res->was_stopped)
                fprintf(stderr,
                        "reptyrctl: %d (%s) was stopped and stays stopped; continue it with "
                        "^Z then fg, or kill -CONT %d.\n",
                        (int)pid, comm, (int)pid);

        if (arg_session) {
                /* The session lives as long as its leader (the shell): that
                 * is whose end ends us, and whose status we pass on. */
                pid_t leader = getsid(pid);
                struct engine_error lerr;
                int lfd = -1;
                if (leader > 0 && engine_pidfd_open(leader, &lfd, &lerr) == 0) {
                        close(pidfd);
                        pidfd = *pidfd_io = lfd;
                        pid = leader;
                        if (proc_dirfd >= 0)
                                close(proc_dirfd);
                        *proc_dirfd_io = -1;
                        if (proc_open(pidfd, pid, &proc_dirfd) < 0)
                                proc_dirfd = -1;
                        *proc_dirfd_io = proc_dirfd;
                }
        }
        r = relay_run(master_fd, pidfd, proc_dirfd, !arg_session, &ex);
        if (r < 0) {
                fprintf(stderr,
                        "reptyrctl: relaying the terminal of %d (%s) failed: %s; %d got a "
                        "hangup\n",
                        (int)pid, comm, strerror(-r), (int)pid);
                return EXIT_FAILED;
        }
        return report_exit(pid, comm, &ex);
}

static struct handover_info handover_info_of(pid_t pid, const char *comm,
                                             const struct engine_result *res) {
        struct handover_info info = {
                .pid = (int32_t)pid, .session = arg_session, .was_stopped = res->was_stopped};

        snprintf(info.comm, sizeof(info.comm), "%s", comm);
        snprintf(info.tty, sizeof(info.tty), "%s", res->tty);
        snprintf(info.old_tty, sizeof(info.old_tty), "%s", res->old_tty);
        return info;
}

/* adopt --tmux, before the target is touched: a new tmux window whose
 * reptyrctl waits for the terminal we are about to adopt. */
static int start_tmux_receiver(pid_t pid, struct handover_listener *l, int *ret_conn) {
        char self[PATH_MAX], name[32], fallback[48], why[256];
        ssize_t n;
        int r;

        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
                fprintf(stderr, "reptyrctl: cannot find its own program: %m\n");
                return EXIT_FAILED;
        }
        self[n] = '\0';
        r = handover_listen(l);
        if (r < 0) {
                fprintf(stderr, "reptyrctl: cannot make a socket for tmux: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        snprintf(name, sizeof(name), "adopted-%d", (int)pid);
        snprintf(fallback, sizeof(fallback), "reptyr-%d", (int)pid);
        char *cmd[] = {self, "handover-receive", l->path, arg_quiet ? "-q" : NULL, NULL};
        r = tmux_start_window(arg_tmux_session, fallback, name, cmd, &tmux_win, why, sizeof(why));
        if (r < 0) {
                fprintf(stderr, "reptyrctl: %s; %d was not touched\n", why, (int)pid);
                handover_close(l);
                return EXIT_FAILED;
        }
        /* It connects as soon as it runs; tmux starts it at once. */
        *ret_conn = handover_accept(l, TMUX_RECEIVER_TIMEOUT_MS);
        if (*ret_conn < 0) {
                fprintf(stderr,
                        "reptyrctl: the reptyrctl in tmux window %s did not answer (%s); %d was "
                        "not touched\n",
                        tmux_win.target, strerror(-*ret_conn), (int)pid);
                handover_close(l);
                return EXIT_FAILED;
        }
        return 0;
}

/* adopt --tmux, once adopted: the terminal goes to the window's reptyrctl.
 * Should that fail, it is relayed here rather than hung up. */
static int hand_to_tmux(pid_t pid, const char *comm, const struct handover_info *info, int pidfd,
                        int master_fd, struct handover_listener *l, int conn) {
        int r = handover_send(conn, info, pidfd, master_fd, TMUX_RECEIVER_TIMEOUT_MS);

        close(conn);
        handover_close(l);
        if (r < 0) {
                _cleanup_close_ int own_pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3), dirfd = -1;

                fprintf(stderr,
                        "reptyrctl: handing %d (%s) to tmux window %s failed (%s); it stays "
                        "here\n",
                        (int)pid, comm, tmux_win.target, strerror(-r));
                if (!isatty(STDIN_FILENO) || own_pidfd < 0)
                        return EXIT_FAILED;
                if (proc_open(own_pidfd, pid, &dirfd) < 0)
                        dirfd = -1;
                return relay_adopted(pid, comm, &own_pidfd, &dirfd, master_fd, info);
        }
        if (!arg_quiet) {
                if (tmux_win.detached || !getenv("TMUX"))
                        printf("%d (%s) is now in tmux window %s; attach with: tmux attach -t "
                               "%s\n",
                               (int)pid, comm, tmux_win.target, tmux_win.session);
                else
                        printf("%d (%s) is now in tmux window %s\n", (int)pid, comm,
                               tmux_win.target);
        }
        return 0;
}

/* The reptyrctl that adopt --tmux starts in a new tmux window: waits for
 * the adopted terminal and relays it in that window. */
static int verb_handover_receive(char *path) {
        _cleanup_close_ int pidfd = -1, master_fd = -1, proc_dirfd = -1;
        struct handover_info info;
        int r;

        r = relay_block_signals();
        if (r >= 0)
                r = handover_receive(path, &info, &pidfd, &master_fd);
        if (r == -EPIPE)
                return EXIT_FAILED; /* adoption refused or cancelled: said there */
        if (r < 0) {
                fprintf(stderr, "reptyrctl: receiving the adopted terminal failed: %s\n",
                        strerror(-r));
                return EXIT_FAILED;
        }
        arg_session = info.session;
        if (proc_open(pidfd, info.pid, &proc_dirfd) < 0)
                proc_dirfd = -1;
        return relay_adopted(info.pid, info.comm, &pidfd, &proc_dirfd, master_fd, &info);
}

static int verb_adopt(char *pid_arg) {
        struct engine_result res = {.master_fd = -1};
        struct engine_error err = {0};
        struct bus_adoption ad = {.master_fd = -1};
        _cleanup_close_ int pidfd = -1, master_fd = -1, proc_dirfd = -1, tmux_conn = -1;
        struct handover_listener listener = {.fd = -1};
        struct handover_info info;
        unsigned short rows = 0, cols = 0;
        struct winsize ws;
        char comm[64];
        bool tty = isatty(STDIN_FILENO);
        pid_t pid;
        int r;

        r = parse_pid_arg(pid_arg, &pid);
        if (r != 0)
                return r;
        /* The helper cannot know our ancestry: check before asking it. */
        if (engine_is_self_or_ancestor(pid)) {
                fprintf(stderr,
                        "reptyrctl: %d is reptyrctl itself or one of its ancestors (the shell you "
                        "typed in?); run reptyrctl from another terminal\n",
                        (int)pid);
                return EXIT_USAGE;
        }
        if (arg_session && getsid(pid) > 0 && getsid(pid) == getsid(0)) {
                fprintf(stderr,
                        "reptyrctl: %d is in the session you are typing in; taking that over "
                        "would only move it onto itself; run reptyrctl from another terminal\n",
                        (int)pid);
                return EXIT_USAGE;
        }
        if (arg_tmux && arg_dry_run) {
                fprintf(stderr, "reptyrctl: --tmux and --dry-run do not go together\n");
                return EXIT_USAGE;
        }
        /* Refuse before the target is touched: after adoption there would be
         * no terminal to hand it, and it would get a hangup. (With --tmux the
         * terminal is tmux's, started below.) */
        if (!arg_dry_run && !arg_tmux) {
                if (!tty) {
                        fprintf(stderr,
                                "reptyrctl: stdin is not a terminal; run reptyrctl adopt from "
                                "the terminal you want %d on\n",
                                (int)pid);
                        return EXIT_USAGE;
                }
                if (tcgetpgrp(STDIN_FILENO) != getpgrp()) {
                        fprintf(stderr,
                                "reptyrctl: not in the foreground of this terminal; run "
                                "reptyrctl adopt %d as a foreground command\n",
                                (int)pid);
                        return EXIT_USAGE;
                }
        }

        if (engine_pidfd_open(pid, &pidfd, &err) < 0)
                return log_engine_error(&err);
        /* Pinned next to the pidfd: where its exit status is read while it
         * is a zombie. Best effort: without it the status comes from the
         * pidfd, on kernels that keep it. */
        if (proc_open(pidfd, pid, &proc_dirfd) < 0)
                proc_dirfd = -1;
        read_comm(pid, comm, sizeof comm);

        if (tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                rows = ws.ws_row;
                cols = ws.ws_col;
        }

        if (arg_tmux) {
                /* The window's own size is forwarded once it relays. */
                rows = cols = 0;
                r = start_tmux_receiver(pid, &listener, &tmux_conn);
                if (r != 0)
                        return r;
        }
        if (arg_dry_run && arg_direct && !arg_session)
                return dry_run_direct(pidfd, comm);
        r = arg_direct ? adopt_direct(pidfd, rows, cols, &res, &master_fd)
                       : adopt_via_helper(pid, pidfd, rows, cols, &ad, &res, &master_fd);
        if (r != 0) {
                /* The window's reptyrctl sees end-of-file and ends. */
                handover_close(&listener);
                return r;
        }

        if (arg_dry_run) {
                print_dry_run_result(&res, comm);
                return 0;
        }
        if (master_fd < 0) {
                fprintf(stderr, "reptyrctl: %s adopted %d but returned no terminal\n",
                        arg_direct ? "the engine" : "the reptyrd helper", (int)pid);
                return EXIT_FAILED;
        }

        info = handover_info_of(pid, comm, &res);
        if (arg_tmux)
                return hand_to_tmux(pid, comm, &info, pidfd, master_fd, &listener,
                                    TAKE_FD(tmux_conn));
        return relay_adopted(pid, comm, &pidfd, &proc_dirfd, master_fd, &info);
}

/* Whether the kernel would let us ptrace-attach to the target, found out
 * without touching it: opening /proc/PID/mem takes the same check
 * (PTRACE_MODE_ATTACH, Yama included). */
static int check_ptrace_allowed(pid_t pid, char *reason, size_t size) {
        char path[32];
        _cleanup_close_ int fd = -1;

        snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || (errno != EACCES && errno != EPERM))
                return 0;
        snprintf(reason, size,
                 "the kernel does not let you ptrace %d (another user's process, a protected "
                 "one, or Yama's ptrace_scope); inspect it without --direct to ask the reptyrd "
                 "helper",
                 (int)pid);
        return -EPERM;
}

/* What `adopt --direct` would do, from the engine's inspection in this
 * process (nothing is touched). Refusals of the adoption are part of the
 * answer (authorized "no"); only a target that cannot be inspected at all
 * is an error. */
static int inspect_direct(pid_t pid, int pidfd, struct target_info *info) {
        struct engine_options opts = {.fds = arg_fds};
        struct engine_inspection in;
        struct engine_target target;
        struct engine_error err = {0};
        int r;

        if (engine_identify(pidfd, &target, &err) < 0)
                return log_engine_error(&err);
        info->pid = (uint32_t)pid;
        info->uid = (uint32_t)target.uid[0];
        snprintf(info->comm, sizeof(info->comm), "%s", target.comm);
        snprintf(info->exe, sizeof(info->exe), "%s", target.exe);
        snprintf(info->mode, sizeof(info->mode), "process");
        snprintf(info->authorized, sizeof(info->authorized), "direct");

        r = engine_inspect(pidfd, &opts, &in, &err);
        /* What the engine found before it stopped, also when it refuses. */
        snprintf(info->personality, sizeof(info->personality), "%s",
                 in.personality ? in.personality : "");
        if (r < 0) {
                switch (err.kind) {
                case ENGINE_ERR_NO_SUCH_PROCESS:
                case ENGINE_ERR_TARGET_GONE:
                case ENGINE_ERR_FAILED:
                case ENGINE_OK:
                case _ENGINE_ERR_MAX:
                        return log_engine_error(&err);
                default:
                        snprintf(info->authorized, sizeof(info->authorized), "no");
                        snprintf(info->reason, sizeof(info->reason), "%s",
                                 err.message[0] ? err.message : engine_error_name(err.kind));
                        return 0;
                }
        }
        snprintf(info->tty, sizeof(info->tty), "%s", in.old_tty);
        info->n_fds = in.n_fds < ENGINE_MAX_FDS ? in.n_fds : ENGINE_MAX_FDS;
        memcpy(info->fds, in.fds, info->n_fds * sizeof(int));
        if (check_ptrace_allowed(pid, info->reason, sizeof(info->reason)) < 0)
                snprintf(info->authorized, sizeof(info->authorized), "no");
        return 0;
}

static int inspect_via_helper(pid_t pid, int pidfd, struct target_info *info) {
        _cleanup_(bus_disconnectp) struct bus_connection *bus = NULL;
        struct bus_failure failure;
        int r;

        r = connect_helper(pid, &bus);
        if (r != 0)
                return r;
        r = bus_inspect(bus, pidfd, info, &failure);
        if (r < 0)
                return log_bus_error(r, &failure, pid, false);
        return 0;
}

static int verb_inspect(char *pid_arg) {
        struct target_info info = {0};
        struct engine_error err = {0};
        _cleanup_close_ int pidfd = -1;
        pid_t pid;
        int r;

        r = parse_pid_arg(pid_arg, &pid);
        if (r != 0)
                return r;
        if (engine_pidfd_open(pid, &pidfd, &err) < 0)
                return log_engine_error(&err);
        r = arg_direct ? inspect_direct(pid, pidfd, &info) : inspect_via_helper(pid, pidfd, &info);
        if (r != 0)
                return r;
        if (arg_json)
                target_info_print_json(&info, stdout);
        else
                target_info_print_text(&info, stdout);
        return fflush(stdout) == 0 ? 0 : EXIT_FAILED;
}

/* The command of `pty`, in the child: REPTYR_PTY names the new terminal;
 * with --stdio, it runs in a session of its own with that terminal as its
 * controlling terminal and stdio. Never returns. */
static _Noreturn void exec_on_pty(char **cmd, const char *slave_name) {
        sigset_t none;

        /* Signals the relay blocked are the command's own business. */
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        if (setenv("REPTYR_PTY", slave_name, 1) < 0)
                _exit(127);
        if (arg_stdio) {
                int fd;
                if (setsid() < 0)
                        _exit(127);
                /* A session leader without a terminal opening one without
                 * O_NOCTTY makes it its controlling terminal. */
                fd = open(slave_name, O_RDWR);
                if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(127);
                if (fd > 2)
                        close(fd);
        }
        execvp(cmd[0], cmd);
        fprintf(stderr, "reptyrctl: cannot run %s: %m\n", cmd[0]);
        _exit(127);
}

/* reptyrctl pty [--stdio] [-- COMMAND...]: a new pseudo-terminal, its name
 * printed, relayed here (as the classic reptyr -l / -L). */
static int verb_pty(char **cmd, int n_cmd) {
        _cleanup_close_ int master = -1, pidfd = -1, proc_dirfd = -1;
        char name[64];
        struct termios tio;
        struct winsize ws;
        struct relay_exit ex;
        pid_t child = 0;
        int r;

        if (!isatty(STDIN_FILENO)) {
                fprintf(stderr, "reptyrctl: stdin is not a terminal; run reptyrctl pty from the "
                                "terminal to relay it to\n");
                return EXIT_USAGE;
        }
        if (arg_stdio && n_cmd == 0) {
                fprintf(stderr, "reptyrctl: pty --stdio needs a command to run on the new "
                                "terminal (reptyrctl pty --stdio -- COMMAND...)\n");
                return EXIT_USAGE;
        }
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
            ptsname_r(master, name, sizeof(name)) != 0) {
                fprintf(stderr, "reptyrctl: cannot create a pseudo-terminal: %m\n");
                return EXIT_FAILED;
        }
        /* Our terminal's modes and size, as a new terminal window would. */
        if (tcgetattr(STDIN_FILENO, &tio) == 0)
                (void)tcsetattr(master, TCSANOW, &tio);
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                (void)ioctl(master, TIOCSWINSZ, &ws);
        printf("%s\n", name);
        fflush(stdout);
        r = relay_block_signals();
        if (r < 0) {
                fprintf(stderr, "reptyrctl: cannot block signals: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        if (n_cmd > 0) {
                child = fork();
                if (child < 0) {
                        fprintf(stderr, "reptyrctl: cannot start %s: %m\n", cmd[0]);
                        return EXIT_FAILED;
                }
                if (child == 0)
                        exec_on_pty(cmd, name);
                pidfd = (int)syscall(SYS_pidfd_open, child, 0);
                if (pidfd < 0 || proc_open(pidfd, child, &proc_dirfd) < 0)
                        proc_dirfd = -1;
        }
        if (!arg_quiet)
                fprintf(stderr,
                        n_cmd > 0 ? "reptyrctl: %s (REPTYR_PTY) is relayed here until %s exits\n"
                                  : "reptyrctl: %s (REPTYR_PTY) is relayed here until the last "
                                    "program using it closes it\n",
                        name, n_cmd > 0 ? cmd[0] : "");
        r = relay_run(master, pidfd, proc_dirfd, false, &ex);
        if (r < 0) {
                fprintf(stderr, "reptyrctl: relaying %s failed: %s\n", name, strerror(-r));
                return EXIT_FAILED;
        }
        if (n_cmd == 0 || ex.end != RELAY_TARGET_EXITED)
                return 0;
        return report_exit(child, cmd[0], &ex);
}

/* What the process picker of reptyr-terminal shows, from the same code. */
static int verb_list(int n_extra) {
        struct proclist list;
        int r;

        if (n_extra > 0) {
                fprintf(stderr, "reptyrctl: list takes no PID; see reptyrctl --help\n");
                return EXIT_USAGE;
        }
        r = proclist_collect(arg_all ? PROCLIST_ALL : 0, &list);
        if (r < 0) {
                fprintf(stderr, "reptyrctl: cannot read /proc: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        if (arg_json)
                proclist_print_json(&list, stdout);
        else
                proclist_print_table(&list, stdout);
        proclist_free(&list);
        return fflush(stdout) == 0 ? 0 : EXIT_FAILED;
}

static const struct verb {
        const char *name;
        int n_args;
        int (*run)(char *arg);
} verbs[] = {
        {"adopt", 1, verb_adopt},
        {"inspect", 1, verb_inspect},
        /* Internal: the receiving end of adopt --tmux. */
        {"handover-receive", 1, verb_handover_receive},
};

int main(int argc, char *argv[]) {
        char *args[argc + 1];
        bool done;
        int n_args, r;

        r = parse_argv(argc, argv, args, &n_args, &done);
        if (r != 0 || done)
                return r;
        args[n_args] = NULL; /* pty's command line is an argv */
        if (n_args == 0) {
                fprintf(stderr, "reptyrctl: missing command; see reptyrctl --help\n");
                return EXIT_USAGE;
        }
        /* pty takes a command line, not a PID. */
        if (streq(args[0], "pty"))
                return verb_pty(args + 1, n_args - 1);
        if (streq(args[0], "list"))
                return verb_list(n_args - 1);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(args[0], verbs[i].name))
                        continue;
                if (n_args - 1 != verbs[i].n_args) {
                        fprintf(stderr, "reptyrctl: %s takes %s; see reptyrctl --help\n",
                                verbs[i].name, n_args == 1 ? "a PID" : "one PID only");
                        return EXIT_USAGE;
                }
                return verbs[i].run(args[1]);
        }
        fprintf(stderr, "reptyrctl: unknown command '%s'; see reptyrctl --help\n", args[0]);
        return EXIT_USAGE;
}
