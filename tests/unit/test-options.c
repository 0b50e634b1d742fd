/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of reptyrd's option parsing and error mapping (helper/options.c):
 * the a{sv} options of Adopt()/AdoptPID() as dbus/README.md documents them,
 * and one bus error name per engine error kind.
 *
 * Messages are built without a bus daemon: an sd_bus started on one end of a
 * socketpair can create method calls; they are sealed and rewound, which is
 * the state a handler gets them in.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka.h needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <systemd/sd-bus.h>

#include "options.h"

#define INVALID_ARGS "org.reptyr.Reptyr1.Error.InvalidArgs"
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static sd_bus *bus;
static int fds[2] = {-1, -1};

static int bus_setup(void **state) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                return -1;
        if (sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0)
                return -1;
        return 0;
}

static int bus_teardown(void **state) {
        sd_bus_close(bus);
        bus = sd_bus_unref(bus);
        if (fds[1] >= 0)
                close(fds[1]);
        return 0;
}

static sd_bus_message *new_call(void) {
        sd_bus_message *m = NULL;

        assert_int_equal(sd_bus_message_new_method_call(bus, &m, "org.reptyr.Reptyr1",
                                                        "/org/reptyr/Reptyr1", "org.reptyr.Reptyr1",
                                                        "AdoptPID"),
                         0);
        return m;
}

/* Seal and rewind, then skip the pid: the message is positioned at the
 * options, as in method_adopt_pid(). */
static void ready(sd_bus_message *m) {
        uint32_t pid;

        assert_int_equal(sd_bus_message_seal(m, 1, 0), 0);
        assert_true(sd_bus_message_rewind(m, true) >= 0);
        assert_true(sd_bus_message_read(m, "u", &pid) > 0);
        assert_int_equal(pid, 4242);
}

struct parsed {
        int r;
        struct engine_options opts;
        const char *mode;
        sd_bus_error error;
};

static void parsed_free(struct parsed *p) { sd_bus_error_free(&p->error); }

/* Parse a message "u a{sv}" whose dictionary holds n entries given as
 * sd_bus_message_append() arguments for "{sv}" each. */
