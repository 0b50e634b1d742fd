/* SPDX-License-Identifier: MIT */
/*
 * reptyrd's event loop guard (helper/loop-guard.c), on a real loop and a
 * real socket: a step that closes a TCP socket told to linger an hour with
 * unsent data its peer never reads would wait that hour in close(); the
 * guard's watcher interrupts it, so the loop goes on. This is the close
 * sd-bus does on the loop for the fds of a message reptyrd never reads
 * (a call whose signature names no fd).
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reptyrd.h"

static int lingering_socket(int *peer) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s, small = 4096;
        struct linger l = {.l_onoff = 1, .l_linger = 3600};
        static char junk[65536];

        assert_true(srv >= 0);
        assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(srv, 1), 0);
        assert_int_equal(getsockname(srv, (struct sockaddr *)&a, &len), 0);
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(s >= 0);
        assert_int_equal(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        (void)connect(s, (struct sockaddr *)&a, sizeof(a)); /* EINPROGRESS */
        *peer = accept(srv, NULL, NULL);
        assert_true(*peer >= 0);
        close(srv);
        assert_int_equal(setsockopt(*peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        while (send(s, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
                ;
        assert_int_equal(setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
        return s;
}

static int close_it(sd_event_source *src, void *userdata) {
        close(*(int *)userdata); /* waits for the peer, or for a signal */
        return sd_event_exit(sd_event_source_get_event(src), 42);
}

static void test_a_lingering_close_does_not_stop_the_loop(void **state) {
        sd_event *e = NULL;
        struct timespec t0, t1;
        int peer, s = lingering_socket(&peer);

        assert_int_equal(loop_guard_start(), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(sd_event_add_defer(e, NULL, close_it, &s), 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(loop_guard_run(e), 42);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* Not a timing: without the guard, close() waits the hour. */
        assert_true(t1.tv_sec - t0.tv_sec < 60);
        sd_event_unref(e);
        close(peer);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_lingering_close_does_not_stop_the_loop),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
