/* SPDX-License-Identifier: MIT */
/*
 * Handing an adopted terminal from one reptyrctl to another of the same
 * user: `adopt --tmux` adopts where the user typed (so that polkit asks for
 * a password right there), while a second reptyrctl, started by tmux in a
 * new window, relays it.
 *
 * The receiver is started first and connects to a socket in a directory
 * only this user can enter; the sender accepts only a peer of its own uid
 * (SO_PEERCRED), adopts, and passes the pidfd and the pty master with
 * SCM_RIGHTS; the receiver acknowledges before the sender lets go, so a
 * failed hand-over never leaves the terminal without a relay. A receiver
 * whose sender goes away (adoption refused, ^C) sees end-of-file and exits.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct handover_info {
        int32_t pid;
        uint8_t session;     /* session mode: no ^Z emulation */
        uint8_t was_stopped; /* left job-control stopped */
        char comm[64];
        char tty[64];
        char old_tty[64];
};

struct handover_listener {
        int fd;
        char dir[256];  /* private directory, removed by handover_close() */
        char path[300]; /* the socket in it */
};

/* A listening socket in a fresh directory of mode 0700. */
int handover_listen(struct handover_listener *l);

/* Wait up to timeout_ms for the receiver; only a peer running as our uid
 * is accepted. Returns the connected fd or a negative errno (-ETIMEDOUT,
 * -EPERM for a stranger). */
int handover_accept(struct handover_listener *l, int timeout_ms);

void handover_close(struct handover_listener *l);

/* Send the info and both fds, then wait up to timeout_ms for the
 * receiver's acknowledgement. 0 only once the receiver holds them. */
int handover_send(int conn, const struct handover_info *info, int pidfd, int master,
                  int timeout_ms);

/* Receiver: connect to path and wait (without a time limit: the sender may
 * be waiting for a password) for the info and fds; acknowledge. -EPIPE if
 * the sender went away without handing anything over. */
int handover_receive(const char *path, struct handover_info *info, int *ret_pidfd, int *ret_master);
