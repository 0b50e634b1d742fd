/* SPDX-License-Identifier: MIT */
/*
 * A text polkit agent (pkttyagent) for the duration of one call to reptyrd,
 * as systemd's tools run one: polkit asks the password in this terminal.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Whether the agent program exists (is executable). */
bool polkit_agent_available(void);

/* Start pkttyagent for this process and wait until it has registered with
 * polkit, or has given up (it then just exits; the call goes on without an
 * agent). Returns the agent's pid, or a negative errno if it could not be
 * started. The caller decides whether an agent is wanted at all. */
pid_t polkit_agent_open(void);

/* Stop the agent (SIGTERM: it restores the terminal's echo) and reap it.
 * Takes a pid from polkit_agent_open(); does nothing for pid <= 0. */
void polkit_agent_close(pid_t pid);
