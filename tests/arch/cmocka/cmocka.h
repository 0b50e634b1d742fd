/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the part of cmocka's API the unit tests use, for cross
 * builds to an architecture Debian ships no libcmocka for (riscv64). Same
 * names, same output format for the summary lines; nothing more. Include
 * <stdarg.h>, <stddef.h>, <setjmp.h> and <stdint.h> first, as for cmocka.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
        const char *name;
        CMUnitTestFunction test_func;
        CMFixtureFunction setup_func;
        CMFixtureFunction teardown_func;
        void *initial_state;
};

#define cmocka_unit_test(f)                                                                        \
        { #f, f, NULL, NULL, NULL }
#define cmocka_unit_test_teardown(f, t)                                                            \
        { #f, f, NULL, t, NULL }

int _cmocka_run_group_tests(const char *group, const struct CMUnitTest *tests, size_t n,
                            CMFixtureFunction setup, CMFixtureFunction teardown);
#define cmocka_run_group_tests_name(name, t, s, d)                                                 \
        _cmocka_run_group_tests(name, t, sizeof(t) / sizeof((t)[0]), s, d)
#define cmocka_run_group_tests(t, s, d)                                                            \
        _cmocka_run_group_tests(#t, t, sizeof(t) / sizeof((t)[0]), s, d)

void print_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void _fail(const char *file, int line) __attribute__((noreturn));
void _skip(const char *file, int line) __attribute__((noreturn));
void _fail_msg(const char *file, int line, const char *fmt, ...)
        __attribute__((noreturn, format(printf, 3, 4)));
void _check(bool ok, const char *what, const char *file, int line);
void _check_int(bool ok, uintmax_t a, uintmax_t b, const char *op, const char *file, int line);
void _check_str(const char *a, const char *b, bool equal, const char *file, int line);

#define skip() _skip(__FILE__, __LINE__)
#define fail() _fail(__FILE__, __LINE__)
#define fail_msg(...) _fail_msg(__FILE__, __LINE__, __VA_ARGS__)
/* Each argument is evaluated once, as with cmocka. */
#define assert_true(c) _check(!!(c), #c, __FILE__, __LINE__)
#define assert_false(c) _check(!(c), "!(" #c ")", __FILE__, __LINE__)
#define assert_non_null(p) _check((p) != NULL, #p " != NULL", __FILE__, __LINE__)
#define assert_null(p) _check((p) == NULL, #p " == NULL", __FILE__, __LINE__)
#define _assert_int(a, b, op, cmp)                                                                 \
        do {                                                                                       \
                uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                                \
                _check_int(a_ cmp b_, a_, b_, op, __FILE__, __LINE__);                             \
        } while (0)
#define assert_int_equal(a, b) _assert_int(a, b, "==", ==)
#define assert_int_not_equal(a, b) _assert_int(a, b, "!=", !=)
#define assert_ptr_equal(a, b)                                                                     \
        _check((const void *)(a) == (const void *)(b), #a " == " #b, __FILE__, __LINE__)
#define assert_string_equal(a, b) _check_str((a), (b), true, __FILE__, __LINE__)
#define assert_memory_equal(a, b, n)                                                               \
        _check(memcmp((a), (b), (n)) == 0, "memory " #a " == " #b, __FILE__, __LINE__)
