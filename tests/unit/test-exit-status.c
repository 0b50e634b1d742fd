/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of reading a zombie's wait status from /proc/PID/stat
 * (client/exit-status.c): field 52, counted from the last ')' whatever the
 * command name holds, and nothing taken from a line that is cut short.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exit-status.h"

/* A real zombie's line (Linux 6.18), with exit_code 2304 (exit(9)). */
static const char zombie_tail[] =
        "Z 1 1234 1234 0 -1 4227596 90 0 0 0 0 0 0 0 20 0 1 0 123456 0 0 "
        "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 2304\n";

static void test_exit_code_after_odd_comm(void **state) {
        const char *comms[] = {"victim", "a) b", ") Z 1 2 3", "x\ny", "(((", ""};

        for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
                char line[1024];
                int status = -1;
                char st = 0;
                unsigned long flags = 0;

                snprintf(line, sizeof(line), "4242 (%s) %s", comms[i], zombie_tail);
                assert_int_equal(exit_status_parse_stat(line, &status, &st, &flags), 0);
                assert_int_equal(status, 2304);
                assert_int_equal(st, 'Z');
                assert_int_equal(flags, 4227596);
        }
}

static void test_short_line_is_refused(void **state) {
        char line[1024];
        int status = -1;
        char st = 0;
        unsigned long flags = 0;

        snprintf(line, sizeof(line), "4242 (victim) %s", zombie_tail);
        /* Cut before the last field: no status. */
        *strrchr(line, ' ') = '\0';
        assert_int_equal(exit_status_parse_stat(line, &status, &st, &flags), -EINVAL);
        assert_int_equal(exit_status_parse_stat("4242 victim Z 1", &status, &st, &flags), -EINVAL);
        assert_int_equal(exit_status_parse_stat("", &status, &st, &flags), -EINVAL);
}

static void test_garbage_status_is_refused(void **state) {
        char line[1024];
        int status = -1;
        char st = 0;
        unsigned long flags = 0;

        snprintf(line, sizeof(line), "4242 (victim) %s", zombie_tail);
        memcpy(strstr(line, "2304"), "23x4", 4);
        assert_int_equal(exit_status_parse_stat(line, &status, &st, &flags), -EINVAL);
        snprintf(line, sizeof(line), "4242 (victim) %s", zombie_tail);
        memcpy(strstr(line, "2304"), "-234", 4);
        assert_int_equal(exit_status_parse_stat(line, &status, &st, &flags), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exit_code_after_odd_comm),
                cmocka_unit_test(test_short_line_is_refused),
                cmocka_unit_test(test_garbage_status_is_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
