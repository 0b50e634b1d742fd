/* SPDX-License-Identifier: MIT */
/*
 * What `reptyrctl inspect` reports about a target: the Inspect() result of
 * the reptyrd helper (keys as in dbus/org.reptyr.Reptyr1.xml), or the same
 * filled in by the engine in-process (--direct). Printed as aligned
 * "key: value" lines or as one JSON object.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "engine.h"

struct target_info {
        uint32_t pid;
        uint32_t uid;
        char comm[64];
        char exe[4096];
        char tty[64];
        char mode[16];
        int fds[ENGINE_MAX_FDS];
        size_t n_fds;
        char personality[32];
        char action[128];
        char authorized[16];
        char reason[1024];
        /* Session mode: who holds the terminal's master, and what would
         * move with the session (through the helper only). */
        int holders[ENGINE_MAX_HOLDERS];
        size_t n_holders;
        int members[ENGINE_MAX_MEMBERS];
        size_t n_members;
};

/* "  key: value" lines, keys right-aligned, in the order of the interface
 * XML. Control characters in values (a process chooses its own comm) are
 * shown as \xNN, so a value cannot drive the terminal. */
void target_info_print_text(const struct target_info *info, FILE *f);

/* One JSON object on one line, same keys; numbers for pid/uid, an array of
 * numbers for fds, strings otherwise (bytes that are not UTF-8 become
 * U+FFFD). */
void target_info_print_json(const struct target_info *info, FILE *f);
