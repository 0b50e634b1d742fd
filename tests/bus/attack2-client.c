/* SPDX-License-Identifier: MIT */
/*
 * attack2-client: a second unprivileged attacker of reptyrd, for the
 * adversarial bus tests that attack-client does not cover.
 *
 *   attack2-client guards K
 *       Opens a pty, starts a session leader on it (its child, alive) and
 *       K processes in that session, each alone in its own process group
 *       with fds 0-2 on the pty: shell jobs, as far as reptyrd can tell.
 *       Then Adopt()s each of them (process mode), one after the other,
 *       and closes the master it gets. Prints "LEADER pid", one JSON line
 *       per answer {"i":K,"ok":...}, then "DONE ok=N fail=M", and waits
 *       until stdin ends; everything it started dies with it.
 *   attack2-client fdkinds
 *       Calls Adopt({dry-run}) and Inspect() with fds that are not pidfds
 *       of a live process of its own (a pipe, a socket, /dev/null, a memfd,
 *       an eventfd, an O_PATH fd of /proc/self, a pidfd of an exited
 *       child), and with pidfds of pid 1, of its bus peer's daemon
 *       (PIDs given in the environment as ATTACK2_PIDS="name=pid ...").
 *       One JSON line per call: {"what":..,"call":..,"ok":..,"error":..}.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <termios.h>
#include <unistd.h>

#define BUS_NAME "org.reptyr.Reptyr1"
#define BUS_PATH "/org/reptyr/Reptyr1"

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

static void print_answer(const char *what, const char *call, int r, const sd_bus_error *e) {
        printf("{\"what\":");
        json_string(what);
        printf(",\"call\":");
        json_string(call);
        if (r >= 0)
                printf(",\"ok\":true}\n");
        else {
                printf(",\"ok\":false,\"error\":");
                json_string(e->name ? e->name : strerror(-r));
                printf(",\"message\":");
                json_string(e->message);
                printf("}\n");
        }
        fflush(stdout);
}

static void wait_stdin(void) {
        char buf[64];

        while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
                ;
}

/* ---- guards ---- */

static int guards(unsigned k) {
        sd_bus *bus = NULL;
        pid_t *kids = calloc(k, sizeof(pid_t));
        int master, slave, r, sync[2];
        unsigned ok = 0, fail = 0;
        pid_t leader;
        char *name;

        if (!kids || pipe(sync) < 0)
                return 2;
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(name = ptsname(master)))
                return perror("attack2-client: pty"), 2;
        leader = fork();
        if (leader < 0)
                return 2;
        if (leader == 0) {
                /* The "shell": leads the session, its jobs are its children. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(sync[0]);
                setsid();
                slave = open(name, O_RDWR);
                if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
                        _exit(3);
                for (unsigned i = 0; i < k; i++) {
                        pid_t c = fork();
                        if (c < 0)
                                _exit(4);
                        if (c == 0) {
                                prctl(PR_SET_PDEATHSIG, SIGKILL);
                                setpgid(0, 0);
                                dup2(slave, 0);
                                dup2(slave, 1);
                                dup2(slave, 2);
                                if (slave > 2)
                                        close(slave);
                                close(sync[1]);
                                for (;;)
                                        pause();
                        }
                        setpgid(c, c);
                        if (write(sync[1], &c, sizeof(c)) != sizeof(c))
                                _exit(5);
                }
                close(slave);
                close(sync[1]);
                for (;;)
                        pause();
        }
        close(sync[1]);
        for (unsigned i = 0; i < k; i++)
                if (read(sync[0], &kids[i], sizeof(pid_t)) != sizeof(pid_t))
                        return fprintf(stderr, "attack2-client: leader died\n"), 2;
        printf("LEADER %d\n", (int)leader);
        fflush(stdout);
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return 2;
        for (unsigned i = 0; i < k; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                char idx[32];
                int pidfd = (int)syscall(SYS_pidfd_open, kids[i], 0), m;

                snprintf(idx, sizeof(idx), "%u", i);
                r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_NAME, "Adopt", &e, &reply,
                                       "ha{sv}", pidfd, 0);
                close(pidfd);
                if (r >= 0 && sd_bus_message_read(reply, "h", &m) >= 0) {
                        ok++;
                } else
                        fail++;
                if (r < 0 || i % 50 == 0 || i + 1 == k)
                        print_answer(idx, "Adopt", r, &e);
                /* Closing the master hangs up the job's new terminal; the
                 * job does not notice (SIGHUP is ignored while the guard
                 * holds). */
                sd_bus_message_unref(reply);
                sd_bus_error_free(&e);
        }
        printf("DONE ok=%u fail=%u\n", ok, fail);
        fflush(stdout);
        wait_stdin();
        kill(leader, SIGKILL);
        return 0;
}

