/* SPDX-License-Identifier: MIT */
/* Engine errors: names from the one table (errors.h), and filling one in. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "engine-internal.h"
#include "engine.h"

static const char *const error_names[_ENGINE_ERR_MAX] = {[ENGINE_OK] = "Success",
#define NAME(kind, name, bus, code, what) [ENGINE_ERR_##kind] = name,
                                                         REPTYR_ERRORS(NAME)
#undef NAME
};

static const char *const bus_names[_ENGINE_ERR_MAX] = {
#define BUS(kind, name, bus, code, what) [ENGINE_ERR_##kind] = bus,
        REPTYR_ERRORS(BUS)
#undef BUS
};

const char *engine_error_name(enum engine_error_kind kind) {
        return kind >= 0 && kind < _ENGINE_ERR_MAX ? error_names[kind] : "Failed";
}

const char *engine_error_bus_name(enum engine_error_kind kind) {
        if (kind <= ENGINE_OK || kind >= _ENGINE_ERR_MAX)
                return bus_names[ENGINE_ERR_FAILED];
        return bus_names[kind];
}

int engine_fail(struct engine_error *err, enum engine_error_kind kind, int r, const char *fmt,
                ...) {
        va_list ap;

        err->kind = kind;
        err->errnum = r < 0 ? -r : r;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return r < 0 ? r : -EIO;
}
