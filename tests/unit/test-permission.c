/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the permission model (helper/permission.c): the decision
 * table of product.md ("who may adopt what") row by row, the polkit action
 * ids, and reading Yama's ptrace_scope (fail closed on anything odd).
 *
 * The baseline target is the caller's own, plain process: every uid the
 * caller's, uniform gids, dumpable, no capabilities, same user namespace.
 * Each test changes one thing and checks the action, whether the kernel
 * would allow a plain ptrace, and that the reason names the cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "permission.h"

#define CALLER 1000
#define OTHER 1001
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static const int all_scopes[] = {PTRACE_SCOPE_ABSENT, 0, 1, 2, 3};

static struct engine_target own_target(uid_t uid) {
        struct engine_target t = {
                .pid = 4242,
                .uid = {uid, uid, uid, uid},
                .gid = {100, 100, 100, 100},
                .dumpable = true,
                .same_userns = true,
        };
        snprintf(t.comm, sizeof(t.comm), "victim");
        snprintf(t.exe, sizeof(t.exe), "/usr/bin/victim");
        t.start_code = 0x55d0a0000000ULL;
        t.start_stack = 0x7ffd10000000ULL;
        return t;
}

static struct permission_decision decide(uid_t caller, int scope, const struct engine_target *t) {
        /* Poisoned, so that a field the function forgets to set shows. */
        struct permission_decision d;

        struct permission_caller c = {
                .uid = caller, .groups = {27, 100}, .n_groups = 2, .groups_known = true};

        memset(&d, 0xa5, sizeof(d));
        permission_decide(&c, scope, t, &d);
        return d;
}

static void assert_reason_has(const struct permission_decision *d, const char *what) {
        if (!d->reason || !strstr(d->reason, what))
                fail_msg("reason \"%s\" does not mention \"%s\"", d->reason ? d->reason : "(null)",
                         what);
}

/* A target that needs more than the kernel gives the caller: adopt-any at
 * every scope but 3, never "the kernel allows it", and the reason names
 * what makes it so. */
static void assert_needs_adopt_any(uid_t caller, const struct engine_target *t, bool same_user,
                                   const char *why) {
        for (size_t i = 0; i < ELEMENTSOF(all_scopes); i++) {
                int scope = all_scopes[i];
                struct permission_decision d = decide(caller, scope, t);

                if (scope == 3) {
                        assert_int_equal(d.action, PERMISSION_REFUSE);
                        assert_reason_has(&d, "ptrace_scope is 3");
                } else {
                        if (d.action != PERMISSION_ADOPT_ANY)
                                fail_msg("scope %d: action %d, expected adopt-any (%s)", scope,
                                         d.action, why);
                        assert_reason_has(&d, why);
                }
                assert_false(d.kernel_allows);
                assert_int_equal(d.same_user, same_user);
        }
}

/* ---- the caller's own, plain process, per Yama scope ---- */

static void test_own_process_yama_absent_is_adopt_kernel_allows(void **state) {
        struct engine_target t = own_target(CALLER);
        struct permission_decision d = decide(CALLER, PTRACE_SCOPE_ABSENT, &t);

        assert_int_equal(d.action, PERMISSION_ADOPT);
        assert_true(d.same_user);
        assert_true(d.kernel_allows);
        assert_reason_has(&d, "your own process");
}

static void test_own_process_scope0_is_adopt_kernel_allows(void **state) {
        struct engine_target t = own_target(CALLER);
        struct permission_decision d = decide(CALLER, 0, &t);

        assert_int_equal(d.action, PERMISSION_ADOPT);
        assert_true(d.same_user);
        assert_true(d.kernel_allows);
}

static void test_own_process_scope1_is_adopt_but_kernel_blocks(void **state) {
        struct engine_target t = own_target(CALLER);
        struct permission_decision d = decide(CALLER, 1, &t);

        /* adopt (auth_self_keep by default), but the shipped rule must not
         * wave it through: kernel_allows is what it looks at. */
        assert_int_equal(d.action, PERMISSION_ADOPT);
        assert_true(d.same_user);
        assert_false(d.kernel_allows);
        assert_reason_has(&d, "ptrace_scope 1");
}

