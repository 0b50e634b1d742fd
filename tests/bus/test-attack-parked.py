# SPDX-License-Identifier: MIT
"""Attack: park many calls and never read the answers; send calls that
carry more fds than their signature names.

First, fds that ride along: the bus policy (dbus/org.reptyr.Reptyr1.conf)
lets one fd reach reptyrd with Adopt and Inspect and none with anything
else, so an Adopt carrying the pidfd and one more, or a call whose
signature names 16 fds, is refused by the bus (AccessDenied) and never
reaches reptyrd; a message with 17 fds is refused too (the bus's
max_message_unix_fds is 16: it disconnects the sender).

Then nobody (attack3-client.py, a raw client) opens 200 connections, each
sending one Adopt of its own victim (its one fd, the pidfd) while polkit
holds the answer (a rule that waits), and reads nothing until the test
says so. Required, and pinned here:

- reptyrd holds at most the fds of the calls it keeps (32 per user, each
  with its fd and our pidfd), not the 200 calls' 400;
- the calls beyond the limit are refused with LimitsExceeded at once;
- another user's Properties.Get is answered within 1 s meanwhile;
- once polkit answers, every call gets an answer and reptyrd is back to
  its fds before.
"""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import rig  # noqa: E402
from harness import fd_count  # noqa: E402
from testlib import Failure, Skip, expect  # noqa: E402

args = bustest.arg_parser(__doc__).parse_args()
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attack3-client.py")
N, FDS, PER_USER, ALL_USERS = 200, 1, 32, 112


def get_version(env, user):
    t0 = time.monotonic()
    r = env.rig.busctl("--timeout=5", "call", rig.BUS_NAME, rig.BUS_PATH,
                       "org.freedesktop.DBus.Properties", "Get", "ss", rig.BUS_NAME, "Version",
                       user=user, timeout=10)
    return r.returncode == 0, time.monotonic() - t0, (r.stdout + r.stderr).strip()


def check_parked(env):
    (client,) = env.w.private_copy(CLIENT)
    v = env.start_victim("nobody", "read", name="parked")
    env.inspect(v)
    helper = env.rig.helper_pid()
    expect(helper, "no reptyrd")
    base = fd_count(helper)
    problems = []

    # Fd counts the bus refuses.
    seen = env.log_text().count("target pid=%d " % v.pid)
    for verb, n in (("wrong-sig", 16), ("extra-fds", 2)):
        r = env.rig.run([sys.executable, client, verb, str(v.pid), str(n)], user="nobody",
                        timeout=30)
        d = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
        env.w.log("%s %d: %s" % (verb, n, d))
        if d.get("error") != "org.freedesktop.DBus.Error.AccessDenied":
            problems.append("a call with %d fds (%s) got %s" % (n, verb, d))
    if env.log_text().count("target pid=%d " % v.pid) != seen:
        problems.append("a call with extra fds reached reptyrd: %s" % env.log_text()[-800:])
    r = env.rig.run([sys.executable, client, "extra-fds", str(v.pid), "17"], user="nobody",
                    timeout=30)
    env.w.log("17 fds: exit %d, %s" % (r.returncode, (r.stdout + r.stderr).strip()[-200:]))
    if r.returncode == 0:
        problems.append("a message with 17 fds was answered: %s" % r.stdout.strip())

    gate = env.gate("parked", v.pid, result="NO")
    p = env.rig.popen([sys.executable, client, "park-many", str(v.pid), str(N), str(FDS)],
                      user="nobody", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=subprocess.STDOUT, text=True)
    try:
        line = p.stdout.readline().strip()
        expect(line == "PARKED %d" % N, "the attacker parked only: %r" % line)
        env.wait_gate_started(gate)
        # Until the bus has said who calls, a call counts only against
        # the limit of all users together; then the caller's own limit
        # leaves 32 parked and answers the rest.
        bound = base + PER_USER * (FDS + 1) + 8
        transient = base + ALL_USERS * (FDS + 1) + 8
        peak = env.w.wait_until(lambda: fd_count(helper) if fd_count(helper) >= base + PER_USER
                                else None, timeout=10, what="reptyrd holding the parked calls")
        last = {}

        def settled():
            last["fds"] = fd_count(helper)
            return last["fds"] <= bound

        peak = max(peak, env.w.wait_until(
            lambda: (settled() or None) and last["fds"], timeout=20,
            what="reptyrd holding only %d calls' fds (at most %d)" % (PER_USER, bound),
            detail=lambda: "now %s" % last))
        ok, took, out = get_version(env, rig.SECOND_USER)
        env.w.log("parked: reptyrd %d fds (%d before, bound %d, %d while unidentified); "
                  "Get by %s: %s in %.3f s"
                  % (peak, base, bound, transient, rig.SECOND_USER, out, took))
        if peak > transient:
            problems.append("reptyrd held %d fds for %d parked calls (bound %d)"
                            % (peak, N, transient))
        # Served at all (busctl gives up after 5 s), not timed: a loaded
        # machine must not fail this.
        if not ok:
            problems.append("another user's Get: %s after %.2f s" % (out, took))
    finally:
        env.open_gate(gate)
        p.stdin.close()
        out = p.stdout.read().strip()
        p.wait()
    env.w.log("answers: %s" % out)
    counts = json.loads(out.splitlines()[-1]) if out.startswith("{") else {}
    if counts.get("org.freedesktop.DBus.Error.LimitsExceeded", 0) < N - PER_USER - 1 or \
            sum(counts.values()) != N or \
            set(counts) - {"org.freedesktop.DBus.Error.LimitsExceeded",
                           "org.freedesktop.DBus.Error.AccessDenied"}:
        problems.append("answers to the %d parked calls: %s" % (N, out))
    last = {}

    def back():
        last["fds"] = fd_count(helper)
        return last["fds"] <= base

    env.w.wait_until(back, timeout=10, what="reptyrd back to %d fds" % base,
                     detail=lambda: "now %s" % last)
    if problems:
        raise Failure("; ".join(problems) + "\n" + env.log_text()[-2000:])
    env.quit(v)


def setup():
    if not hasattr(os, "pidfd_open"):
        raise Skip("this Python has no os.pidfd_open")
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([("extra fds refused by the bus; 200 parked calls, answers never read: "
                    "reptyrd holds 32 calls' fds and serves another user", check_parked)],
                   setup)
