/* SPDX-License-Identifier: MIT */
/*
 * name-holder: a stand-in that owns a bus name, for the bus policy tests.
 *
 *   name-holder NAME
 *
 * Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS), asks for NAME and
 * then answers every method call sent to it, on any path, with the error
 * org.reptyr.Test.Reached ("INTERFACE.MEMBER"): a caller that gets that
 * error knows the bus let its message through, one that gets AccessDenied
 * from the bus knows the policy stopped it. A signal that reaches it is
 * printed as "SIGNAL INTERFACE.MEMBER" (the bus answers no signal).
 *
 * Prints "READY" once it owns the name. Exit status: 0 never (it serves
 * until killed), 3 when the bus refused the name (the error is printed),
 * 1 on any other failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

static int reached(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        return sd_bus_error_setf(ret_error, "org.reptyr.Test.Reached", "%s.%s",
                                 sd_bus_message_get_interface(m) ?: "(none)",
                                 sd_bus_message_get_member(m) ?: "(none)");
}

static int signals(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        if (sd_bus_message_is_signal(m, NULL, NULL) && sd_bus_message_get_destination(m)) {
                printf("SIGNAL %s.%s\n", sd_bus_message_get_interface(m) ?: "(none)",
                       sd_bus_message_get_member(m) ?: "(none)");
                fflush(stdout);
        }
        return 0;
}

int main(int argc, char **argv) {
        sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint32_t answer;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s NAME\n", argv[0]);
                return 1;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to the system bus: %s\n", strerror(-r));
                return 1;
        }

        r = sd_bus_add_filter(bus, NULL, signals, NULL);
        if (r >= 0)
                r = sd_bus_add_fallback(bus, NULL, "/", reached, NULL);
        if (r < 0) {
                fprintf(stderr, "Failed to add the fallback handler: %s\n", strerror(-r));
                return 1;
        }

        /* Called by hand (not sd_bus_request_name()) to see the bus's own
         * error name and message. */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "RequestName", &error, &reply, "su", argv[1],
                               (uint32_t)4 /* DBUS_NAME_FLAG_DO_NOT_QUEUE */);
        if (r < 0) {
                printf("REFUSED %s: %s\n", error.name ?: "?", error.message ?: strerror(-r));
                fflush(stdout);
                return 3;
        }
        r = sd_bus_message_read(reply, "u", &answer);
        if (r < 0 || answer != 1 /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER */) {
                printf("REFUSED not the primary owner (reply %u)\n", r < 0 ? 0 : answer);
                fflush(stdout);
                return 3;
        }
        sd_bus_message_unref(reply);

        printf("READY\n");
        fflush(stdout);

        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "Failed to process the bus: %s\n", strerror(-r));
                        return 1;
                }
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "Failed to wait on the bus: %s\n", strerror(-r));
                        return 1;
                }
        }
}
