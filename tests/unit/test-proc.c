/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the pure /proc parsers the engine decides on: stat (whose
 * command name the target chooses), status (ids, seccomp, signal masks),
 * fdinfo (open flags, a pty master's index), an epoll instance's fdinfo
 * (its registrations) and the auxiliary vector's layout (the word size).
 * The samples are real files of this machine's /proc (Linux 6.x, x86_64),
 * some cut or bent the ways a hostile or unusual target can bend them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* cmocka.h needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine-internal.h"
#include "proc.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- /proc/PID/stat ---------------------------------------------------- */

/* Everything after the command name of a real process's line. */
static const char stat_tail[] =
        "R 15879 15879 4344 34816 15879 4194304 2371 1393 0 0 3 2 1 0 20 0 1 0 59372 "
        "18468864 3115 18446744073709551615 4321280 7148169 140728944116000 0 0 0 0 "
        "16781312 2 0 0 0 17 1 0 0 0 0 0 9723336 11027064 623763456 140728944118369 "
        "140728944118402 140728944118402 140728944119784 0\n";

static void expect_tail_fields(const struct proc_stat *st) {
        assert_int_equal(st->state, 'R');
        assert_int_equal(st->ppid, 15879);
        assert_int_equal(st->pgrp, 15879);
        assert_int_equal(st->session, 4344);
        assert_int_equal(st->tty_nr, 34816);
        assert_int_equal(st->tpgid, 15879);
        assert_int_equal(st->flags, 4194304);
        assert_int_equal(st->num_threads, 1);
        assert_int_equal(st->starttime, 59372);
        assert_int_equal(st->start_code, 4321280);
        assert_int_equal(st->start_stack, 140728944116000ULL);
        assert_int_equal(st->processor, 1);
}

static void test_stat_real_line(void **state) {
        struct proc_stat st;
        char line[1024];

        snprintf(line, sizeof(line), "15924 (make-seeds.py) %s", stat_tail);
        assert_int_equal(proc_parse_stat(line, &st), 0);
        assert_string_equal(st.comm, "make-seeds.py");
        expect_tail_fields(&st);
        assert_false(st.flags & PROC_PF_KTHREAD);
}

static void test_stat_kernel_thread(void **state) {
        static const char kthreadd[] =
                "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 14 0 0 "
                "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
                "0 0 0\n";
        struct proc_stat st;

        assert_int_equal(proc_parse_stat(kthreadd, &st), 0);
        assert_string_equal(st.comm, "kthreadd");
        assert_int_equal(st.state, 'S');
        assert_int_equal(st.ppid, 0);
        assert_int_equal(st.tty_nr, 0);
        assert_int_equal(st.tpgid, -1);
        assert_true(st.flags & PROC_PF_KTHREAD);
        assert_int_equal(st.starttime, 14);
        assert_int_equal(st.processor, 0);
}

/* A target names itself (prctl PR_SET_NAME, or its executable's name): the
 * fields must be counted from the last ')', whatever the name holds. */
static void test_stat_odd_comm(void **state) {
        static const char *const comms[] = {
                "a) R 1 2 3 (b",  /* a fake end of the name and fake fields */
                "x\n) S 9 9",     /* a newline and a fake state */
                ")",              /* only the closing parenthesis */
                "((",             /* only opening ones */
                "  ) Z 0 0  ",    /* spaces, a fake zombie */
                "",               /* empty */
                "with space",     /* a space, as in "Web Content" */
                "abcdefghijklmno" /* 15 characters: the kernel's longest */
        };

        for (size_t i = 0; i < N_ELEMENTS(comms); i++) {
                struct proc_stat st;
                char line[1024];

                snprintf(line, sizeof(line), "15925 (%s) %s", comms[i], stat_tail);
                assert_int_equal(proc_parse_stat(line, &st), 0);
                assert_string_equal(st.comm, comms[i]);
                expect_tail_fields(&st);
        }
}

/* Longer than comm[] holds (not a kernel name, but the parser must not
 * overrun): cut to 63 bytes, the fields still right. */
static void test_stat_long_comm_is_cut(void **state) {
        struct proc_stat st;
        char comm[200], line[1024];

        memset(comm, 'c', sizeof(comm) - 1);
        comm[sizeof(comm) - 1] = '\0';
        snprintf(line, sizeof(line), "15925 (%s) %s", comm, stat_tail);
        assert_int_equal(proc_parse_stat(line, &st), 0);
        assert_int_equal(strlen(st.comm), sizeof(st.comm) - 1);
        assert_memory_equal(st.comm, comm, sizeof(st.comm) - 1);
        expect_tail_fields(&st);
}

/* A line cut anywhere before the start time is refused; one cut after it
 * but before the processor field still parses, with no processor. */
static void test_stat_truncated(void **state) {
        char full[1024];
        struct proc_stat st;
        size_t cut_ok;

        snprintf(full, sizeof(full), "15924 (victim) %s", stat_tail);
        /* Just after "59372" (starttime, field 22). */
        cut_ok = (size_t)(strstr(full, " 59372 ") - full) + strlen(" 59372");
        for (size_t len = 0; len < cut_ok; len++) {
                char line[1024];

                memcpy(line, full, len);
                line[len] = '\0';
                /* A cut inside the start time's digits still reads a number. */
                if (len > cut_ok - strlen("59372"))
                        continue;
                assert_int_equal(proc_parse_stat(line, &st), -EINVAL);
        }
        full[cut_ok] = '\0';
        assert_int_equal(proc_parse_stat(full, &st), 0);
        assert_int_equal(st.starttime, 59372);
        assert_int_equal(st.start_code, 0);
        assert_int_equal(st.start_stack, 0);
        assert_int_equal(st.processor, -1);
}

static void test_stat_garbage(void **state) {
        static const char *const lines[] = {
                "",
                "15924",
                "15924 victim R 1 2 3",                    /* no parentheses */
                "15924 (victim R 1 2 3 4 5 6 7 8 9 10 11", /* no ')' */
                "15924 )victim( R 1 2 3 4 5 6 7 8 9 10",   /* ')' before '(' */
                "15924 (victim) R x 2 3 4 5 6 7 8 9 10",   /* a word for the ppid */
        };
        struct proc_stat st;

        for (size_t i = 0; i < N_ELEMENTS(lines); i++)
                assert_int_equal(proc_parse_stat(lines[i], &st), -EINVAL);
}

/* ---- /proc/PID/status -------------------------------------------------- */

/* A real status of an unprivileged process, as a format: Uid, Gid and
 * Seccomp lines are filled in by each case. */
static const char status_format[] = "Name:\tvictim\n"
                                    "Umask:\t0022\n"
                                    "State:\tS (sleeping)\n"
                                    "Tgid:\t4242\n"
                                    "Ngid:\t0\n"
                                    "Pid:\t4242\n"
                                    "PPid:\t4200\n"
                                    "TracerPid:\t%s\n"
                                    "%s"
                                    "%s"
                                    "FDSize:\t64\n"
                                    "Groups:\t1000 \n"
                                    "NStgid:\t4242\n"
                                    "NSpid:\t4242\n"
                                    "NSpgid:\t4242\n"
                                    "NSsid:\t4200\n"
                                    "Kthread:\t0\n"
                                    "Threads:\t1\n"
                                    "SigQ:\t0/96364\n"
                                    "SigPnd:\t0000000000000100\n"
                                    "ShdPnd:\t0000000000004000\n"
                                    "SigBlk:\t0000000000010000\n"
                                    "SigIgn:\t0000000000384004\n"
                                    "SigCgt:\t000000004b813efb\n"
                                    "CapInh:\t0000000000000000\n"
                                    "CapPrm:\t%s\n"
                                    "CapEff:\t%s\n"
                                    "CapBnd:\t000001ffffffffff\n"
                                    "CapAmb:\t0000000000000000\n"
                                    "NoNewPrivs:\t0\n"
                                    "%s"
                                    "Seccomp_filters:\t%s\n"
                                    "voluntary_ctxt_switches:\t12\n"
                                    "nonvoluntary_ctxt_switches:\t1\n";

static void status_text(char *buf, size_t size, const char *uid, const char *gid,
                        const char *seccomp) {
        char seccomp_line[64] = "";

        if (seccomp)
                snprintf(seccomp_line, sizeof(seccomp_line), "Seccomp:\t%s\n", seccomp);
        snprintf(buf, size, status_format, "0", uid, gid, "0000000000000000", "0000000000000000",
                 seccomp_line, seccomp && strcmp(seccomp, "2") == 0 ? "1" : "0");
}

static void test_status_normal(void **state) {
        struct proc_status st;
        char text[4096];

        status_text(text, sizeof(text), "Uid:\t1000\t1000\t1000\t1000\n",
                    "Gid:\t1000\t1000\t1000\t1000\n", "0");
        assert_int_equal(proc_parse_status(text, &st), 0);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(st.uid[i], 1000);
                assert_int_equal(st.gid[i], 1000);
        }
        assert_int_equal(st.seccomp, 0);
        assert_int_equal(st.tracer_pid, 0);
        assert_int_equal(st.sig_pnd, 0x100);
        assert_int_equal(st.shd_pnd, 0x4000);
        assert_int_equal(st.sig_blk, 0x10000);
        assert_int_equal(st.sig_ign, 0x384004);
        assert_int_equal(st.sig_cgt, 0x4b813efb);
        assert_int_equal(st.cap_prm, 0);
        assert_int_equal(st.cap_eff, 0);
}

