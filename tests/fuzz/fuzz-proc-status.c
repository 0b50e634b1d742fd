/* SPDX-License-Identifier: MIT */
/*
 * proc_parse_status(): the text of /proc/PID/status, whose Name: line is
 * the process's own choice (the kernel escapes it, but nothing here may
 * rely on that).
 */
#include "fuzz.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        struct proc_status st;
        int r;

        memset(&st, 0xa5, sizeof(st));
        r = proc_parse_status(text, &st);
        FUZZ_CHECK(r == 0 || r == -22 /* -EINVAL */);
        free(text);
        return 0;
}
