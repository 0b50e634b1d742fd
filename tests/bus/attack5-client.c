/* SPDX-License-Identifier: MIT */
/*
 * attack5-client: an unprivileged caller whose target exec's a setuid-root
 * program at the worst moment (test-attack-exec.py). SUID is a setuid-root
 * copy of this program; run as "SUID suid" it only waits for stdin to end.
 *
 *   attack5-client guard SUID
 *       A "shell" leading a session on a new pty, with a job in its own
 *       process group in the foreground whose SIGHUP handler is the
 *       address 0x13370000. Prints "JOB pid=J shell=S", calls AdoptPID(J)
 *       (a shell job: reptyrd keeps a SIGHUP guard for it) and prints
 *       "ADOPTED" or "ERROR name: message". Then the job execs SUID; once
 *       its euid is 0 it prints "EXECED", kills the shell, prints "SHELL
 *       GONE" and waits for stdin to end (the test looks at the job).
 *   attack5-client race DELAY_US SUID
 *       A process of its own on its own pty, adopted with AdoptPID; DELAY_US
 *       after the call was sent (before reptyrd's worker seized it) it execs
 *       SUID. Prints "ADOPTED" or "ERROR name: message"; then "OLD pts",
 *       "NEW pts" (of the new master, if adopted) and "START link": fd 0 of
 *       SUID when it started (it writes that to fd 3). SUID started on the
 *       old terminal and then adopted means root's process was moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define EVIL_HANDLER 0x13370000UL

static int euid_of(pid_t pid) {
        char path[64], line[256];
        int euid = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Uid: %*d %d", &euid) == 1)
                        break;
        fclose(f);
        return euid;
}

/* A session of its own on the slave of `master`, as its controlling tty. */
static void become_terminal_session(int master) {
        int s;

        setsid();
        s = open(ptsname(master), O_RDWR);
        if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
                _exit(120);
        dup2(s, 0);
        dup2(s, 1);
        dup2(s, 2);
        if (s > 2)
                close(s);
}

/* Says it is ready on ready_fd (if >= 0), then execs SUID on a byte on fd. */
static void wait_for_go(int fd, int ready_fd, const char *suid) {
        char c;

        if ((ready_fd >= 0 && write(ready_fd, "R", 1) != 1) || read(fd, &c, 1) != 1)
                _exit(121);
        execl(suid, suid, "suid", (char *)NULL);
        _exit(127);
}

static int report(sd_bus_message *reply, const sd_bus_error *error) {
        int fd;

        if (!reply || sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = reply ? sd_bus_message_get_error(reply) : error;
                printf("ERROR %s: %s\n", e && e->name ? e->name : "?",
                       e && e->message ? e->message : "?");
                fflush(stdout);
                return -1;
        }
        if (sd_bus_message_read(reply, "h", &fd) < 0)
                return -1;
        printf("ADOPTED\n");
        fflush(stdout);
        return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static int guard(const char *suid) {
        int master = posix_openpt(O_RDWR | O_NOCTTY), go[2], ready[2], newm;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus *bus = NULL;
        pid_t shell, job = 0;

        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || pipe(go) < 0 ||
            pipe(ready) < 0)
                return 1;
        shell = fork();
        if (shell == 0) {
                become_terminal_session(master);
                job = fork();
                if (job == 0) {
                        struct sigaction sa = {.sa_handler = (void (*)(int))EVIL_HANDLER};

                        setpgid(0, 0);
                        sigaction(SIGHUP, &sa, NULL);
                        close(go[1]);
                        wait_for_go(go[0], -1, suid);
                }
                setpgid(job, job);
                tcsetpgrp(0, job);
                (void)!write(ready[1], &job, sizeof(job));
                for (;;)
                        pause();
        }
        close(go[0]);
        if (read(ready[0], &job, sizeof(job)) != sizeof(job))
                return 1;
        printf("JOB pid=%d shell=%d\n", (int)job, (int)shell);
        fflush(stdout);
        if (sd_bus_open_system(&bus) < 0)
                return 2;
        (void)sd_bus_call_method(bus, "org.reptyr.Reptyr1", "/org/reptyr/Reptyr1",
                                 "org.reptyr.Reptyr1", "AdoptPID", &error, &reply, "ua{sv}",
                                 (uint32_t)job, 0);
        newm = report(reply, &error);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        if (newm < 0)
                return 3;
        (void)!write(go[1], "x", 1);
        for (int i = 0; i < 5000 && euid_of(job) != 0; i++)
                usleep(1000); /* bounded: until the exec is done */
        printf(euid_of(job) == 0 ? "EXECED\n" : "EXEC FAILED\n");
        fflush(stdout);
        kill(shell, SIGKILL);
        waitpid(shell, NULL, 0);
        printf("SHELL GONE\n");
        fflush(stdout);
        while (getchar() != EOF)
                ;
        kill(job, SIGKILL);
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        *(sd_bus_message **)userdata = sd_bus_message_ref(m);
        return 0;
}

static int race(long delay_us, const char *suid) {
        int master = posix_openpt(O_RDWR | O_NOCTTY), go[2], newm;
        sd_bus_message *reply = NULL;
        struct timespec t = {.tv_sec = delay_us / 1000000, .tv_nsec = delay_us % 1000000 * 1000};
        sd_bus *bus = NULL;
        char link[256] = "";
        int start[2];
        pid_t child;
        ssize_t n;

        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || pipe(go) < 0 ||
            pipe(start) < 0)
                return 1;
        child = fork();
        if (child == 0) {
                become_terminal_session(master);
                close(go[1]);
                close(start[0]);
                if (dup2(start[1], 3) != 3) /* kept across the exec */
                        _exit(122);
                wait_for_go(go[0], 3, suid);
        }
        close(go[0]);
        close(start[1]);
        if (read(start[0], link, 1) != 1) /* on its terminal, waiting */
                return 1;
        if (sd_bus_open_system(&bus) < 0 ||
            sd_bus_call_method_async(bus, NULL, "org.reptyr.Reptyr1", "/org/reptyr/Reptyr1",
                                     "org.reptyr.Reptyr1", "AdoptPID", on_reply, &reply, "ua{sv}",
                                     (uint32_t)child, 0) < 0 ||
            sd_bus_flush(bus) < 0)
                return 2;
        nanosleep(&t, NULL);
        (void)!write(go[1], "x", 1);
        while (!reply) {
                int r = sd_bus_process(bus, NULL);

                if (r < 0)
                        return 4;
                if (r == 0 && !reply && sd_bus_wait(bus, 30 * 1000000ULL) <= 0)
                        return 5;
        }
        newm = report(reply, NULL);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        printf("OLD %s\n", ptsname(master));
        if (newm >= 0) {
                int index = -1;

                (void)ioctl(newm, TIOCGPTN, &index);
                printf("NEW /dev/pts/%d\n", index);
        }
        n = read(start[0], link, sizeof(link) - 1); /* SUID's fd 0 at its start */
        printf("START %s\n", n > 0 ? (link[n] = '\0', link) : "(did not start)");
        fflush(stdout);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        if (newm >= 0)
                close(newm);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "suid") == 0) {
                char link[256];
                ssize_t n = readlink("/proc/self/fd/0", link, sizeof(link));

                if (n > 0)
                        (void)!write(3, link, (size_t)n);
                close(3);
                while (getchar() != EOF)
                        ;
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "guard") == 0)
                return guard(argv[2]);
        if (argc == 4 && strcmp(argv[1], "race") == 0)
                return race(atol(argv[2]), argv[3]);
        fprintf(stderr, "usage: attack5-client guard SUID | race DELAY_US SUID\n");
        return 64;
}