/* A setuid program run by uid 1000: real, effective, saved and fs ids all
 * differ, and each must land in its own slot. */
static void test_status_setuid_ids(void **state) {
        struct proc_status st;
        char text[4096];

        status_text(text, sizeof(text), "Uid:\t1000\t0\t4294967294\t0\n",
                    "Gid:\t1000\t42\t1001\t42\n", "0");
        assert_int_equal(proc_parse_status(text, &st), 0);
        assert_int_equal(st.uid[0], 1000);
        assert_int_equal(st.uid[1], 0);
        assert_int_equal(st.uid[2], 4294967294U);
        assert_int_equal(st.uid[3], 0);
        assert_int_equal(st.gid[0], 1000);
        assert_int_equal(st.gid[1], 42);
        assert_int_equal(st.gid[2], 1001);
        assert_int_equal(st.gid[3], 42);
}

static void test_status_seccomp_filter(void **state) {
        struct proc_status st;
        char text[4096];

        status_text(text, sizeof(text), "Uid:\t1000\t1000\t1000\t1000\n",
                    "Gid:\t1000\t1000\t1000\t1000\n", "2");
        assert_int_equal(proc_parse_status(text, &st), 0);
        assert_int_equal(st.seccomp, 2);
}

/* kthreadd's real status (pid 2): root, every capability, a tracer pid
 * field of 0, and SigIgn all ones. */
