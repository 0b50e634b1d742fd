/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-bus.h>

#include "engine.h"

/* Read the a{sv} options of Adopt()/AdoptPID() (the message positioned at
 * them): "mode" s, "fds" s, "rows"/"cols" q or u (1..65535), "dry-run" b,
 * "force" b.
 * Unknown keys, wrong types and bad values set an InvalidArgs error that
 * names the option. *mode is "process" or "session". Returns >= 0, or a
 * negative errno for a malformed message. */
int options_parse(sd_bus_message *m, struct engine_options *opts, const char **mode,
                  sd_bus_error *error);

/* The bus error name for an engine error kind: org.reptyr.Reptyr1.Error.*,
 * or org.freedesktop.DBus.Error.AccessDenied for a permission refusal. */
const char *options_error_bus_name(enum engine_error_kind kind);
