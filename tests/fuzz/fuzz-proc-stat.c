/* SPDX-License-Identifier: MIT */
/*
 * proc_parse_stat(): the text of /proc/PID/stat. Its comm field is chosen by
 * the process itself (prctl(PR_SET_NAME), the name of what it executes) and
 * may hold ')', spaces, newlines and digits that look like fields.
 */
#include "fuzz.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        struct proc_stat st;

        memset(&st, 0xa5, sizeof(st));
        if (proc_parse_stat(text, &st) == 0) {
                /* comm is always a string of at most 15 visible bytes in
                 * the kernel; whatever the text, ours must stay a C string
                 * inside its array. */
                FUZZ_CHECK(memchr(st.comm, '\0', sizeof(st.comm)) != NULL);
        }
        free(text);
        return 0;
}
