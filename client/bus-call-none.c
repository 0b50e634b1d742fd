/* SPDX-License-Identifier: MIT */
/* bus-call.h for a build without libsystemd: there is no helper to call. */
#include <errno.h>

#include "bus-call.h"

bool bus_available(void) { return false; }

int bus_connect(struct bus_connection **ret) { return -EPROTONOSUPPORT; }

void bus_disconnect(struct bus_connection *c) {}

int bus_adopt(struct bus_connection *c, const struct bus_adopt_request *req,
              struct bus_adoption *ret, struct bus_failure *failure) {
        return -EPROTONOSUPPORT;
}

int bus_inspect(struct bus_connection *c, int pidfd, struct target_info *ret,
                struct bus_failure *failure) {
        return -EPROTONOSUPPORT;
}
