/* SPDX-License-Identifier: MIT */
/*
 * Small process helpers the C test programs share (header-only: the
 * programs are built with different sanitizer settings, so a library of
 * them would need one copy per setting).
 */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <unistd.h>

/* Field 22 of /proc/PID/stat, the start time in clock ticks: with the pid,
 * what names one process for polkit's unix-process subject. 0 or -errno. */
static inline int test_start_time_of(pid_t pid, uint64_t *ret) {
        char path[64], buf[4096], *p;
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        /* After ") " comes field 3. */
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EIO;
        }
        *ret = strtoull(p + 1, NULL, 10);
        return 0;
}

/* Fork a child that runs argv in a new session whose controlling terminal
 * is the pty `slave`, on its stdin, stdout and stderr; the child keeps
 * neither `slave` nor `master` open beyond those. Returns the child's pid,
 * or -1 (errno set) if fork failed. */
static inline pid_t test_spawn_on_pty(int master, int slave, char **argv) {
        pid_t child = fork();

        if (child != 0)
                return child;
        setsid();
        ioctl(slave, TIOCSCTTY, 0);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        if (slave > 2)
                close(slave);
        close(master);
        execvp(argv[0], argv);
        _exit(127);
}