static void test_own_process_scope2_is_adopt_any(void **state) {
        struct engine_target t = own_target(CALLER);
        struct permission_decision d = decide(CALLER, 2, &t);

        assert_int_equal(d.action, PERMISSION_ADOPT_ANY);
        assert_true(d.same_user);
        assert_false(d.kernel_allows);
        assert_reason_has(&d, "ptrace_scope is 2");
}

static void test_scope3_refuses_everything(void **state) {
        struct engine_target own = own_target(CALLER), other = own_target(OTHER),
                             root = own_target(0);
        const struct engine_target *targets[] = {&own, &other, &root};
        const uid_t callers[] = {CALLER, 0};

        root.cap_prm = root.cap_eff = 0x1ffffffffffULL;
        for (size_t c = 0; c < ELEMENTSOF(callers); c++)
                for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                        struct permission_decision d = decide(callers[c], 3, targets[i]);

                        assert_int_equal(d.action, PERMISSION_REFUSE);
                        assert_false(d.kernel_allows);
                        /* The message says why and that nothing but a reboot helps. */
                        assert_reason_has(&d, "ptrace_scope is 3");
                        assert_reason_has(&d, "reboot");
                }
}

static void test_unknown_scope_never_adopt(void **state) {
        struct engine_target t = own_target(CALLER);

        /* permission_read_ptrace_scope never returns these, but a value
         * the model does not know must not lower the bar. */
        for (int scope = 4; scope < 8; scope++) {
                struct permission_decision d = decide(CALLER, scope, &t);

                assert_int_not_equal(d.action, PERMISSION_ADOPT);
                assert_false(d.kernel_allows);
        }
}

/* ---- targets that need adopt-any ---- */

static void test_other_users_process_needs_adopt_any(void **state) {
        struct engine_target t = own_target(OTHER);

        assert_needs_adopt_any(CALLER, &t, false, "another user");
}

static void test_root_process_needs_adopt_any(void **state) {
        struct engine_target t = own_target(0);

        t.cap_prm = t.cap_eff = 0x1ffffffffffULL;
        assert_needs_adopt_any(CALLER, &t, false, "another user");
}

static void test_setuid_any_uid_differs_needs_adopt_any(void **state) {
        /* real, effective, saved, fs: each one alone is enough (a setuid
         * program keeps the caller's real uid; one that dropped privileges
         * temporarily keeps root as its saved uid). */
        for (int i = 0; i < 4; i++) {
                struct engine_target t = own_target(CALLER);

                t.uid[i] = 0;
                assert_needs_adopt_any(CALLER, &t, false, "another user");
        }
}

static void test_setgid_any_gid_differs_needs_adopt_any(void **state) {
        for (int i = 0; i < 4; i++) {
                struct engine_target t = own_target(CALLER);

                t.gid[i] = 42;
                assert_needs_adopt_any(CALLER, &t, true, "setgid");
        }
}

static void test_group_caller_is_not_in_needs_adopt_any(void **state) {
        /* Every uid the caller's, but a group it is not in: the kernel
         * refuses the caller ptrace (the gids must be the caller's). */
        struct engine_target t = own_target(CALLER);

        for (int i = 0; i < 4; i++)
                t.gid[i] = 4242;
        assert_needs_adopt_any(CALLER, &t, true, "group you are not in");
}

static void test_supplementary_group_counts_as_callers(void **state) {
        /* 27 is one of the caller's groups, not its first one. */
        struct engine_target t = own_target(CALLER);
        struct permission_decision d;

        for (int i = 0; i < 4; i++)
                t.gid[i] = 27;
        d = decide(CALLER, 0, &t);
        assert_int_equal(d.action, PERMISSION_ADOPT);
        assert_true(d.kernel_allows);
}

