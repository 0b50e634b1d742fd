/* SPDX-License-Identifier: MIT */
/* The a{sv} options of Adopt/AdoptPID, and engine errors as bus errors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus-names.h"
#include "options.h"

#define ERROR_PREFIX REPTYR_BUS_ERROR_PREFIX

const char *options_error_bus_name(enum engine_error_kind kind) {
        return engine_error_bus_name(kind);
}

static bool streq_opt(const char *key, const char *name, const char *type, const char *want) {
        return strcmp(key, name) == 0 && type && strcmp(type, want) == 0;
}

int options_parse(sd_bus_message *m, struct engine_options *opts, const char **mode,
                  sd_bus_error *error) {
        int k;

        *mode = "process";
        k = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (k < 0)
                return k;
        while ((k = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *type;
                char t;

                k = sd_bus_message_read(m, "s", &key);
                if (k < 0)
                        return k;
                k = sd_bus_message_peek_type(m, &t, &type);
                if (k < 0)
                        return k;
                if (streq_opt(key, "mode", type, "s")) {
                        const char *v;
                        k = sd_bus_message_read(m, "v", "s", &v);
                        if (k < 0)
                                return k;
                        if (strcmp(v, "process") != 0 && strcmp(v, "session") != 0)
                                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                                         "option \"mode\" must be \"process\" or "
                                                         "\"session\", not \"%.64s\"",
                                                         v);
                        *mode = strcmp(v, "session") == 0 ? "session" : "process";
                        opts->mode = strcmp(v, "session") == 0 ? ENGINE_MODE_SESSION
                                                               : ENGINE_MODE_PROCESS;
                } else if (streq_opt(key, "fds", type, "s")) {
                        const char *v;
                        k = sd_bus_message_read(m, "v", "s", &v);
                        if (k < 0)
                                return k;
                        if (strcmp(v, "terminal") == 0)
                                opts->fds = ENGINE_FDS_TERMINAL;
                        else if (strcmp(v, "stdio") == 0)
                                opts->fds = ENGINE_FDS_STDIO;
                        else
                                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                                         "option \"fds\" must be \"terminal\" or "
                                                         "\"stdio\", not \"%.64s\"",
                                                         v);
                } else if ((strcmp(key, "rows") == 0 || strcmp(key, "cols") == 0) && type &&
                           (strcmp(type, "q") == 0 || strcmp(type, "u") == 0)) {
                        uint32_t v = 0;
                        uint16_t q = 0;
                        if (type[0] == 'q') {
                                k = sd_bus_message_read(m, "v", "q", &q);
                                v = q;
                        } else
                                k = sd_bus_message_read(m, "v", "u", &v);
                        if (k < 0)
                                return k;
                        if (v < 1 || v > 65535)
                                return sd_bus_error_setf(error, ERROR_PREFIX "InvalidArgs",
                                                         "option \"%s\" must be 1..65535, not %u",
                                                         key, v);
                        if (key[0] == 'r')
                                opts->rows = (unsigned short)v;
                        else
                                opts->cols = (unsigned short)v;
                } else if (streq_opt(key, "dry-run", type, "b")) {
                        int v;
                        k = sd_bus_message_read(m, "v", "b", &v);
                        if (k < 0)
                                return k;
                        opts->dry_run = v;
                } else if (streq_opt(key, "force", type, "b")) {
                        int v;
                        k = sd_bus_message_read(m, "v", "b", &v);
                        if (k < 0)
                                return k;
                        opts->force = v;
                } else
                        return sd_bus_error_setf(
                                error, ERROR_PREFIX "InvalidArgs",
                                "unknown option \"%.64s\" of type \"%.16s\"; see the "
                                "org.reptyr.Reptyr1 interface for the options",
                                key, type ? type : "?");
                k = sd_bus_message_exit_container(m);
                if (k < 0)
                        return k;
        }
        if (k < 0)
                return k;
        return sd_bus_message_exit_container(m);
}