static void test_status_kernel_thread(void **state) {
        static const char kthreadd[] = "Name:\tkthreadd\n"
                                       "Umask:\t0022\n"
                                       "State:\tS (sleeping)\n"
                                       "Tgid:\t2\n"
                                       "Ngid:\t0\n"
                                       "Pid:\t2\n"
                                       "PPid:\t0\n"
                                       "TracerPid:\t0\n"
                                       "Uid:\t0\t0\t0\t0\n"
                                       "Gid:\t0\t0\t0\t0\n"
                                       "FDSize:\t64\n"
                                       "Groups:\t \n"
                                       "NStgid:\t2\n"
                                       "NSpid:\t2\n"
                                       "NSpgid:\t0\n"
                                       "NSsid:\t0\n"
                                       "Kthread:\t1\n"
                                       "Threads:\t1\n"
                                       "SigQ:\t5/96364\n"
                                       "SigPnd:\t0000000000000000\n"
                                       "ShdPnd:\t0000000000000000\n"
                                       "SigBlk:\t0000000000000000\n"
                                       "SigIgn:\tffffffffffffffff\n"
                                       "SigCgt:\t0000000000000000\n"
                                       "CapInh:\t0000000000000000\n"
                                       "CapPrm:\t000001ffffffffff\n"
                                       "CapEff:\t000001ffffffffff\n"
                                       "CapBnd:\t000001ffffffffff\n"
                                       "CapAmb:\t0000000000000000\n"
                                       "NoNewPrivs:\t0\n"
                                       "Seccomp:\t0\n"
                                       "Seccomp_filters:\t0\n"
                                       "Speculation_Store_Bypass:\tthread vulnerable\n"
                                       "Cpus_allowed:\t3\n"
                                       "Cpus_allowed_list:\t0-1\n"
                                       "voluntary_ctxt_switches:\t77\n"
                                       "nonvoluntary_ctxt_switches:\t0\n";
        struct proc_status st;

        assert_int_equal(proc_parse_status(kthreadd, &st), 0);
        assert_int_equal(st.uid[0], 0);
        assert_int_equal(st.uid[1], 0);
        assert_int_equal(st.sig_ign, UINT64_MAX);
        assert_int_equal(st.cap_eff, 0x1ffffffffffULL);
        assert_int_equal(st.cap_prm, 0x1ffffffffffULL);
        /* voluntary, not nonvoluntary_ctxt_switches */
        assert_int_equal(st.nvcsw, 77);
}

