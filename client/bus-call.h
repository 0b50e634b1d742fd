/* SPDX-License-Identifier: MIT */
/*
 * reptyrctl's calls to the reptyrd helper on the system bus
 * (org.reptyr.Reptyr1, see dbus/org.reptyr.Reptyr1.xml). Library-like: it
 * never prints; failures come back as a negative errno plus, for errors the
 * bus or the helper sent, the D-Bus error in a struct bus_failure.
 *
 * bus-call.c implements it with sd-bus; a build without libsystemd gets
 * bus-call-none.c, whose reptyrctl has --direct only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "target-info.h"

struct bus_adopt_request {
        int pidfd;
        const char *mode;          /* NULL (process) or "session" */
        const char *fds;           /* "terminal" or "stdio" */
        unsigned short rows, cols; /* 0: not sent, the helper keeps the old size */
        bool dry_run;
        bool force;       /* adopt even when another session's process shares the terminal */
        bool interactive; /* polkit may ask for a password (ALLOW_INTERACTIVE_AUTHORIZATION) */
        int interrupt_fd; /* -1, or an fd (a signalfd) whose readability ends the wait */
};

/* The result keys of Adopt() that reptyrctl uses; unknown keys are ignored. */
struct bus_adoption {
        int master_fd; /* owned by the caller, close-on-exec, >= 3 */
        uint32_t pid;
        char tty[64];
        char old_tty[64];
        char mode[16];
        char personality[32];
        int replaced_fds[ENGINE_MAX_FDS];
        size_t n_replaced;
        bool was_stopped;
};

/* A failed call: the D-Bus error the bus or the helper answered with, or
 * one sd-bus made up for a local failure (a broken connection, a timeout).
 * name is "" if there was none. */
struct bus_failure {
        char name[256];
        char message[1024];
};

struct bus_connection;

/* Whether this reptyrctl was built with D-Bus support at all. */
bool bus_available(void);

/* Connect to the system bus ($DBUS_SYSTEM_BUS_ADDRESS if set). */
int bus_connect(struct bus_connection **ret);
void bus_disconnect(struct bus_connection *c);
static inline void bus_disconnectp(struct bus_connection **c) {
        if (*c)
                bus_disconnect(*c);
}

/* Adopt(pidfd, options). On success ret->master_fd is the new terminal's
 * master (a placeholder fd for a dry run). Returns -EINTR if
 * req->interrupt_fd became readable before the answer came: the caller then
 * goes away, and the helper leaves the target as it was. */
int bus_adopt(struct bus_connection *c, const struct bus_adopt_request *req,
              struct bus_adoption *ret, struct bus_failure *failure);

/* Inspect(pidfd): never prompts. */
int bus_inspect(struct bus_connection *c, int pidfd, struct target_info *ret,
                struct bus_failure *failure);
