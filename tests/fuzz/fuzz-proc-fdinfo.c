/* SPDX-License-Identifier: MIT */
/*
 * The parsers of /proc/PID/fdinfo/N text: the open flags of any fd
 * (proc_list_fds), the "tfd:" registrations of an epoll fd
 * (proc_parse_epoll) and the "tty-index:" of a ptmx fd (session mode). The
 * target owns these fds; an epoll fd's text grows with what it registered.
 *
 * Input: one byte, the room the caller gives proc_parse_epoll() (0..64
 * entries, as its callers use up to 64), then the fdinfo text.
 */
#include "fuzz.h"

#include "proc.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct proc_epoll_entry e[64];
        size_t max;
        ssize_t n;
        char *text;

        if (size < 1)
                return 0;
        max = data[0] % (ELEMENTSOF(e) + 1);
        text = fuzz_text(data + 1, size - 1);

        (void)proc_parse_fdinfo_flags(text);
        (void)proc_parse_tty_index(text);

        /* Guard entries past the room given: never written. */
        memset(e, 0x5a, sizeof(e));
        n = proc_parse_epoll(text, e, max);
        FUZZ_CHECK(n == -EINVAL || n == -E2BIG || (n >= 0 && (size_t)n <= max));
        for (size_t i = max; i < ELEMENTSOF(e); i++) {
                const unsigned char *b = (const unsigned char *)&e[i];
                for (size_t j = 0; j < sizeof(e[i]); j++)
                        FUZZ_CHECK(b[j] == 0x5a);
        }
        free(text);
        return 0;
}