/* Fail closed: a status without one of the fields decided on, or with ids
 * that do not read as four numbers, is refused. */
static void test_status_missing_fields(void **state) {
        static const char uid[] = "Uid:\t1000\t1000\t1000\t1000\n",
                          gid[] = "Gid:\t1000\t1000\t1000\t1000\n";
        static const char *const drop[] = {"TracerPid:", "SigPnd:"};
        struct proc_status st;
        char text[4096];

        status_text(text, sizeof(text), "", gid, "0");
        assert_int_equal(proc_parse_status(text, &st), -EINVAL);
        status_text(text, sizeof(text), uid, "", "0");
        assert_int_equal(proc_parse_status(text, &st), -EINVAL);
        status_text(text, sizeof(text), uid, gid, NULL);
        assert_int_equal(proc_parse_status(text, &st), -EINVAL);
        for (size_t i = 0; i < N_ELEMENTS(drop); i++) {
                char *line;

                status_text(text, sizeof(text), uid, gid, "0");
                line = strstr(text, drop[i]);
                assert_non_null(line);
                line[0] = 'X'; /* no longer the field's name */
                assert_int_equal(proc_parse_status(text, &st), -EINVAL);
        }
        status_text(text, sizeof(text), "Uid:\t1000\t1000\t1000\n", gid, "0");
        assert_int_equal(proc_parse_status(text, &st), -EINVAL);
        status_text(text, sizeof(text), uid, "Gid:\tx\t1000\t1000\t1000\n", "0");
        assert_int_equal(proc_parse_status(text, &st), -EINVAL);
        assert_int_equal(proc_parse_status("", &st), -EINVAL);
        assert_int_equal(proc_parse_status("Name:\tvictim", &st), -EINVAL);
}

/* ---- /proc/PID/fdinfo/N ------------------------------------------------ */

static const char fdinfo_regular[] = "pos:\t0\nflags:\t022700002\nmnt_id:\t27\nino:\t10955926\n";
static const char fdinfo_ptmx[] = "pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t91\n"
                                  "tty-index:\t3\n";
static const char fdinfo_pty_slave[] = "pos:\t0\nflags:\t02000002\nmnt_id:\t29\nino:\t11\n";

static void test_fdinfo_flags(void **state) {
        assert_int_equal(proc_parse_fdinfo_flags(fdinfo_regular), 022700002);
        assert_int_equal(proc_parse_fdinfo_flags(fdinfo_ptmx), 02100002);
        assert_true(proc_parse_fdinfo_flags(fdinfo_ptmx) & O_CLOEXEC);
        assert_int_equal(proc_parse_fdinfo_flags(fdinfo_ptmx) & O_ACCMODE, O_RDWR);
        assert_int_equal(proc_parse_fdinfo_flags(fdinfo_pty_slave), 02000002);
        assert_int_equal(proc_parse_fdinfo_flags("pos:\t0\nmnt_id:\t4\n"), 0);
        assert_int_equal(proc_parse_fdinfo_flags(""), 0);
}

static void test_fdinfo_tty_index(void **state) {
        assert_int_equal(proc_parse_tty_index(fdinfo_ptmx), 3);
        assert_int_equal(proc_parse_tty_index("flags:\t02\ntty-index:\t4095\n"), 4095);
        assert_int_equal(proc_parse_tty_index(fdinfo_pty_slave), -1);
        assert_int_equal(proc_parse_tty_index(fdinfo_regular), -1);
        assert_int_equal(proc_parse_tty_index(""), -1);
}

/* The real fdinfo of this process's own pty master agrees with the name
 * of its slave. */
static void test_fdinfo_of_own_pty(void **state) {
        char path[64], text[1024];
        int master, n, fd;
        ssize_t len;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0) {
                print_message("no pty here (%s): only the samples are checked\n", strerror(errno));
                return;
        }
        assert_int_equal(ioctl(master, TIOCGPTN, &n), 0);
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", master);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        len = read(fd, text, sizeof(text) - 1);
        assert_true(len > 0);
        text[len] = '\0';
        close(fd);
        close(master);
        assert_int_equal(proc_parse_tty_index(text), n);
        assert_int_equal(proc_parse_fdinfo_flags(text) & (O_ACCMODE | O_CLOEXEC),
                         O_RDWR | O_CLOEXEC);
}

/* ---- an epoll instance's fdinfo ---------------------------------------- */

