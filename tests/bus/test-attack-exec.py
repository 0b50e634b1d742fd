# SPDX-License-Identifier: MIT
"""Attack: a target that exec's a setuid-root program at the worst moment
(found by the fourth review of reptyrd; both failed before the fix).

1. guard: nobody's shell job, whose SIGHUP handler is an address nobody
   chose (0x13370000), is adopted (no password: shipped rules, Yama
   absent); reptyrd keeps a SIGHUP guard for it, which ignores SIGHUP until
   the old shell is gone. The job then execs a setuid-root program, and
   its old shell exits. Before the fix, the guard's release seized the
   root process without asking anyone and gave it the old handler, so that
   a SIGHUP made root jump to the attacker's address. Required: the
   released guard leaves the process alone (SIGHUP still ignored, no
   handler), and reptyrd says why.
2. race: under Yama scope 2, with an admin rule that grants adopt-any to a
   user's own processes ("same_user"), nobody's own process execs a
   setuid-root program right after AdoptPID was sent, before the worker
   seizes it. Before the fix the worker's second look compared only the
   action class, and the root process was adopted on polkit's answer about
   nobody's. Required, at every delay: a setuid program that started on
   the old terminal is never moved (one that the process exec'd after its
   adoption starts on the new one, which is the user's own business).
"""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
from testlib import Failure, Skip, expect, run_checks  # noqa: E402

args = attack.arg_parser(__doc__).parse_args()
if not args.attack5_client:
    raise SystemExit(print("SKIP: --attack5-client not given") or 77)

OWN_PROCESSES_RULE = """
polkit.addRule(function(action, subject) {
    if (action.id == "org.reptyr.Reptyr1.adopt-any" &&
        action.lookup("same_user") == "true" &&
        action.lookup("uid") == action.lookup("caller_uid"))
        return polkit.Result.YES;
    return undefined;
});
"""


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def check_guard(env):
    suid = attack.setuid_copy(env, args.attack5_client, "attack5-suid")
    (client,) = env.w.private_copy(args.attack5_client)
    proc, out = env.piped("guard", [client, "guard", suid], user="nobody")
    env.w.wait_for(out, r"JOB pid=(\d+) shell=(\d+)", what="the job started", watch=[proc])
    job = int(re.search(r"JOB pid=(\d+)", out.text()).group(1))
    env.w.wait_for(out, r"ADOPTED|ERROR", what="AdoptPID answered", watch=[proc])
    expect("ADOPTED" in out.text(), "the job was not adopted: %r" % out.tail())
    env.w.wait_for(out, r"SHELL GONE", what="the job exec'd and its shell gone", watch=[proc])
    expect("EXECED" in out.text(), "the setuid program did not run: %r" % out.tail())
    env.w.wait_until(lambda: re.search(r"hangup guard: %d \(.*\): (its old session is gone|"
                                       r"giving back its SIGHUP action failed)" % job,
                                       env.rig.logs()),
                     what="reptyrd releasing the guard of %d" % job, timeout=20)
    st = status(job)
    env.w.log("job %d now: Name %s, Uid %s, SigIgn %s, SigCgt %s" % (
        job, st["Name"], st["Uid"], st["SigIgn"], st["SigCgt"]))
    expect(st["Uid"].split()[1] == "0", "the job is not running setuid root: %r" % st["Uid"])
    if int(st["SigCgt"], 16) & 1:
        raise Failure("reptyrd gave the setuid-root process the SIGHUP handler its "
                      "unprivileged past chose (SigCgt %s)" % st["SigCgt"])
    expect(int(st["SigIgn"], 16) & 1, "SIGHUP no longer ignored: SigIgn %s" % st["SigIgn"])
    expect(re.search(r"hangup guard: %d .*not what was adopted any more" % job, env.rig.logs()),
           "reptyrd did not say why it left %d alone" % job)
    proc.popen.stdin.close()


def check_race(env):
    suid = attack.setuid_copy(env, args.attack5_client, "attack5-suid")
    (client,) = env.w.private_copy(args.attack5_client)
    adopted = refused = 0
    for delay in (0, 200, 500, 1000, 1500, 2000, 3000, 5000, 8000):
        r = env.rig.run([client, "race", str(delay), suid], user="nobody", timeout=30)
        out = dict(l.split(" ", 1) for l in r.stdout.splitlines() if " " in l)
        env.w.log("delay %5d us: %s" % (delay, r.stdout.replace("\n", " | ")))
        # Root's program started on the old terminal, and was then moved.
        if "ADOPTED" in r.stdout and out.get("START") == out.get("OLD"):
            raise Failure("delay %d us: adopted a process after it exec'd setuid root: %r"
                          % (delay, r.stdout + r.stderr))
        adopted += "ADOPTED" in r.stdout
        refused += "ERROR" in r.stdout
    expect(adopted + refused > 0, "no call was answered")


def main():
    def guard(_):
        with attack.AttackEnv(args, dict(rules=bustest.shipped_rules(args),
                                         ptrace_scope="absent")) as env:
            check_guard(env)

    def race(_):
        rules = bustest.shipped_rules(args)
        rules["40-own-processes.rules"] = OWN_PROCESSES_RULE
        with attack.AttackEnv(args, dict(rules=rules, ptrace_scope="2")) as env:
            check_race(env)

    return run_checks([("guard-release-after-setuid-exec", guard),
                       ("setuid-exec-between-polkit-and-seize", race)])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
