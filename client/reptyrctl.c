/* SPDX-License-Identifier: MIT */
/*
 * reptyrctl: move a running process onto the terminal you are typing in.
 *
 *   reptyrctl [OPTIONS] adopt PID
 *
 * For now only --direct exists: the engine runs in this process and needs
 * ptrace rights over PID. A later change adds the reptyrd helper over D-Bus.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "engine.h"
#include "relay.h"
#include "util.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

#ifndef REPTYR_VERSION
#error "REPTYR_VERSION comes from the top-level meson.build"
#endif

/* Exit codes before the target is adopted (sysexits-like, from 64). Once it is
 * adopted, reptyrctl exits with the target's own status instead. */
enum {
        EXIT_USAGE = 64,
        EXIT_NO_SUCH_PROCESS = 65,
        EXIT_NOT_A_TERMINAL = 66,
        EXIT_HAS_CHILDREN = 67,
        EXIT_SECCOMP = 68,
        EXIT_UNSUPPORTED = 69,
        EXIT_TARGET_GONE = 70,
        EXIT_BUSY = 71,
        EXIT_PERMISSION = 72,
        EXIT_FAILED = 73,
        EXIT_HELPER_UNREACHABLE = 74,
};

/* One table from engine error kinds to exit codes; the D-Bus error names map
 * 1:1 onto the same kinds, so the helper path will reuse it. */
static const int exit_code_of_kind[] = {
        [ENGINE_OK] = 0,
        [ENGINE_ERR_INVALID] = EXIT_USAGE,
        [ENGINE_ERR_NO_SUCH_PROCESS] = EXIT_NO_SUCH_PROCESS,
        [ENGINE_ERR_NOT_A_TERMINAL] = EXIT_NOT_A_TERMINAL,
        [ENGINE_ERR_HAS_CHILDREN] = EXIT_HAS_CHILDREN,
        [ENGINE_ERR_SECCOMP] = EXIT_SECCOMP,
        [ENGINE_ERR_UNSUPPORTED] = EXIT_UNSUPPORTED,
        [ENGINE_ERR_TARGET_GONE] = EXIT_TARGET_GONE,
        [ENGINE_ERR_BUSY] = EXIT_BUSY,
        [ENGINE_ERR_PERMISSION] = EXIT_PERMISSION,
        [ENGINE_ERR_FAILED] = EXIT_FAILED,
};
_Static_assert(ELEMENTSOF(exit_code_of_kind) == _ENGINE_ERR_MAX,
               "every engine error kind needs an exit code");

static bool arg_direct;
static bool arg_dry_run;
static bool arg_quiet;
static bool arg_ask_password = true; /* for the helper's polkit check, later */
static enum engine_fds arg_fds = ENGINE_FDS_TERMINAL;

static int help(void) {
        printf("reptyrctl [OPTIONS...] COMMAND ...\n"
               "\n"
               "Move a running process onto this terminal.\n"
               "\n"
               "Commands:\n"
               "  adopt PID              Move PID onto this terminal and relay until it exits\n"
               "\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show package version\n"
               "     --direct            Adopt in this process with ptrace, without the\n"
               "                         reptyrd helper (as root, or where the kernel lets\n"
               "                         you ptrace PID)\n"
               "     --fds=terminal|stdio\n"
               "                         Move every fd open on PID's terminal (default), or\n"
               "                         only fds 0, 1 and 2\n"
               "     --dry-run           Check everything and print what would happen;\n"
               "                         change nothing\n"
               "  -q --quiet             Do not print informational messages\n"
               "     --no-ask-password   Do not ask for a password to authorize\n"
               "\n"
               "Exit status:\n"
               "  N    once adopted: PID's own exit status, 128+SIGNAL if a signal killed it;\n"
               "       0 if PID left this terminal or its status is unknown\n"
               "  64   invalid usage or argument     70   PID went away during adoption\n"
               "  65   no such process               71   PID is traced by someone else\n"
               "  66   PID has no terminal to move   72   permission denied\n"
               "  67   PID shares its group/session  73   other failure\n"
               "  68   PID has a seccomp filter      74   reptyrd helper unreachable\n"
               "  69   unsupported process\n"
               "\n"
               "See the reptyrctl(1) man page for details.\n");
        return 0;
}

static int usage_error(const char *what, const char *arg) {
        fprintf(stderr, "reptyrctl: %s '%s'; see reptyrctl --help\n", what, arg);
        return -EXIT_USAGE;
}

/* Returns the option's value for "--name=value" / "--name value", "" for a
 * bare "--name" that takes none, or NULL if argv[*i] is not --name. */
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
 * Collects the non-option arguments into args. Returns 0, 1 when help or the
 * version was printed, or minus an exit code. */
