/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "exit-code.h"
#include "util.h"

#define REPTYR_ERROR(name) "org.reptyr.Reptyr1.Error." name

/* The engine's error kinds, the helper's error names and the exit codes, in
 * one place: the helper reports what its engine reported under the name of
 * the same kind, so --direct and the helper path exit alike. */
static const struct {
        int exit_code;
        const char *bus_error;
} by_kind[] = {
        [ENGINE_OK] = {0, NULL},
        [ENGINE_ERR_INVALID] = {EXIT_USAGE, REPTYR_ERROR("InvalidArgs")},
        [ENGINE_ERR_NO_SUCH_PROCESS] = {EXIT_NO_SUCH_PROCESS, REPTYR_ERROR("NoSuchProcess")},
        [ENGINE_ERR_NOT_A_TERMINAL] = {EXIT_NOT_A_TERMINAL, REPTYR_ERROR("NotATerminal")},
        [ENGINE_ERR_HAS_CHILDREN] = {EXIT_HAS_CHILDREN, REPTYR_ERROR("HasChildren")},
        [ENGINE_ERR_SECCOMP] = {EXIT_SECCOMP, REPTYR_ERROR("Seccomp")},
        [ENGINE_ERR_UNSUPPORTED] = {EXIT_UNSUPPORTED, REPTYR_ERROR("Unsupported")},
        [ENGINE_ERR_TARGET_GONE] = {EXIT_TARGET_GONE, REPTYR_ERROR("TargetGone")},
        [ENGINE_ERR_BUSY] = {EXIT_BUSY, REPTYR_ERROR("Busy")},
        /* The kernel refused (--direct) or polkit did (the helper). */
        [ENGINE_ERR_PERMISSION] = {EXIT_PERMISSION, "org.freedesktop.DBus.Error.AccessDenied"},
        [ENGINE_ERR_FAILED] = {EXIT_FAILED, REPTYR_ERROR("Failed")},
};
_Static_assert(ELEMENTSOF(by_kind) == _ENGINE_ERR_MAX,
               "every engine error kind needs an exit code and a D-Bus error name");

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
};

int exit_code_of_engine_kind(enum engine_error_kind kind) {
        if (kind <= ENGINE_OK || kind >= _ENGINE_ERR_MAX)
                return EXIT_FAILED;
        return by_kind[kind].exit_code;
}

int exit_code_of_bus_error(const char *name) {
        if (!name)
                return EXIT_FAILED;
        for (size_t k = ENGINE_OK + 1; k < ELEMENTSOF(by_kind); k++)
                if (strcmp(name, by_kind[k].bus_error) == 0)
                        return by_kind[k].exit_code;
        for (size_t i = 0; i < ELEMENTSOF(bus_only); i++) {
                const char *e = bus_only[i].bus_error;
                if (bus_only[i].prefix ? strncmp(name, e, strlen(e)) == 0 : strcmp(name, e) == 0)
                        return bus_only[i].exit_code;
        }
        return EXIT_FAILED;
}