static void test_unknown_caller_groups_fail_closed(void **state) {
        struct engine_target t = own_target(CALLER);
        struct permission_caller c = {.uid = CALLER, .groups_known = false};
        struct permission_decision d;

        for (size_t i = 0; i < ELEMENTSOF(all_scopes); i++) {
                permission_decide(&c, all_scopes[i], &t, &d);
                assert_false(d.kernel_allows);
                assert_int_not_equal(d.action, PERMISSION_ADOPT);
        }
        permission_decide(&c, 0, &t, &d);
        assert_reason_has(&d, "groups");
}

static void test_non_dumpable_needs_adopt_any(void **state) {
        struct engine_target t = own_target(CALLER);

        t.dumpable = false;
        assert_needs_adopt_any(CALLER, &t, true, "not dumpable");
}

static void test_permitted_capabilities_need_adopt_any(void **state) {
        struct engine_target t = own_target(CALLER);

        t.cap_prm = 1ULL << 21; /* CAP_SYS_ADMIN */
        assert_needs_adopt_any(CALLER, &t, true, "capabilities");
}

static void test_effective_capabilities_need_adopt_any(void **state) {
        struct engine_target t = own_target(CALLER);

        t.cap_eff = 1ULL << 19; /* CAP_SYS_PTRACE */
        assert_needs_adopt_any(CALLER, &t, true, "capabilities");
}

static void test_other_user_namespace_needs_adopt_any(void **state) {
        struct engine_target t = own_target(CALLER);

        t.same_userns = false;
        assert_needs_adopt_any(CALLER, &t, true, "user namespace");
}

static void test_first_cause_is_the_reason(void **state) {
        /* Several causes at once: the reason names the most important one
         * (the owner first), and the action is still adopt-any. */
        struct engine_target t = own_target(OTHER);
        struct permission_decision d;

        t.dumpable = false;
        t.cap_eff = 1;
        t.same_userns = false;
        d = decide(CALLER, 1, &t);
        assert_int_equal(d.action, PERMISSION_ADOPT_ANY);
        assert_reason_has(&d, "another user");
}

/* ---- a root caller ---- */

static void test_root_caller_own_plain_process_is_adopt(void **state) {
        struct engine_target t = own_target(0);
        struct permission_decision d = decide(0, PTRACE_SCOPE_ABSENT, &t);

        assert_int_equal(d.action, PERMISSION_ADOPT);
        assert_true(d.same_user);
        assert_true(d.kernel_allows);
}

static void test_root_caller_users_process_goes_to_polkit(void **state) {
        /* Root goes through polkit like everyone (polkit authorizes root
         * subjects itself): never refused below scope 3, and the model
         * still says which action it is. */
        struct engine_target user = own_target(CALLER), capable = own_target(0);

        capable.cap_prm = capable.cap_eff = 0x1ffffffffffULL;
        for (size_t i = 0; i < ELEMENTSOF(all_scopes); i++) {
                int scope = all_scopes[i];
                struct permission_decision a = decide(0, scope, &user);
                struct permission_decision b = decide(0, scope, &capable);

                if (scope == 3) {
                        assert_int_equal(a.action, PERMISSION_REFUSE);
                        assert_int_equal(b.action, PERMISSION_REFUSE);
                        continue;
                }
                assert_int_equal(a.action, PERMISSION_ADOPT_ANY);
                assert_false(a.same_user);
                assert_int_not_equal(b.action, PERMISSION_REFUSE);
                assert_true(b.same_user);
        }
}

/* ---- action ids ---- */

/* engine_target_changed(): what makes a second look at a process a
 * different one from what polkit was asked about (reptyrd's worker) or
 * what was adopted (a hangup guard's release). */