static const char epoll_head[] = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\n";

static void test_epoll_none(void **state) {
        struct proc_epoll_entry e[4];

        assert_int_equal(proc_parse_epoll(epoll_head, e, N_ELEMENTS(e)), 0);
        assert_int_equal(proc_parse_epoll("", e, N_ELEMENTS(e)), 0);
        /* A pidfd's fdinfo: no registrations either. */
        assert_int_equal(proc_parse_epoll("pos:\t0\nflags:\t02000002\nmnt_id:\t4\nino:\t15925\n"
                                          "Pid:\t15924\nNSpid:\t15924\n",
                                          e, N_ELEMENTS(e)),
                         0);
}

static void test_epoll_one(void **state) {
        char text[512];
        struct proc_epoll_entry e[4];

        snprintf(text, sizeof(text),
                 "%stfd:        7 events: 4000001c data:     7f1900000007  "
                 "pos:0 ino:a0fa sdev:9\n",
                 epoll_head);
        assert_int_equal(proc_parse_epoll(text, e, N_ELEMENTS(e)), 1);
        assert_int_equal(e[0].tfd, 7);
        assert_int_equal(e[0].events, 0x4000001c);
        assert_int_equal(e[0].data, 0x7f1900000007ULL);
        assert_int_equal(e[0].ino, 0xa0fa);
        assert_true(e[0].dev == makedev(0, 9));
        /* It also fits in exactly one slot. */
        assert_int_equal(proc_parse_epoll(text, e, 1), 1);
}

static void test_epoll_many(void **state) {
        static const char three[] =
                "tfd:        7 events: 4000001c data:     7f1900000007  pos:0 ino:a0fa sdev:9\n"
                "tfd:        5 events:       19 data:     7f1900000005  pos:0 ino:a0f9 sdev:f\n"
                "tfd:        4 events: 80000019 data:     7f1900000004  pos:0 ino:b sdev:1a\n";
        char text[1024];
        struct proc_epoll_entry e[8];

        snprintf(text, sizeof(text), "%s%s", epoll_head, three);
        assert_int_equal(proc_parse_epoll(text, e, N_ELEMENTS(e)), 3);
        assert_int_equal(e[0].tfd, 7);
        assert_int_equal(e[1].tfd, 5);
        assert_int_equal(e[1].events, 0x19);
        assert_true(e[1].dev == makedev(0, 15));
        assert_int_equal(e[2].tfd, 4);
        assert_int_equal(e[2].events, 0x80000019); /* EPOLLET */
        assert_int_equal(e[2].data, 0x7f1900000004ULL);
        assert_int_equal(e[2].ino, 0xb);
        assert_true(e[2].dev == makedev(0, 26));
}

/* More registrations than the caller has room for: -E2BIG, never a write
 * past the end (the slot after the room is a canary). */
static void test_epoll_over_capacity(void **state) {
        char text[8192];
        size_t len;
        struct proc_epoll_entry e[71];

        len = (size_t)snprintf(text, sizeof(text), "%s", epoll_head);
        for (int fd = 12; fd < 12 + 70; fd++)
                len += (size_t)snprintf(text + len, sizeof(text) - len,
                                        "tfd: %8d events:       19 data: %16x  pos:0 ino:a0f9 "
                                        "sdev:f\n",
                                        fd, fd);
        assert_true(len < sizeof(text) - 1);
        memset(e, 0xa5, sizeof(e));
        assert_int_equal(proc_parse_epoll(text, e, 64), -E2BIG);
        assert_int_equal(e[64].tfd, (int)0xa5a5a5a5);
        assert_int_equal(proc_parse_epoll(text, e, 69), -E2BIG);
        assert_int_equal(e[69].tfd, (int)0xa5a5a5a5);
        assert_int_equal(proc_parse_epoll(text, e, 70), 70);
        assert_int_equal(e[0].tfd, 12);
        assert_int_equal(e[69].tfd, 81);
        assert_int_equal(e[69].data, 81);
        assert_int_equal(proc_parse_epoll(text, e, 0), -E2BIG);
}