static int parse_argv(int argc, char *argv[], char **args, int *n_args) {
        bool only_args = false;

        *n_args = 0;
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
                                        return help() + 1;
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
                        return r < 0 ? r : help() + 1;
                } else if ((v = match_long("--version", false, argc, argv, &i, &r))) {
                        if (r < 0)
                                return r;
                        printf("reptyrctl %s\n", REPTYR_VERSION);
                        return 1;
                } else if ((v = match_long("--direct", false, argc, argv, &i, &r))) {
                        arg_direct = true;
                } else if ((v = match_long("--dry-run", false, argc, argv, &i, &r))) {
                        arg_dry_run = true;
                } else if ((v = match_long("--quiet", false, argc, argv, &i, &r))) {
                        arg_quiet = true;
                } else if ((v = match_long("--no-ask-password", false, argc, argv, &i, &r))) {
                        arg_ask_password = false;
                } else if ((v = match_long("--fds", true, argc, argv, &i, &r))) {
                        if (r < 0)
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
                if (r < 0)
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
        return exit_code_of_kind[kind];
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

static void print_dry_run(const struct engine_result *res, const char *comm) {
        printf("PID %d (%s) can be adopted: its terminal %s would be replaced by a new one\n",
               (int)res->pid, comm, res->old_tty[0] ? res->old_tty : "(none)");
        printf("  fds:");
        for (size_t i = 0; i < res->n_replaced && i < ENGINE_MAX_FDS; i++)
                printf(" %d", res->replaced_fds[i]);
        printf("\n");
        if (res->threads > 0)
                printf("  threads: %u\n", res->threads);
        if (res->personality)
                printf("  personality: %s\n", res->personality);
        if (res->was_leader)
                printf("  leads its session\n");
        if (res->was_stopped)
                printf("  stopped (would stay stopped)\n");
}

/* Exit with the target's status; the numbers are those of a shell. */
static int report_exit(pid_t pid, const char *comm, const struct relay_exit *ex) {
        if (ex->end == RELAY_TERMINAL_CLOSED) {
                if (!arg_quiet)
                        fprintf(stderr,
                                "reptyrctl: %d (%s) closed this terminal and keeps running "
                                "without it\n",
                                (int)pid, comm);
                return 0;
        }
        switch (ex->status) {
        case RELAY_STATUS_KNOWN:
                break;
        case RELAY_STATUS_UNSUPPORTED:
                fprintf(stderr,
                        "reptyrctl: %d exited; its exit status is unknown (needs Linux 6.15)\n",
                        (int)pid);
                return 0;
        case RELAY_STATUS_NOT_REAPED:
                fprintf(stderr,
                        "reptyrctl: %d exited; its exit status is unknown: its parent has not "
                        "collected it\n",
                        (int)pid);
                return 0;
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

static int verb_adopt(char *pid_arg) {
        struct engine_options opts = {.fds = arg_fds, .dry_run = arg_dry_run};
        struct engine_result res = {.master_fd = -1};
        struct engine_error err = {0};
        _cleanup_close_ int pidfd = -1, master_fd = -1;
        struct relay_exit ex;
        struct winsize ws;
        char comm[64];
        bool tty = isatty(STDIN_FILENO);
        pid_t pid;
        int r;

        if (engine_parse_pid(pid_arg, &pid) < 0) {
                fprintf(stderr,
                        "reptyrctl: invalid PID '%s': give the decimal process ID (greater than "
                        "1) of the process to adopt, e.g. from pgrep NAME\n",
                        pid_arg);
                return EXIT_USAGE;
        }
        if (!arg_direct) {
                fprintf(stderr,
                        "reptyrctl: the reptyrd helper is not available yet in this build; use "
                        "--direct (as root, or where the kernel lets you ptrace %d)\n",
                        (int)pid);
                return EXIT_HELPER_UNREACHABLE;
        }
        /* Refuse before the target is touched: after adoption there would be
         * no terminal to hand it, and it would get a hangup. */
        if (!arg_dry_run) {
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
        read_comm(pid, comm, sizeof comm);

        if (tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                opts.rows = ws.ws_row;
                opts.cols = ws.ws_col;
        }

        /* ^C or ^Z while the target is frozen under ptrace must not kill or
         * stop us half-way: those signals queue until the relay runs. */
        r = relay_block_signals();
        if (r < 0) {
                fprintf(stderr, "reptyrctl: cannot block signals: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        if (engine_adopt(pidfd, &opts, &res, &err) < 0)
                return log_engine_error(&err);
        master_fd = res.master_fd;

        if (arg_dry_run) {
                print_dry_run(&res, comm);
                return 0;
        }
        if (master_fd < 0) {
                fprintf(stderr, "reptyrctl: the engine adopted %d but returned no terminal\n",
                        (int)pid);
                return EXIT_FAILED;
        }

        if (!arg_quiet)
                fprintf(stderr,
                        "reptyrctl: %d (%s) moved here from %s; ^Z suspends it, exit it to "
                        "return.\n",
                        (int)pid, comm, res.old_tty[0] ? res.old_tty : "no terminal");
        /* Shown even with --quiet: without it the terminal just looks dead. */
        if (res.was_stopped)
                fprintf(stderr,
                        "reptyrctl: %d (%s) was stopped and stays stopped; continue it with "
                        "^Z then fg, or kill -CONT %d.\n",
                        (int)pid, comm, (int)pid);

        r = relay_run(master_fd, pidfd, &ex);
        if (r < 0) {
                fprintf(stderr,
                        "reptyrctl: relaying the terminal of %d (%s) failed: %s; %d got a "
                        "hangup\n",
                        (int)pid, comm, strerror(-r), (int)pid);
                return EXIT_FAILED;
        }
        return report_exit(pid, comm, &ex);
}

static const struct verb {
        const char *name;
        int n_args;
        int (*run)(char *arg);
} verbs[] = {
        {"adopt", 1, verb_adopt},
};

int main(int argc, char *argv[]) {
        char *args[argc > 0 ? argc : 1];
        int n_args, r;

        r = parse_argv(argc, argv, args, &n_args);
        if (r != 0)
                return r > 0 ? 0 : -r;
        if (n_args == 0) {
                fprintf(stderr, "reptyrctl: missing command; see reptyrctl --help\n");
                return EXIT_USAGE;
        }
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