static void test_same_process_unchanged(void **state) {
        struct engine_target was = own_target(CALLER), now = was;

        assert_null(engine_target_changed(&was, &now));
        /* Any program may rename itself: not a change of identity. */
        snprintf(now.comm, sizeof(now.comm), "renamed");
        assert_null(engine_target_changed(&was, &now));
        /* Its file replaced on disk (a package upgrade): still running it. */
        snprintf(now.exe, sizeof(now.exe), "/usr/bin/victim (deleted)");
        assert_null(engine_target_changed(&was, &now));
        snprintf(now.exe, sizeof(now.exe), "/usr/bin/victim2");
        assert_non_null(engine_target_changed(&was, &now));
        snprintf(now.exe, sizeof(now.exe), "/usr/bin/vic (deleted)");
        assert_non_null(engine_target_changed(&was, &now));
}

static void test_every_identity_fact_is_a_change(void **state) {
        struct engine_target was = own_target(CALLER), now;

        for (int i = 0; i < 4; i++) {
                now = was;
                now.uid[i] = 0; /* a setuid-root exec changes the euid, saved, fs */
                assert_non_null(engine_target_changed(&was, &now));
                now = was;
                now.gid[i] = 0;
                assert_non_null(engine_target_changed(&was, &now));
        }
        now = was;
        now.cap_prm = 1;
        assert_non_null(engine_target_changed(&was, &now));
        now = was;
        now.cap_eff = 1;
        assert_non_null(engine_target_changed(&was, &now));
        now = was;
        now.dumpable = false;
        assert_non_null(engine_target_changed(&was, &now));
        now = was;
        now.same_userns = false;
        assert_non_null(engine_target_changed(&was, &now));
        now = was;
        now.seccomp = 2;
        assert_non_null(engine_target_changed(&was, &now));
        now = was;
        snprintf(now.exe, sizeof(now.exe), "/usr/bin/su");
        assert_string_equal(engine_target_changed(&was, &now), "the program it runs");
        /* The same program exec'd anew: loaded elsewhere. */
        now = was;
        now.start_stack += 0x1000;
        assert_non_null(engine_target_changed(&was, &now));
        now = was;
        now.start_code += 0x1000;
        assert_non_null(engine_target_changed(&was, &now));
}

static void test_unreadable_identity_counts_as_changed(void **state) {
        struct engine_target was = own_target(CALLER), now = was;

        was.exe[0] = now.exe[0] = '\0';
        assert_non_null(engine_target_changed(&was, &now));
        was = now = own_target(CALLER);
        was.start_stack = now.start_stack = 0;
        assert_non_null(engine_target_changed(&was, &now));
}

static void test_action_ids(void **state) {
        assert_string_equal(permission_action_id(PERMISSION_ADOPT), "org.reptyr.Reptyr1.adopt");
        assert_string_equal(permission_action_id(PERMISSION_ADOPT_ANY),
                            "org.reptyr.Reptyr1.adopt-any");
        assert_null(permission_action_id(PERMISSION_REFUSE));
        assert_null(permission_action_id((enum permission_action)7));
}

/* ---- reading ptrace_scope ---- */

static char scope_dir[PATH_MAX];

static int make_scope_dir(void **state) {
        snprintf(scope_dir, sizeof(scope_dir), "/tmp/reptyr-test-permission-XXXXXX");
        if (!mkdtemp(scope_dir))
                return -1;
        return 0;
}

static int remove_scope_dir(void **state) {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scope_dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* Write `content` (len bytes) to a fresh file and read it as ptrace_scope. */
static int read_scope_of(const char *content, size_t len) {
        char path[PATH_MAX + 32];
        static int n;
        int fd;

        snprintf(path, sizeof(path), "%s/scope-%d", scope_dir, n++);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, len), (ssize_t)len);
        close(fd);
        return permission_read_ptrace_scope(path);
}

#define READ_SCOPE(s) read_scope_of(s, sizeof(s) - 1)