static void test_epoll_malformed(void **state) {
        struct proc_epoll_entry e[4];

        assert_int_equal(proc_parse_epoll("tfd: x events: 19 data: 1 pos:0 ino:1 sdev:0\n", e,
                                          N_ELEMENTS(e)),
                         -EINVAL);
        /* Cut before the inode. */
        assert_int_equal(proc_parse_epoll("tfd: 4 events: 19 data: 4 pos:0\n", e, N_ELEMENTS(e)),
                         -EINVAL);
        /* Without sdev (older kernels): device 0. */
        assert_int_equal(
                proc_parse_epoll("tfd: 4 events: 19 data: 4 pos:0 ino:b\n", e, N_ELEMENTS(e)), 1);
        assert_int_equal(e[0].ino, 0xb);
        assert_true(e[0].dev == makedev(0, 0));
}

/* ---- /proc/PID/auxv ---------------------------------------------------- */

/* The head of a real 64-bit auxv: (type, value) pairs of 8 bytes each. */
static const uint64_t auxv64[] = {
        33, 0x7ffd1b7f5000, /* AT_SYSINFO_EHDR */
        51, 0xd30,          /* AT_MINSIGSTKSZ */
        16, 0x178bfbff,     /* AT_HWCAP */
        6,  4096,           /* AT_PAGESZ */
        17, 100,            /* AT_CLKTCK */
        3,  0x555555554040, /* AT_PHDR */
        0,  0,              /* AT_NULL */
};

/* The head of a real i386 auxv (tests/fuzz/corpus/auxv/i386): 4-byte pairs. */
static const uint32_t auxv32[] = {
        32, 0xf7f005e0, /* AT_SYSINFO */
        33, 0xf7f00000, /* AT_SYSINFO_EHDR */
        51, 0xd30,      /* AT_MINSIGSTKSZ */
        16, 0x178bfbff, /* AT_HWCAP */
        6,  4096,       /* AT_PAGESZ */
        0,  0,          /* AT_NULL */
};

static void test_auxv_64(void **state) {
        assert_int_equal(engine_auxv_word_size((const unsigned char *)auxv64, sizeof(auxv64)), 8);
}

static void test_auxv_32(void **state) {
        assert_int_equal(engine_auxv_word_size((const unsigned char *)auxv32, sizeof(auxv32)), 4);
}

/* This test's own auxv is of this build's word size. */
static void test_auxv_self(void **state) {
        unsigned char buf[4096];
        ssize_t n;
        int fd;

        fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        close(fd);
        assert_true(n > 0);
        assert_int_equal(engine_auxv_word_size(buf, (size_t)n), sizeof(long));
}

static void test_auxv_garbage(void **state) {
        unsigned char ff[64];
        /* Cut before any AT_NULL, every type too big for either width. */
        static const uint64_t big[] = {0x1000000010000, 1, 0x2000000020000, 2};

        memset(ff, 0xff, sizeof(ff));
        assert_int_equal(engine_auxv_word_size(ff, sizeof(ff)), 0);
        assert_int_equal(engine_auxv_word_size((const unsigned char *)big, sizeof(big)), 0);
        assert_int_equal(engine_auxv_word_size(ff, 0), 0);
        /* Shorter than one 4-byte pair. */
        assert_int_equal(engine_auxv_word_size((const unsigned char *)auxv32, 7), 0);
        /* A 64-bit vector cut before its AT_NULL is no 64-bit vector. */
        assert_int_not_equal(
                engine_auxv_word_size((const unsigned char *)auxv64, sizeof(auxv64) - 16), 8);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stat_real_line),
                cmocka_unit_test(test_stat_kernel_thread),
                cmocka_unit_test(test_stat_odd_comm),
                cmocka_unit_test(test_stat_long_comm_is_cut),
                cmocka_unit_test(test_stat_truncated),
                cmocka_unit_test(test_stat_garbage),
                cmocka_unit_test(test_status_normal),
                cmocka_unit_test(test_status_setuid_ids),
                cmocka_unit_test(test_status_seccomp_filter),
                cmocka_unit_test(test_status_kernel_thread),
                cmocka_unit_test(test_status_missing_fields),
                cmocka_unit_test(test_fdinfo_flags),
                cmocka_unit_test(test_fdinfo_tty_index),
                cmocka_unit_test(test_fdinfo_of_own_pty),
                cmocka_unit_test(test_epoll_none),
                cmocka_unit_test(test_epoll_one),
                cmocka_unit_test(test_epoll_many),
                cmocka_unit_test(test_epoll_over_capacity),
                cmocka_unit_test(test_epoll_malformed),
                cmocka_unit_test(test_auxv_64),
                cmocka_unit_test(test_auxv_32),
                cmocka_unit_test(test_auxv_self),
                cmocka_unit_test(test_auxv_garbage),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
