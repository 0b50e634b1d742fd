/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "exit-code.h"
#include "util.h"

/* The engine's error kinds and the exit codes, in one place; the helper
 * reports a kind under engine_error_bus_name(), so --direct and the helper
 * path exit alike. */
static const int exit_code_of_kind[] = {[ENGINE_OK] = 0,
#define CODE(kind, name, bus, code, what) [ENGINE_ERR_##kind] = code,
                                        REPTYR_ERRORS(CODE)
#undef CODE
};
_Static_assert(ELEMENTSOF(exit_code_of_kind) == _ENGINE_ERR_MAX,
               "every engine error kind needs an exit code");

/* Errors that only the helper path has. "Helper unreachable" covers every
 * way the bus says that nobody can answer for org.reptyr.Reptyr1: not
 * installed (no activation file), activation failed, the bus itself gone. */
static const struct {
        const char *bus_error;
        bool prefix;
        int exit_code;
} bus_only[] = {
        {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", false,
         EXIT_INTERACTIVE_AUTH},
        {"org.freedesktop.DBus.Error.ServiceUnknown", false, EXIT_HELPER_UNREACHABLE},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", false, EXIT_HELPER_UNREACHABLE},
        {"org.freedesktop.DBus.Error.NoServer", false, EXIT_HELPER_UNREACHABLE},
        {"org.freedesktop.DBus.Error.Disconnected", false, EXIT_HELPER_UNREACHABLE},
        {"org.freedesktop.DBus.Error.Spawn.", true, EXIT_HELPER_UNREACHABLE},
        {"org.freedesktop.DBus.Error.InvalidArgs", false, EXIT_USAGE},
        /* Too many of this user's requests in flight: try again later. */
        {"org.freedesktop.DBus.Error.LimitsExceeded", false, EXIT_BUSY},
};

int exit_code_of_engine_kind(enum engine_error_kind kind) {
        if (kind <= ENGINE_OK || kind >= _ENGINE_ERR_MAX)
                return EXIT_FAILED;
        return exit_code_of_kind[kind];
}

int exit_code_of_bus_error(const char *name) {
        if (!name)
                return EXIT_FAILED;
        for (int k = ENGINE_OK + 1; k < _ENGINE_ERR_MAX; k++)
                if (strcmp(name, engine_error_bus_name(k)) == 0)
                        return exit_code_of_kind[k];
        for (size_t i = 0; i < ELEMENTSOF(bus_only); i++) {
                const char *e = bus_only[i].bus_error;
                if (bus_only[i].prefix ? strncmp(name, e, strlen(e)) == 0 : strcmp(name, e) == 0)
                        return bus_only[i].exit_code;
        }
        return EXIT_FAILED;
}
