# SPDX-License-Identifier: MIT
"""Attack: pile up reptyrd's SIGHUP guards until it runs out of fds.

Each adopted shell job (a process group leader whose parent, the "shell",
still runs) leaves a hangup guard in reptyrd: a pidfd of the job and pidfds
of its old shell and session leader, kept until those exit. The request
limits do not bound guards (each adoption ends before the next starts), so
an unprivileged caller with its own long-lived "shell" can make reptyrd
hold three fds per adoption for as long as it likes, and keep it from
idling out. nobody adopts GUARDS of its own jobs one after the other
(attack2-client guards), with the shipped rules and Yama 0 (no password).

Required:
- reptyrd's open fds stay bounded (at most FD_BUDGET above its idle count),
  whatever GUARDS is;
- afterwards another user (reptyr-test2) still gets served: its own
  adoption succeeds;
- every adoption of the attacker got an answer (the ones beyond the guard
  limit are adopted too; their job just keeps ignoring SIGHUP);
- once the attacker's session is gone, reptyrd drops every guard and idles
  out.
"""

import os
import resource
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
import rig  # noqa: E402
from harness import fd_count  # noqa: E402
from testlib import Failure, expect  # noqa: E402

ap = attack.arg_parser(__doc__)
ap.add_argument("--guards", type=int, default=int(os.environ.get("ATTACK2_GUARDS", "300")))
args = ap.parse_args()
# Above what the guard limit lets one user keep open (GUARDS_PER_USER_MAX
# guards of two fds each here), well below the 1024 fds a service gets by
# default; without the limit, 300 guards hold 600.
FD_BUDGET = 300



def rss_kb(pid):
    v = attack.status_field(pid, "VmRSS")
    return int(v.split()[0]) if v else None


def nofile(pid):
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return line.split()[3]
    except OSError:
        return None


def check_guards(env):
    # Activated by a first call.
    env.rig.busctl("get-property", rig.BUS_NAME, rig.BUS_PATH, rig.BUS_NAME, "Version",
                   check=True)
    helper = env.rig.helper_pid()
    expect(helper, "no helper running after a round trip")
    # The soft limit a systemd service gets unless its unit says otherwise
    # (LimitNOFILE=1024:524288); the rig's helper inherits the bus's.
    hard = resource.prlimit(helper, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(helper, resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    fds0, rss0 = fd_count(helper), rss_kb(helper)
    env.w.log("reptyrd %d before: %s fds, VmRSS %s kB, max open files %s"
              % (helper, fds0, rss0, nofile(helper)))
    proc, out = env.piped("guards", [env.attack2_client, "guards", str(args.guards)],
                          user="nobody")
    m = env.w.wait_for(out, r"DONE ok=(\d+) fail=(\d+)", what="the attacker's adoptions",
                       watch=[proc], timeout=max(60, args.guards // 4))
    ok, fail = int(m.group(1)), int(m.group(2))
    fds1, rss1 = fd_count(helper), rss_kb(helper)
    guards_logged = env.log_text().count("ignores SIGHUP until")
    report = ("after %d adoptions (ok=%d fail=%d): reptyrd %d has %s fds (was %s), VmRSS %s kB "
              "(was %s), %d guards logged" % (args.guards, ok, fail, helper, fds1, fds0, rss1,
                                              rss0, guards_logged))
    env.w.log(report)
    print(report)
    troubles = [l for l in env.log_text().splitlines()
                if "Too many open files" in l or "out of resources" in l or "cannot " in l]
    if troubles:
        print("reptyrd logged %d lines of trouble, first: %s" % (len(troubles), troubles[0]))
    errors = [d for d in env.json_lines(out) if not d.get("ok")]
    problems = []
    if errors:
        problems.append("%d adoptions failed, first: %s" % (len(errors), errors[0]))
    if fds1 is None or fds1 - fds0 > FD_BUDGET:
        problems.append("reptyrd holds %s fds after the attack, %s before (budget %d)"
                        % (fds1, fds0, FD_BUDGET))
    # Someone else still gets served.
    v = env.start_victim(rig.SECOND_USER, "read", name="test2-own")
    rc, data, text, _ = env.client("adopt", v.pid, "--timeout=10",
                                   user=rig.SECOND_USER, timeout=20)
    env.w.log("reptyr-test2 after the attack: %s" % text.strip())
    if not data or not data.get("ok"):
        problems.append("reptyr-test2's own adoption failed after the attack: %s" % text.strip())
    # The attacker's session goes: every guard goes, reptyrd idles out.
    proc.kill()
    env.w.wait_until(lambda: env.rig.helper_pid() != helper, timeout=30,
                     what="reptyrd %d to idle out once the attacker is gone" % helper,
                     detail=lambda: "fds %s\n%s" % (fd_count(helper), env.log_text()[-2000:]))
    if problems:
        raise Failure("; ".join(problems) + "\n" + env.log_text()[-3000:])


def setup():
    rules = bustest.shipped_rules(args)
    rules["40-test2.rules"] = attack.SECOND_USER_RULE
    return attack.Attack2Env(args, dict(rules=rules, ptrace_scope="0",
                                        reptyrd_args=["--idle-timeout=2"]))


bustest.run_checks([("%d adopted shell jobs: reptyrd's fds stay bounded, others are served, "
                     "it idles out afterwards" % args.guards, check_guards)], setup)