/* ---- fds that are not what they claim ---- */

static void call_both(sd_bus *bus, const char *what, int fd) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_NAME, "Adopt", &e, &reply, "ha{sv}", fd,
                               1, "dry-run", "b", 1);
        print_answer(what, "Adopt", r, &e);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        reply = NULL;
        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, BUS_NAME, "Inspect", &e, &reply, "h", fd);
        if (r >= 0) {
                /* What it told us: polkit's answer, and whether it showed
                 * what adoption would touch. */
                const char *key, *authorized = "?", *exe = "", *tty = "";
                int k = sd_bus_message_enter_container(reply, 'a', "{sv}");
                while (k >= 0 && (k = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                        const char **dst = NULL;
                        k = sd_bus_message_read(reply, "s", &key);
                        if (k >= 0 && strcmp(key, "authorized") == 0)
                                dst = &authorized;
                        else if (k >= 0 && strcmp(key, "exe") == 0)
                                dst = &exe;
                        else if (k >= 0 && strcmp(key, "tty") == 0)
                                dst = &tty;
                        if (k >= 0)
                                k = dst ? sd_bus_message_read(reply, "v", "s", dst)
                                        : sd_bus_message_skip(reply, "v");
                        if (k >= 0)
                                k = sd_bus_message_exit_container(reply);
                }
                printf("{\"what\":");
                json_string(what);
                printf(",\"call\":\"Inspect\",\"ok\":true,\"authorized\":");
                json_string(authorized);
                printf(",\"exe\":");
                json_string(exe);
                printf(",\"tty\":");
                json_string(tty);
                printf("}\n");
                fflush(stdout);
        } else
                print_answer(what, "Inspect", r, &e);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
}

static int fdkinds(void) {
        sd_bus *bus = NULL;
        int p[2], s[2], fd;
        pid_t child;
        char *pids, *tok, *save = NULL;

        if (sd_bus_open_system(&bus) < 0)
                return 2;
        if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0)
                return 2;
        call_both(bus, "pipe", p[0]);
        call_both(bus, "socket", s[0]);
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        call_both(bus, "/dev/null", fd);
        close(fd);
        fd = (int)syscall(SYS_memfd_create, "Pid:\t1\n", 0);
        if (fd >= 0 && write(fd, "\nPid:\t1\n", 8) == 8)
                call_both(bus, "memfd", fd);
        close(fd);
        fd = eventfd(0, EFD_CLOEXEC);
        call_both(bus, "eventfd", fd);
        close(fd);
        fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        call_both(bus, "O_PATH /proc/self", fd);
        close(fd);
        child = fork();
        if (child == 0)
                _exit(0);
        fd = (int)syscall(SYS_pidfd_open, child, 0);
        waitpid(child, NULL, 0);
        call_both(bus, "pidfd of a reaped child", fd);
        close(fd);
        child = fork();
        if (child == 0)
                _exit(0);
        fd = (int)syscall(SYS_pidfd_open, child, 0);
        {
                siginfo_t si;
                waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT);
        }
        call_both(bus, "pidfd of a zombie child", fd);
        waitpid(child, NULL, 0);
        close(fd);
        fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        call_both(bus, "pidfd of the caller itself", fd);
        close(fd);
        fd = (int)syscall(SYS_pidfd_open, getppid(), 0);
        call_both(bus, "pidfd of the caller's parent", fd);
        close(fd);
        pids = getenv("ATTACK2_PIDS");
        for (tok = pids ? strtok_r(pids, " ", &save) : NULL; tok;
             tok = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(tok, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                fd = (int)syscall(SYS_pidfd_open, atoi(eq + 1), 0);
                if (fd < 0) {
                        printf("{\"what\":\"%s\",\"skip\":\"pidfd_open: %s\"}\n", tok,
                               strerror(errno));
                        continue;
                }
                call_both(bus, tok, fd);
                close(fd);
        }
        sd_bus_flush_close_unref(bus);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 3 && strcmp(argv[1], "guards") == 0)
                return guards((unsigned)atoi(argv[2]));
        if (argc >= 2 && strcmp(argv[1], "fdkinds") == 0)
                return fdkinds();
        fprintf(stderr, "usage: attack2-client guards K | fdkinds\n");
        return 2;
}
