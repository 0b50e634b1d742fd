# SPDX-License-Identifier: MIT
"""Attack: flood reptyrd with calls that carry 16 fds each.

nobody keeps 6 connections x 120 Adopt calls in flight for 3 s (every
answer is followed by a new call; attack3-client.py flood), each carrying
16 fds (the pidfd of its own victim and 15 of /dev/null: the system bus's
max_message_unix_fds), while polkit holds the first ones. reptyrd runs with
RLIMIT_NOFILE 8192, its unit's LimitNOFILE.

The bus lets only 64 fds wait in its queue towards reptyrd, and drops
what comes beyond, the bus driver's own replies to reptyrd included. A
helper that waited for such a reply in a synchronous call (who is
calling?) read every other incoming call meanwhile, with its fds, until
recvmsg() could not take more (MSG_CTRUNC at RLIMIT_NOFILE), and sd-bus
then closed its connection: every other user's call in flight failed, and
an adoption past its point of no return lost its master (the target was
hung up).

Required: the helper that served before the flood still owns the name and
is connected afterwards, its fds stay far below the limit, every refused
call was refused for the limits (never "cannot tell who is calling"), and
a second user's Adopt (dry run) of its own process succeeds right after.
"""

import os
import resource
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
LIMIT = 8192


def has_bus_socket(pid):
    try:
        return any(os.readlink("/proc/%d/fd/%s" % (pid, f)).startswith("socket:")
                   for f in os.listdir("/proc/%d/fd" % pid))
    except FileNotFoundError:
        return False


def check_fd_flood(env):
    (client,) = env.w.private_copy(CLIENT)
    v = env.start_victim("nobody", "read", name="flood")
    env.inspect(v)
    helper = env.rig.helper_pid()
    expect(helper, "no reptyrd")
    resource.prlimit(helper, resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
    base = fd_count(helper)
    gate = env.gate("flood", v.pid, result="NO")
    p = env.rig.popen([sys.executable, client, "flood", str(v.pid), "6", "120", "3", "16"],
                      user="nobody", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    try:
        expect(p.stdout.readline().strip() == "FLOODING", "the flood did not start")
        while p.poll() is None:
            peak = max(peak, fd_count(helper) or 0)
            time.sleep(0.05)
        out = p.stdout.read().strip()
    finally:
        env.open_gate(gate)
        if p.poll() is None:
            p.kill()
        p.wait()
    env.w.log("flood: %s; reptyrd %d fds: %d before, peak %d" % (out, helper, base, peak))
    problems = []
    owner = env.rig.helper_pid()
    if owner != helper or not has_bus_socket(helper):
        problems.append("reptyrd %d lost its bus connection (the name is now owned by %s)"
                        % (helper, owner))
    if peak > LIMIT // 2:
        problems.append("reptyrd held %d fds during the flood (limit %d)" % (peak, LIMIT))
    lost = [l for l in env.log_text().splitlines()
            if "could not be identified" in l or "cannot tell who is calling" in l]
    if lost:
        problems.append("%d calls refused as from an unidentified caller, e.g. %s"
                        % (len(lost), lost[0]))
    # Another user is served once reptyrd has worked off the flood: until
    # then the bus itself refuses calls to it ("destination has a full
    # message queue"), or reptyrd, still holding the flood's calls whose
    # callers it has not yet heard are gone, refuses for all users'
    # requests in flight ("try again in a moment"); a slow (sanitized)
    # reptyrd takes longer to get there. Any other answer ends the wait.
    v2 = env.start_victim(rig.SECOND_USER, "read", name="after")
    t0 = time.monotonic()
    tries = []
    while True:
        data = env.call("adopt", v2.pid, "-o", "dry-run=b:true", user=rig.SECOND_USER, timeout=30)
        tries.append(data.get("error") or "ok")
        msg = data.get("message", "")
        if data.get("ok") or time.monotonic() - t0 > 20 or \
                ("full message queue" not in msg and "requests in flight already" not in msg):
            break
        time.sleep(0.1)
    took = time.monotonic() - t0
    env.w.log("second user's dry-run Adopt after the flood: %.2f s, %d tries: %s"
              % (took, len(tries), data))
    if not data.get("ok"):
        problems.append("the second user's Adopt (dry run) failed: %s" % data)
    if problems:
        raise Failure("; ".join(problems) + "\n" + env.log_text()[-2000:])
    env.quit(v2)
    env.quit(v)


def setup():
    if not hasattr(os, "pidfd_open"):
        raise Skip("this Python has no os.pidfd_open")
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([("calls carrying 16 fds each, by the thousand: reptyrd stays on the bus "
                     "and serves another user", check_fd_flood)], setup)
