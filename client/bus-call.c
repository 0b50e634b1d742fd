/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bus-call.h"
#include "bus-names.h"
#include "util.h"

#define REPTYRD_NAME REPTYR_BUS_NAME
#define REPTYRD_PATH REPTYR_BUS_PATH
#define REPTYRD_INTERFACE REPTYR_BUS_INTERFACE

#define USEC_PER_MINUTE (60ULL * 1000 * 1000)
/* A call that may ask for a password waits for a person typing it; polkit
 * itself gives up on an unanswered authentication after a while. Calls
 * that cannot prompt use sd-bus's default (25 s). */
#define INTERACTIVE_CALL_TIMEOUT_USEC (25 * USEC_PER_MINUTE)

#define _cleanup_bus_message_ _cleanup_(sd_bus_message_unrefp)

struct bus_connection {
        sd_bus *bus;
};

bool bus_available(void) { return true; }

int bus_connect(struct bus_connection **ret) {
        struct bus_connection *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        r = sd_bus_open_system(&c->bus);
        if (r < 0) {
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void bus_disconnect(struct bus_connection *c) {
        sd_bus_flush_close_unref(c->bus);
        free(c);
}

/* A call failed with r; keep what the error said. */
static int record_failure(int r, const sd_bus_error *error, struct bus_failure *failure) {
        *failure = (struct bus_failure){0};
        if (sd_bus_error_is_set(error)) {
                snprintf(failure->name, sizeof(failure->name), "%s", error->name);
                snprintf(failure->message, sizeof(failure->message), "%s",
                         error->message ? error->message : "");
        }
        return r;
}

/* ---- reading a{sv} ---- */

enum field_type { FIELD_U32, FIELD_BOOL, FIELD_STRING, FIELD_INT_ARRAY };

struct vardict_field {
        const char *key;
        enum field_type type;
        void *p;
        size_t size; /* FIELD_STRING: buffer size; FIELD_INT_ARRAY: elements */
        size_t *n;   /* FIELD_INT_ARRAY: elements read */
};

static const char *const field_signature[] = {
        [FIELD_U32] = "u",
        [FIELD_BOOL] = "b",
        [FIELD_STRING] = "s",
        [FIELD_INT_ARRAY] = "ai",
};

static int read_field(sd_bus_message *m, const struct vardict_field *f) {
        const char *s;
        const int32_t *a;
        size_t size;
        int b, r;

        switch (f->type) {
        case FIELD_U32:
                return sd_bus_message_read(m, "v", "u", (uint32_t *)f->p);
        case FIELD_BOOL:
                r = sd_bus_message_read(m, "v", "b", &b);
                if (r >= 0)
                        *(bool *)f->p = b;
                return r;
        case FIELD_STRING:
                r = sd_bus_message_read(m, "v", "s", &s);
                if (r >= 0)
                        snprintf(f->p, f->size, "%s", s);
                return r;
        case FIELD_INT_ARRAY:
                r = sd_bus_message_enter_container(m, 'v', "ai");
                if (r < 0)
                        return r;
                r = sd_bus_message_read_array(m, 'i', (const void **)&a, &size);
                if (r < 0)
                        return r;
                *f->n = size / sizeof(*a) < f->size ? size / sizeof(*a) : f->size;
                for (size_t i = 0; i < *f->n; i++)
                        ((int *)f->p)[i] = a[i];
                return sd_bus_message_exit_container(m);
        }
        return -EINVAL;
}

/* Fill the fields named in `fields` from an a{sv}. Keys we do not know, or
 * with a type we do not expect, are skipped: the interface may grow. */
static int read_vardict(sd_bus_message *m, const struct vardict_field *fields, size_t n_fields) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const struct vardict_field *f = NULL;
                const char *key, *contents;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_fields && !f; i++)
                        if (strcmp(key, fields[i].key) == 0 &&
                            strcmp(contents, field_signature[fields[i].type]) == 0)
                                f = &fields[i];
                r = f ? read_field(m, f) : sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* ---- the methods ---- */

static int append_option(sd_bus_message *m, const char *key, char type, const void *value) {
        const char sig[2] = {type, '\0'};
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', sig);
        if (r >= 0)
                r = sd_bus_message_append_basic(m, type, value);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int build_adopt_call(sd_bus *bus, const struct bus_adopt_request *req,
                            sd_bus_message **ret) {
        _cleanup_bus_message_ sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, REPTYRD_NAME, REPTYRD_PATH, REPTYRD_INTERFACE,
                                           "Adopt");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "h", req->pidfd);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (req->mode && (r = append_option(m, "mode", 's', req->mode)) < 0)
                return r;
        if (req->fds && (r = append_option(m, "fds", 's', req->fds)) < 0)
                return r;
        if (req->rows > 0 && req->cols > 0) {
                uint16_t rows = req->rows, cols = req->cols;
                if ((r = append_option(m, "rows", 'q', &rows)) < 0 ||
                    (r = append_option(m, "cols", 'q', &cols)) < 0)
                        return r;
        }
        if (req->dry_run) {
                int yes = 1;
                if ((r = append_option(m, "dry-run", 'b', &yes)) < 0)
                        return r;
        }
        if (req->force) {
                int yes = 1;
                if ((r = append_option(m, "force", 'b', &yes)) < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        /* polkit may prompt only if we say so; without it a password check
         * fails with InteractiveAuthorizationRequired. */
        r = sd_bus_message_set_allow_interactive_authorization(m, req->interactive);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- an interruptible call ---- */

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        *(sd_bus_message **)userdata = sd_bus_message_ref(reply);
        return 0;
}

static int poll_timeout_ms(sd_bus *bus) {
        struct timespec ts;
        uint64_t until, now;

        if (sd_bus_get_timeout(bus, &until) < 0 || until == UINT64_MAX)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
        if (until <= now)
                return 0;
        return (until - now + 999) / 1000 > INT32_MAX ? INT32_MAX
                                                      : (int)((until - now + 999) / 1000);
}

/* sd_bus_call() that also gives up, with -EINTR, once interrupt_fd is
 * readable (a signalfd: the user pressed ^C while polkit waits for a
 * password). The signal stays queued for the caller to read. */
static int call_interruptible(sd_bus *bus, sd_bus_message *m, uint64_t usec, int interrupt_fd,
                              sd_bus_error *error, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        const sd_bus_error *e;
        int r;

        if (interrupt_fd < 0)
                return sd_bus_call(bus, m, usec, error, ret_reply);

        r = sd_bus_call_async(bus, &slot, m, on_reply, &reply, usec);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);
        while (!reply) {
                struct pollfd p[2] = {
                        {.fd = sd_bus_get_fd(bus), .events = (short)sd_bus_get_events(bus)},
                        {.fd = interrupt_fd, .events = POLLIN},
                };

                /* A closed connection or a timeout come as error replies. */
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return sd_bus_error_set_errno(error, r);
                if (r > 0 || reply)
                        continue;
                if (p[0].fd < 0 || p[0].events < 0)
                        return sd_bus_error_set_errno(error, -ENOTCONN);
                if (poll(p, 2, poll_timeout_ms(bus)) < 0 && errno != EINTR)
                        return sd_bus_error_set_errno(error, -errno);
                /* An answer that is already here wins over the interruption:
                 * the target is adopted and needs the master we would drop. */
                if ((p[1].revents & POLLIN) && !(p[0].revents & POLLIN))
                        return -EINTR;
        }
        e = sd_bus_message_get_error(reply);
        if (e)
                return sd_bus_error_copy(error, e);
        *ret_reply = TAKE_PTR(reply);
        return 1;
}

int bus_adopt(struct bus_connection *c, const struct bus_adopt_request *req,
              struct bus_adoption *ret, struct bus_failure *failure) {
        _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const struct vardict_field fields[] = {
                {"pid", FIELD_U32, &ret->pid, 0, NULL},
                {"tty", FIELD_STRING, ret->tty, sizeof(ret->tty), NULL},
                {"old-tty", FIELD_STRING, ret->old_tty, sizeof(ret->old_tty), NULL},
                {"mode", FIELD_STRING, ret->mode, sizeof(ret->mode), NULL},
                {"personality", FIELD_STRING, ret->personality, sizeof(ret->personality), NULL},
                {"replaced-fds", FIELD_INT_ARRAY, ret->replaced_fds, ELEMENTSOF(ret->replaced_fds),
                 &ret->n_replaced},
                {"was-stopped", FIELD_BOOL, &ret->was_stopped, 0, NULL},
        };
        _cleanup_close_ int master = -1;
        int fd, r;

        *ret = (struct bus_adoption){.master_fd = -1};
        *failure = (struct bus_failure){0};
        r = build_adopt_call(c->bus, req, &m);
        if (r < 0)
                return r;
        r = call_interruptible(c->bus, m, req->interactive ? INTERACTIVE_CALL_TIMEOUT_USEC : 0,
                               req->interrupt_fd, &error, &reply);
        if (r < 0)
                return record_failure(r, &error, failure);

        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return r;
        /* The fd belongs to the reply and goes with it: take our own copy
         * first, above 0..2 so it can never become a std stream. */
        master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (master < 0)
                return -errno;
        r = read_vardict(reply, fields, ELEMENTSOF(fields));
        if (r < 0)
                return r;
        ret->master_fd = TAKE_FD(master);
        return 0;
}

int bus_inspect(struct bus_connection *c, int pidfd, struct target_info *ret,
                struct bus_failure *failure) {
        _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const struct vardict_field fields[] = {
                {"pid", FIELD_U32, &ret->pid, 0, NULL},
                {"uid", FIELD_U32, &ret->uid, 0, NULL},
                {"comm", FIELD_STRING, ret->comm, sizeof(ret->comm), NULL},
                {"exe", FIELD_STRING, ret->exe, sizeof(ret->exe), NULL},
                {"tty", FIELD_STRING, ret->tty, sizeof(ret->tty), NULL},
                {"mode", FIELD_STRING, ret->mode, sizeof(ret->mode), NULL},
                {"fds", FIELD_INT_ARRAY, ret->fds, ELEMENTSOF(ret->fds), &ret->n_fds},
                {"holders", FIELD_INT_ARRAY, ret->holders, ELEMENTSOF(ret->holders),
                 &ret->n_holders},
                {"session-processes", FIELD_INT_ARRAY, ret->members, ELEMENTSOF(ret->members),
                 &ret->n_members},
                {"personality", FIELD_STRING, ret->personality, sizeof(ret->personality), NULL},
                {"action", FIELD_STRING, ret->action, sizeof(ret->action), NULL},
                {"authorized", FIELD_STRING, ret->authorized, sizeof(ret->authorized), NULL},
                {"reason", FIELD_STRING, ret->reason, sizeof(ret->reason), NULL},
        };
        int r;

        *ret = (struct target_info){0};
        *failure = (struct bus_failure){0};
        r = sd_bus_message_new_method_call(c->bus, &m, REPTYRD_NAME, REPTYRD_PATH,
                                           REPTYRD_INTERFACE, "Inspect");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "h", pidfd);
        if (r < 0)
                return r;
        r = sd_bus_call(c->bus, m, 0, &error, &reply);
        if (r < 0)
                return record_failure(r, &error, failure);
        return read_vardict(reply, fields, ELEMENTSOF(fields));
}