#define PARSE(p, n, ...)                                                                           \
        do {                                                                                       \
                sd_bus_message *m_ = new_call();                                                   \
                assert_true(sd_bus_message_append(m_, "ua{sv}", 4242, n, ##__VA_ARGS__) >= 0);     \
                ready(m_);                                                                         \
                memset(&(p), 0, sizeof(p));                                                        \
                (p).mode = "unset";                                                                \
                (p).r = options_parse(m_, &(p).opts, &(p).mode, &(p).error);                       \
                sd_bus_message_unref(m_);                                                          \
        } while (0)

static void assert_ok(const struct parsed *p) {
        if (p->r < 0 || sd_bus_error_is_set(&p->error))
                fail_msg("options_parse failed: %d %s: %s", p->r,
                         p->error.name ? p->error.name : "(no error name)",
                         p->error.message ? p->error.message : "");
}

/* Refused as InvalidArgs, and the message names the option (and, where
 * given, the bad value) so that the caller knows what to fix. */
static void assert_invalid(const struct parsed *p, const char *key, const char *value) {
        if (!sd_bus_error_is_set(&p->error))
                fail_msg("option \"%s\" accepted (r=%d), expected InvalidArgs", key, p->r);
        assert_string_equal(p->error.name, INVALID_ARGS);
        assert_true(p->r < 0);
        if (!strstr(p->error.message, key))
                fail_msg("error message \"%s\" does not name the option \"%s\"", p->error.message,
                         key);
        if (value && !strstr(p->error.message, value))
                fail_msg("error message \"%s\" does not name the value \"%s\"", p->error.message,
                         value);
}

/* ---- defaults ---- */

static void test_no_options_is_process_mode_defaults(void **state) {
        struct parsed p;

        PARSE(p, 0);
        assert_ok(&p);
        assert_string_equal(p.mode, "process");
        assert_int_equal(p.opts.fds, ENGINE_FDS_TERMINAL);
        assert_int_equal(p.opts.rows, 0);
        assert_int_equal(p.opts.cols, 0);
        assert_false(p.opts.dry_run);
        parsed_free(&p);
}

/* ---- mode ---- */

static void test_mode_process_and_session(void **state) {
        struct parsed p;

        PARSE(p, 1, "mode", "s", "process");
        assert_ok(&p);
        assert_string_equal(p.mode, "process");
        parsed_free(&p);

        PARSE(p, 1, "mode", "s", "session");
        assert_ok(&p);
        assert_string_equal(p.mode, "session");
        parsed_free(&p);
}

static void test_mode_bad_value(void **state) {
        static const char *const bad[] = {"", "Process", "sessions", "group", "process "};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct parsed p;

                PARSE(p, 1, "mode", "s", bad[i]);
                assert_invalid(&p, "mode", bad[i][0] ? bad[i] : NULL);
                parsed_free(&p);
        }
}

static void test_mode_wrong_type(void **state) {
        struct parsed p;

        PARSE(p, 1, "mode", "u", 1);
        assert_invalid(&p, "mode", NULL);
        parsed_free(&p);

        PARSE(p, 1, "mode", "b", 1);
        assert_invalid(&p, "mode", NULL);
        parsed_free(&p);
}

/* ---- fds ---- */

static void test_fds_terminal_and_stdio(void **state) {
        struct parsed p;

        PARSE(p, 1, "fds", "s", "stdio");
        assert_ok(&p);
        assert_int_equal(p.opts.fds, ENGINE_FDS_STDIO);
        parsed_free(&p);

        PARSE(p, 2, "fds", "s", "stdio", "fds", "s", "terminal");
        assert_ok(&p);
        assert_int_equal(p.opts.fds, ENGINE_FDS_TERMINAL);
        parsed_free(&p);
}

static void test_fds_bad_value_and_type(void **state) {
        struct parsed p;

        PARSE(p, 1, "fds", "s", "all");
        assert_invalid(&p, "fds", "all");
        parsed_free(&p);

        PARSE(p, 1, "fds", "s", "");
        assert_invalid(&p, "fds", NULL);
        parsed_free(&p);

        PARSE(p, 1, "fds", "i", 0);
        assert_invalid(&p, "fds", NULL);
        parsed_free(&p);
}

/* ---- rows / cols ---- */

static void test_rows_cols_as_q_and_u(void **state) {
        struct parsed p;

        PARSE(p, 2, "rows", "q", (uint16_t)24, "cols", "q", (uint16_t)80);
        assert_ok(&p);
        assert_int_equal(p.opts.rows, 24);
        assert_int_equal(p.opts.cols, 80);
        parsed_free(&p);

        PARSE(p, 2, "rows", "u", (uint32_t)50, "cols", "u", (uint32_t)132);
        assert_ok(&p);
        assert_int_equal(p.opts.rows, 50);
        assert_int_equal(p.opts.cols, 132);
        parsed_free(&p);
}

static void test_rows_cols_bounds(void **state) {
        static const char *const keys[] = {"rows", "cols"};

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *key = keys[i];
                struct parsed p;

                /* 1 and 65535 are the edges that work... */
                PARSE(p, 1, key, "u", (uint32_t)1);
                assert_ok(&p);
                assert_int_equal(i == 0 ? p.opts.rows : p.opts.cols, 1);
                parsed_free(&p);

                PARSE(p, 1, key, "u", (uint32_t)65535);
                assert_ok(&p);
                assert_int_equal(i == 0 ? p.opts.rows : p.opts.cols, 65535);
                parsed_free(&p);

                PARSE(p, 1, key, "q", (uint16_t)65535);
                assert_ok(&p);
                assert_int_equal(i == 0 ? p.opts.rows : p.opts.cols, 65535);
                parsed_free(&p);

                /* ... 0 and 65536 do not (0 would mean "copy the old size"
                 * to the engine; 65536 does not fit a winsize). */
                PARSE(p, 1, key, "u", (uint32_t)0);
                assert_invalid(&p, key, "0");
                parsed_free(&p);

                PARSE(p, 1, key, "q", (uint16_t)0);
                assert_invalid(&p, key, "0");
                parsed_free(&p);

                PARSE(p, 1, key, "u", (uint32_t)65536);
                assert_invalid(&p, key, "65536");
                parsed_free(&p);

                PARSE(p, 1, key, "u", (uint32_t)UINT32_MAX);
                assert_invalid(&p, key, "4294967295");
                parsed_free(&p);
        }
}

