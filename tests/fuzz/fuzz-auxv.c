/* SPDX-License-Identifier: MIT */
/*
 * engine_auxv_word_size(): the word size of a target from the bytes of its
 * /proc/PID/auxv (pairs of words ending with AT_NULL), read into a 4096-byte
 * buffer. The kernel writes that file, but what it holds depends on the
 * program (a 32-bit one has 4-byte words) and the helper must never read
 * past what it read.
 */
#include "fuzz.h"

#include "engine-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        unsigned char *buf;
        unsigned w;

        /* As check_personality() reads it: at most 4096 bytes. */
        if (size > 4096)
                size = 4096;
        /* An exact-size copy, so that ASan sees any read past the end. */
        buf = malloc(size ? size : 1);
        if (!buf)
                abort();
        memcpy(buf, data, size);
        w = engine_auxv_word_size(buf, size);
        FUZZ_CHECK(w == 0 || w == 4 || w == 8);
        free(buf);
        return 0;
}
