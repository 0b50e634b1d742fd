/* SPDX-License-Identifier: MIT */
/* What every part of reptyrd reports to: the log, and the manager's
 * "anything left?" when a request or a guard ends (exit when stopping or
 * released, else re-arm the idle timer). Calls nothing above it. */
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "reptyrd.h"

void log_line(const char *fmt, ...) {
        va_list ap;

        /* stderr: the journal under systemd, the bus's log in the tests. */
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void idle_rearm(struct manager *m) {
        if (!m->idle || m->releasing || m->stopping)
                return;
        (void)sd_event_source_set_time_relative(m->idle, m->idle_usec);
        (void)sd_event_source_set_enabled(m->idle, SD_EVENT_ONESHOT);
}

/* Called whenever a request ends. */
void manager_check_exit(struct manager *m) {
        if (m->stopping && m->n_requests == 0)
                (void)sd_event_exit(m->event, 0);
        else if (m->releasing && m->n_requests == 0 && m->n_guards == 0)
                (void)sd_event_exit(m->event, 0);
        else if (m->n_requests == 0 && m->n_guards == 0)
                idle_rearm(m);
}