static void test_rows_cols_wrong_type(void **state) {
        struct parsed p;

        PARSE(p, 1, "rows", "i", (int32_t)24);
        assert_invalid(&p, "rows", NULL);
        parsed_free(&p);

        PARSE(p, 1, "cols", "t", (uint64_t)80);
        assert_invalid(&p, "cols", NULL);
        parsed_free(&p);

        PARSE(p, 1, "rows", "s", "24");
        assert_invalid(&p, "rows", NULL);
        parsed_free(&p);
}

/* ---- dry-run ---- */

static void test_dry_run(void **state) {
        struct parsed p;

        PARSE(p, 1, "dry-run", "b", 1);
        assert_ok(&p);
        assert_true(p.opts.dry_run);
        parsed_free(&p);

        PARSE(p, 1, "dry-run", "b", 0);
        assert_ok(&p);
        assert_false(p.opts.dry_run);
        parsed_free(&p);

        PARSE(p, 1, "dry-run", "s", "true");
        assert_invalid(&p, "dry-run", NULL);
        parsed_free(&p);

        PARSE(p, 1, "dry-run", "u", 1);
        assert_invalid(&p, "dry-run", NULL);
        parsed_free(&p);
}

/* ---- force ---- */

static void test_force(void **state) {
        struct parsed p;

        PARSE(p, 0);
        assert_ok(&p);
        assert_false(p.opts.force);
        parsed_free(&p);

        PARSE(p, 1, "force", "b", 1);
        assert_ok(&p);
        assert_true(p.opts.force);
        assert_false(p.opts.dry_run);
        parsed_free(&p);

        PARSE(p, 1, "force", "b", 0);
        assert_ok(&p);
        assert_false(p.opts.force);
        parsed_free(&p);

        PARSE(p, 1, "force", "s", "yes");
        assert_invalid(&p, "force", NULL);
        parsed_free(&p);

        PARSE(p, 1, "force", "u", 1);
        assert_invalid(&p, "force", NULL);
        parsed_free(&p);
}

/* ---- everything at once, unknown keys ---- */

static void test_all_options_together(void **state) {
        struct parsed p;

        PARSE(p, 5, "dry-run", "b", 1, "cols", "u", (uint32_t)100, "mode", "s", "process", "fds",
              "s", "stdio", "rows", "q", (uint16_t)40);
        assert_ok(&p);
        assert_string_equal(p.mode, "process");
        assert_int_equal(p.opts.fds, ENGINE_FDS_STDIO);
        assert_int_equal(p.opts.rows, 40);
        assert_int_equal(p.opts.cols, 100);
        assert_true(p.opts.dry_run);
        parsed_free(&p);
}

static void test_unknown_key(void **state) {
        struct parsed p;

        /* The helper rejects keys it does not know, so that a client can
         * tell an old helper from one that honours a new option. */
        PARSE(p, 1, "flavour", "s", "vanilla");
        assert_invalid(&p, "flavour", NULL);
        parsed_free(&p);

        PARSE(p, 2, "rows", "q", (uint16_t)24, "Rows", "q", (uint16_t)24);
        assert_invalid(&p, "Rows", NULL);
        parsed_free(&p);

        PARSE(p, 1, "", "b", 1);
        assert_invalid(&p, "\"\"", NULL);
        parsed_free(&p);
}

static void test_error_after_a_good_option_still_refuses(void **state) {
        struct parsed p;

        PARSE(p, 2, "mode", "s", "session", "fds", "s", "everything");
        assert_invalid(&p, "fds", "everything");
        parsed_free(&p);
}

/* ---- malformed messages ---- */

