# SPDX-License-Identifier: MIT
"""Attack: tell reptyrd that someone else's connection is gone.

reptyrd hears that a caller disconnected from NameOwnerChanged(caller,
caller, ""), which only the bus driver may say. Any user can send a signal
with the driver's path, interface and member straight to reptyrd's name
(the system bus lets signals through), and sd-bus applies a match's
sender only to broadcasts, so reptyrd must check the sender itself.

- nobody parks an Adopt of its own victim at polkit (a rule holds the
  answer); reptyr-test2 sends NameOwnerChanged(nobody's name, ..., "")
  to org.reptyr.Reptyr1, then broadcasts it; nobody does the same with its
  own name from a second connection. Required: the parked call is not
  abandoned and gets polkit's answer (AccessDenied) once the rule lets go.
- one connection parks three Adopts and disconnects. Required: all three
  are abandoned at once (each has its own match, and each must hear it),
  not left waiting for polkit and then started for a caller that is gone.

attack4-client.py is the raw client (attack3-client.py's wire code).
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import rig  # noqa: E402
from testlib import Failure, Skip, expect  # noqa: E402

args = bustest.arg_parser(__doc__).parse_args()
HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = (os.path.join(HERE, "attack3-client.py"), os.path.join(HERE, "attack4-client.py"))


def park(env, client, pid, n, hold):
    p = env.rig.popen([sys.executable, client, "park", str(pid), str(n), hold], user="nobody",
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                      text=True)
    name = p.stdout.readline().strip()
    expect(name.startswith("NAME :"), "the client said %r" % name)
    expect(p.stdout.readline().strip() == "SENT", "the client did not send its calls")
    return p, name.split()[1]


def outcomes(env, pid):
    return [e["outcome"].split(":")[0] for e in env.log_entries()
            if int(e["pid"]) == pid and e["kind"].startswith("adopt")]


def check_spoof(env):
    client = env.w.private_copy(*CLIENTS)[1]
    v = env.start_victim("nobody", "read", name="spoof")
    env.inspect(v)
    gate = env.gate("spoof", v.pid, result="NO")
    p, name = park(env, client, v.pid, 1, "read")
    try:
        env.wait_gate_started(gate)
        for user, mode in ((rig.SECOND_USER, "unicast"), (rig.SECOND_USER, "broadcast"),
                           ("nobody", "both")):
            r = env.rig.run([sys.executable, client, "spoof", name, mode], user=user, timeout=20)
            env.w.log("spoof of %s by %s (%s): %s" % (name, user, mode, r.stdout.strip()))
            expect(r.returncode == 0, "the spoofing client failed: %s" % r.stdout + r.stderr)
        env.sync_helper()
        early = outcomes(env, v.pid)
    finally:
        env.open_gate(gate)
        p.stdin.write("\n")
        p.stdin.flush()
    try:
        out = p.communicate(timeout=30)[0].strip()
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failure("the parked Adopt got no answer after the spoofed NameOwnerChanged "
                      "(outcomes: %s)\n%s" % (outcomes(env, v.pid), env.log_text()[-1500:]))
    env.w.log("answer: %s; outcomes before the gate opened: %s" % (out, early))
    if early:
        raise Failure("a spoofed NameOwnerChanged ended the parked call: %s" % early)
    answers = json.loads(out.splitlines()[-1])
    if [a.get("error") for a in answers] != ["org.freedesktop.DBus.Error.AccessDenied"]:
        raise Failure("the parked Adopt's answer: %s" % out)
    env.quit(v)


def check_many_gone(env):
    client = env.w.private_copy(*CLIENTS)[1]
    v = env.start_victim("nobody", "read", name="many")
    env.inspect(v)
    gate = env.gate("many", v.pid, result="YES")
    p, name = park(env, client, v.pid, 3, "exit")
    try:
        env.wait_gate_started(gate)
        p.stdin.write("\n")
        p.stdin.flush()
        p.wait(timeout=10)
        # The rule holds polkit for up to 8 s: the three must be
        # abandoned well before it lets go.
        last = {}

        def all_abandoned():
            env.sync_helper()
            last["o"] = outcomes(env, v.pid)
            return last["o"].count("abandoned") == 3 or None

        env.w.wait_until(all_abandoned, timeout=5,
                         what="reptyrd abandoning all 3 calls of the connection that left",
                         detail=lambda: "outcomes %s" % last)
    finally:
        env.open_gate(gate)
    expect(last["o"] == ["abandoned"] * 3, "outcomes: %s" % last)
    env.quit(v)


def setup():
    if not hasattr(os, "pidfd_open"):
        raise Skip("this Python has no os.pidfd_open")
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([
    ("a NameOwnerChanged sent to reptyrd by a user, not the bus, is ignored", check_spoof),
    ("a connection with three calls in flight disconnects: all three are abandoned",
     check_many_gone)], setup)