static void test_read_scope_missing_file_is_absent(void **state) {
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/no-such-file", scope_dir);
        assert_int_equal(permission_read_ptrace_scope(path), PTRACE_SCOPE_ABSENT);
        snprintf(path, sizeof(path), "%s/no-such-dir/ptrace_scope", scope_dir);
        assert_int_equal(permission_read_ptrace_scope(path), PTRACE_SCOPE_ABSENT);
}

static void test_read_scope_values(void **state) {
        assert_int_equal(READ_SCOPE("0\n"), 0);
        assert_int_equal(READ_SCOPE("1\n"), 1);
        assert_int_equal(READ_SCOPE("2\n"), 2);
        assert_int_equal(READ_SCOPE("3\n"), 3);
        /* Without the newline, as a file written by hand may be. */
        assert_int_equal(READ_SCOPE("1"), 1);
}

static void test_read_scope_nonsense_fails_closed(void **state) {
        /* Anything odd is an error (the helper then refuses), never a
         * guess, and in particular never "absent" or 0. */
#define BAD(s)                                                                                     \
        { s, sizeof(s) - 1 }
        static const struct {
                const char *content;
                size_t len;
        } bad[] = {
                BAD("4\n"),  BAD("9\n"),  BAD(""),     BAD("\n"),   BAD("garbage\n"), BAD("-1\n"),
                BAD("10\n"), BAD("01\n"), BAD("1 \n"), BAD(" 1\n"), BAD("1x"),        BAD("\0\n"),
        };
#undef BAD

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = read_scope_of(bad[i].content, bad[i].len);

                if (r != -EIO)
                        fail_msg("ptrace_scope file \"%s\" (%zu bytes): got %d, expected -EIO",
                                 bad[i].content, bad[i].len, r);
        }
}

static void test_read_scope_directory_fails_closed(void **state) {
        int r = permission_read_ptrace_scope(scope_dir);

        assert_true(r < PTRACE_SCOPE_ABSENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_own_process_yama_absent_is_adopt_kernel_allows),
                cmocka_unit_test(test_own_process_scope0_is_adopt_kernel_allows),
                cmocka_unit_test(test_own_process_scope1_is_adopt_but_kernel_blocks),
                cmocka_unit_test(test_own_process_scope2_is_adopt_any),
                cmocka_unit_test(test_scope3_refuses_everything),
                cmocka_unit_test(test_unknown_scope_never_adopt),
                cmocka_unit_test(test_other_users_process_needs_adopt_any),
                cmocka_unit_test(test_root_process_needs_adopt_any),
                cmocka_unit_test(test_setuid_any_uid_differs_needs_adopt_any),
                cmocka_unit_test(test_setgid_any_gid_differs_needs_adopt_any),
                cmocka_unit_test(test_group_caller_is_not_in_needs_adopt_any),
                cmocka_unit_test(test_supplementary_group_counts_as_callers),
                cmocka_unit_test(test_unknown_caller_groups_fail_closed),
                cmocka_unit_test(test_non_dumpable_needs_adopt_any),
                cmocka_unit_test(test_permitted_capabilities_need_adopt_any),
                cmocka_unit_test(test_effective_capabilities_need_adopt_any),
                cmocka_unit_test(test_other_user_namespace_needs_adopt_any),
                cmocka_unit_test(test_first_cause_is_the_reason),
                cmocka_unit_test(test_root_caller_own_plain_process_is_adopt),
                cmocka_unit_test(test_root_caller_users_process_goes_to_polkit),
                cmocka_unit_test(test_same_process_unchanged),
                cmocka_unit_test(test_every_identity_fact_is_a_change),
                cmocka_unit_test(test_unreadable_identity_counts_as_changed),
                cmocka_unit_test(test_action_ids),
                cmocka_unit_test(test_read_scope_missing_file_is_absent),
                cmocka_unit_test(test_read_scope_values),
                cmocka_unit_test(test_read_scope_nonsense_fails_closed),
                cmocka_unit_test(test_read_scope_directory_fails_closed),
        };

        return cmocka_run_group_tests(tests, make_scope_dir, remove_scope_dir);
}