static void test_not_a_dictionary_is_an_errno(void **state) {
        sd_bus_message *m = new_call();
        struct engine_options opts = {0};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *mode = NULL;
        uint32_t pid;
        int r;

        assert_true(sd_bus_message_append(m, "us", 4242, "mode=session") >= 0);
        assert_int_equal(sd_bus_message_seal(m, 1, 0), 0);
        assert_true(sd_bus_message_rewind(m, true) >= 0);
        assert_true(sd_bus_message_read(m, "u", &pid) > 0);
        r = options_parse(m, &opts, &mode, &error);
        assert_true(r < 0);
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);

        /* a{ss}, not a{sv}. */
        m = new_call();
        assert_true(sd_bus_message_append(m, "ua{ss}", 4242, 1, "mode", "session") >= 0);
        assert_int_equal(sd_bus_message_seal(m, 1, 0), 0);
        assert_true(sd_bus_message_rewind(m, true) >= 0);
        assert_true(sd_bus_message_read(m, "u", &pid) > 0);
        r = options_parse(m, &opts, &mode, &error);
        assert_true(r < 0);
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
}

/* ---- error names ---- */

static void test_error_bus_names(void **state) {
        static const struct {
                enum engine_error_kind kind;
                const char *name;
        } table[] = {
                {ENGINE_ERR_INVALID, "org.reptyr.Reptyr1.Error.InvalidArgs"},
                {ENGINE_ERR_NO_SUCH_PROCESS, "org.reptyr.Reptyr1.Error.NoSuchProcess"},
                {ENGINE_ERR_NOT_A_TERMINAL, "org.reptyr.Reptyr1.Error.NotATerminal"},
                {ENGINE_ERR_HAS_CHILDREN, "org.reptyr.Reptyr1.Error.HasChildren"},
                {ENGINE_ERR_SECCOMP, "org.reptyr.Reptyr1.Error.Seccomp"},
                {ENGINE_ERR_UNSUPPORTED, "org.reptyr.Reptyr1.Error.Unsupported"},
                {ENGINE_ERR_TARGET_GONE, "org.reptyr.Reptyr1.Error.TargetGone"},
                {ENGINE_ERR_BUSY, "org.reptyr.Reptyr1.Error.Busy"},
                {ENGINE_ERR_PERMISSION, "org.freedesktop.DBus.Error.AccessDenied"},
                {ENGINE_ERR_FAILED, "org.reptyr.Reptyr1.Error.Failed"},
        };

        /* Every kind has its row here: a new kind needs a name. */
        assert_int_equal(ELEMENTSOF(table), _ENGINE_ERR_MAX - 1);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const char *got = options_error_bus_name(table[i].kind);

                assert_non_null(got);
                if (strcmp(got, table[i].name) != 0)
                        fail_msg("engine error kind %d maps to %s, expected %s", table[i].kind, got,
                                 table[i].name);
        }
}

static void test_error_bus_name_out_of_range_is_failed(void **state) {
        assert_string_equal(options_error_bus_name(ENGINE_OK), "org.reptyr.Reptyr1.Error.Failed");
        assert_string_equal(options_error_bus_name(_ENGINE_ERR_MAX),
                            "org.reptyr.Reptyr1.Error.Failed");
        assert_string_equal(options_error_bus_name((enum engine_error_kind) - 1),
                            "org.reptyr.Reptyr1.Error.Failed");
        assert_string_equal(options_error_bus_name((enum engine_error_kind)1000),
                            "org.reptyr.Reptyr1.Error.Failed");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_options_is_process_mode_defaults),
                cmocka_unit_test(test_mode_process_and_session),
                cmocka_unit_test(test_mode_bad_value),
                cmocka_unit_test(test_mode_wrong_type),
                cmocka_unit_test(test_fds_terminal_and_stdio),
                cmocka_unit_test(test_fds_bad_value_and_type),
                cmocka_unit_test(test_rows_cols_as_q_and_u),
                cmocka_unit_test(test_rows_cols_bounds),
                cmocka_unit_test(test_rows_cols_wrong_type),
                cmocka_unit_test(test_dry_run),
                cmocka_unit_test(test_force),
                cmocka_unit_test(test_all_options_together),
                cmocka_unit_test(test_unknown_key),
                cmocka_unit_test(test_error_after_a_good_option_still_refuses),
                cmocka_unit_test(test_not_a_dictionary_is_an_errno),
                cmocka_unit_test(test_error_bus_names),
                cmocka_unit_test(test_error_bus_name_out_of_range_is_failed),
        };

        return cmocka_run_group_tests(tests, bus_setup, bus_teardown);
}
