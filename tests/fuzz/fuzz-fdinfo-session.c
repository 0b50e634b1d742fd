/* SPDX-License-Identifier: MIT */
/* Reaches session.c's static tty_index() for fuzz-proc-fdinfo: this file
 * includes session.c (its object in the engine archive is then not linked). */
#include "session.c"

int fuzz_tty_index(const char *fdinfo);

int fuzz_tty_index(const char *fdinfo) { return tty_index(fdinfo); }
