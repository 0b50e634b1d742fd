/* SPDX-License-Identifier: MIT */
/* What the libFuzzer targets share. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as the NUL-terminated text a parser gets from proc_read(): a
 * NUL inside the input ends the text there, as it would for the parser. The
 * buffer is exactly as large as the input (+1), so that ASan sees every
 * read past its end. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* A broken invariant is a finding: say which, and crash so that libFuzzer
 * keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
                                #cond);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)
