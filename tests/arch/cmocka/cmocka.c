/* SPDX-License-Identifier: MIT */
/* The stand-in's runner: see cmocka.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cmocka.h"

static jmp_buf test_exit;

enum { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_SKIP };

void print_message(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fflush(stdout);
}

void _fail(const char *file, int line) {
        printf("[   LINE   ] --- %s:%d: Failure!\n", file, line);
        longjmp(test_exit, OUTCOME_FAIL);
}

void _skip(const char *file, int line) { longjmp(test_exit, OUTCOME_SKIP); }

void _fail_msg(const char *file, int line, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        printf("[  ERROR   ] --- ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        _fail(file, line);
}

void _check(bool ok, const char *what, const char *file, int line) {
        if (ok)
                return;
        printf("[  ERROR   ] --- %s\n", what);
        _fail(file, line);
}

void _check_int(bool ok, uintmax_t a, uintmax_t b, const char *op, const char *file, int line) {
        if (ok)
                return;
        printf("[  ERROR   ] --- %#jx %s %#jx\n", a, op, b);
        _fail(file, line);
}

void _check_str(const char *a, const char *b, bool equal, const char *file, int line) {
        if ((a && b && strcmp(a, b) == 0) == equal)
                return;
        printf("[  ERROR   ] --- \"%s\" %s \"%s\"\n", a ? a : "(null)",
               equal ? "!=" : "==", b ? b : "(null)");
        _fail(file, line);
}

int _cmocka_run_group_tests(const char *group, const struct CMUnitTest *tests, size_t n,
                            CMFixtureFunction setup, CMFixtureFunction teardown) {
        size_t passed = 0, failed = 0, skipped = 0;
        void *state = NULL;

        printf("[==========] %s: Running %zu test(s).\n", group, n);
        if (setup && setup(&state) != 0) {
                printf("[  FAILED  ] %s: group setup\n", group);
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                void *s = tests[i].initial_state ? tests[i].initial_state : state;
                volatile int outcome;

                printf("[ RUN      ] %s\n", tests[i].name);
                fflush(stdout);
                outcome = setjmp(test_exit);
                if (outcome == OUTCOME_PASS) {
                        if (tests[i].setup_func && tests[i].setup_func(&s) != 0)
                                outcome = OUTCOME_FAIL;
                        else
                                tests[i].test_func(&s);
                }
                if (tests[i].teardown_func)
                        tests[i].teardown_func(&s);
                if (outcome == OUTCOME_PASS) {
                        printf("[       OK ] %s\n", tests[i].name);
                        passed++;
                } else if (outcome == OUTCOME_SKIP) {
                        printf("[  SKIPPED ] %s\n", tests[i].name);
                        skipped++;
                } else {
                        printf("[  FAILED  ] %s\n", tests[i].name);
                        failed++;
                }
        }
        if (teardown)
                teardown(&state);
        printf("[==========] %s: %zu test(s) run.\n", group, n);
        printf("[  PASSED  ] %zu test(s).\n", passed);
        if (skipped)
                printf("[  SKIPPED ] %zu test(s).\n", skipped);
        if (failed)
                printf("[  FAILED  ] %zu test(s).\n", failed);
        fflush(stdout);
        return (int)failed;
}
