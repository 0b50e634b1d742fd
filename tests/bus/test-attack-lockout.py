# SPDX-License-Identifier: MIT
"""Attack: lock everybody out with authorization requests that never end.

Yama scope 1 (simulated) makes polkit want nobody's own password for every
adoption. nobody registers a polkit authentication agent for itself that
never answers, then sends 140 Adopt calls with
ALLOW_INTERACTIVE_AUTHORIZATION (each for an idle child of its own), spread
over 3 bus connections. Each of them waits in polkit for an agent that
never replies. Required:

- another user still gets served: reptyr-test2 adopts its own process (an
  administrator's rule lets reptyr-test2 adopt its own processes without a
  password, so the outcome depends on the helper alone) -- not AccessDenied,
  not LimitsExceeded;
- the attacker gets a clear error, org.freedesktop.DBus.Error.LimitsExceeded,
  for every request beyond its 8th in flight;
- a request of the attacker on ANOTHER user's pid, stalled in polkit the
  same way, does not make that user's own adoption of the pid fail with
  Busy.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
import rig  # noqa: E402
from attack import LIMITS  # noqa: E402
from testlib import Failure, expect  # noqa: E402

args = attack.arg_parser(__doc__).parse_args()
FLOOD = 140
PER_CALLER = 32



def adopt_as_test2(env, v, what):
    rc, data, text, _ = env.client("adopt", v.pid, "--timeout=10", user=rig.SECOND_USER,
                                   timeout=20)
    env.w.log("%s: %s" % (what, text.strip()))
    return data or {"ok": False, "error": "(no answer)", "message": text.strip()}


def check_flood(env):
    other = env.start_victim(rig.SECOND_USER, "read", name="test2-own")
    proc, out = env.piped("flood", [env.attack_client, "flood", str(FLOOD), "children", "3"],
                          user="nobody")
    try:
        flood(env, other, proc, out)
    finally:
        # The next check starts from a fresh helper with nothing in flight.
        proc.kill()
        env.rig.stop_helper()


def flood(env, other, proc, out):
    env.w.wait_for(out, r"SENT %d" % FLOOD, what="the attacker's calls sent", watch=[proc],
                   timeout=30)

    def settled():
        # Every call beyond the per-user limit answered, and polkit's
        # agent reached (answers arrive one by one under load: counting
        # them at the first agent request would count too few).
        n = len(env.json_lines(out))
        begun = out.text().count("AGENT BEGIN")
        return (n >= FLOOD - PER_CALLER and begun >= 1) and (n, begun)

    try:
        n, begun = env.w.wait_until(settled, timeout=30, what="the flood to settle",
                                    detail=lambda: out.tail())
    except Failure as e:
        raise Failure("%s\n%s" % (e, env.log_text()[-2000:]))
    env.w.log("flood: %d answers so far, %d authentications begun at the agent" % (n, begun))
    problems = []
    data = adopt_as_test2(env, other, "reptyr-test2 adopts its own %d during the flood"
                          % other.pid)
    if not data.get("ok"):
        problems.append("%s's Adopt of its own process during the flood: %s (%s)" % (
            rig.SECOND_USER, data.get("error"), data.get("message")))
    answers = env.json_lines(out)
    kinds = {}
    for d in answers:
        kinds.setdefault(d.get("error") or "ok", []).append(int(d["i"]))
    env.w.log("the attacker's answers: %s" % {k: len(v) for k, v in kinds.items()})
    sample = {k: next(d.get("message") for d in answers if (d.get("error") or "ok") == k)
              for k in kinds}
    env.w.log("sample messages: %s" % sample)
    limited = len(kinds.get(LIMITS, []))
    if limited < FLOOD - PER_CALLER:
        problems.append("the attacker got %s for only %d of %d requests (expected all beyond "
                        "%d in flight); its answers: %s" % (
                            LIMITS, limited, FLOOD, PER_CALLER,
                            {k: (len(v), sample[k]) for k, v in kinds.items()}))
    if problems:
        raise Failure("; ".join(problems))


def check_stalled_on_other_users_pid(env):
    other = env.start_victim(rig.SECOND_USER, "read", name="test2-target")
    proc, out = env.piped("stall", [env.attack_client, "flood", "1", str(other.pid)],
                          user="nobody")
    env.w.wait_for(out, r"AGENT BEGIN|\{", what="the attacker's request to reach its agent",
                   watch=[proc], timeout=20)
    env.w.log("attacker on %d: %r" % (other.pid, out.text().strip()))
    env.sync_helper()  # the stalled request is registered with the helper by now
    expect("AGENT BEGIN" in out.text(), "the attacker's request on %d did not stall in polkit: "
           "%r" % (other.pid, out.text()))
    data = adopt_as_test2(env, other, "reptyr-test2 adopts its own %d while nobody's request "
                          "on it is stalled" % other.pid)
    if not data.get("ok"):
        raise Failure("%s's Adopt of its own process %d while nobody's request on it waits "
                      "for polkit: %s (%s)" % (rig.SECOND_USER, other.pid, data.get("error"),
                                               data.get("message")))


def setup():
    rules = bustest.shipped_rules(args)
    rules["40-reptyr-test2.rules"] = attack.SECOND_USER_RULE
    return attack.AttackEnv(args, dict(rules=rules, ptrace_scope="1",
                                       reptyrd_args=["--idle-timeout=60"]))


bustest.run_checks([
    ("140 interactive requests left hanging by the attacker's agent lock nobody else out; "
     "the attacker gets LimitsExceeded beyond 32", check_flood),
    ("a request stalled in polkit on another user's pid does not make that user's adoption "
     "Busy", check_stalled_on_other_users_pid),
], setup)
