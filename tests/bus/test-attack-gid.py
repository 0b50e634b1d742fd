# SPDX-License-Identifier: MIT
"""Attack: a process with the caller's uid but a group the caller is not in.

Root starts a victim as uid nobody with real, effective, saved and
filesystem gid of a group nobody does not belong to (setpriv --reuid=nobody
--regid=GROUP --clear-groups). The kernel refuses nobody ptrace on it: the
caller's gid must match the target's (proved here with a PTRACE_SEIZE by
nobody, which fails with EPERM). So the helper must not treat it as "the
caller's own process the kernel would let it trace": Inspect names the
action org.reptyr.Reptyr1.adopt-any, and a non-interactive Adopt is refused
(InteractiveAuthorizationRequired or AccessDenied) with the target
untouched.
"""

import errno
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
from attack import ACCESS_DENIED, INTERACTIVE  # noqa: E402
from testlib import Failure, expect  # noqa: E402

args = attack.arg_parser(__doc__).parse_args()
GROUP = "reptyr-attack-gid"


def check_foreign_gid(env):
    g = attack.ensure_group(GROUP)
    nobody = bustest.uid_of("nobody")
    v = env.start_victim((nobody, g.gr_gid), "read", name="foreign-gid")
    v.user = "nobody"
    st = attack.status_field(v.pid, "Gid")
    env.w.log("victim %d: Uid %s, Gid %s, Groups %r" % (
        v.pid, attack.status_field(v.pid, "Uid"), st, attack.status_field(v.pid, "Groups")))
    expect(st.split() == [str(g.gr_gid)] * 4, "victim gids %s, expected %d" % (st, g.gr_gid))
    r = env.rig.run([env.attack_prog, "seize", str(v.pid)], user="nobody")
    env.w.log("PTRACE_SEIZE by nobody: %s" % r.stdout.strip())
    expect("SEIZE errno=%d" % errno.EPERM in r.stdout,
           "the kernel was expected to refuse nobody ptrace on %s: %r" % (v, r.stdout))
    env.baseline(v)
    problems = []
    info = env.inspect(v)
    env.w.log("Inspect as nobody: action %s, authorized %s, reason %s" % (
        info.get("action"), info.get("authorized"), info.get("reason")))
    if info.get("action") != bustest.ADOPT_ANY:
        problems.append("Inspect says action %r (authorized %r: %s), expected %s" % (
            info.get("action"), info.get("authorized"), info.get("reason"), bustest.ADOPT_ANY))
    data = env.call("adopt", v.pid)
    env.w.log("non-interactive Adopt as nobody: %s" % data)
    if data.get("ok"):
        problems.append("Adopt succeeded without a password: %s" % data.get("result"))
    elif data.get("error") not in (INTERACTIVE, ACCESS_DENIED):
        problems.append("Adopt failed with %s (%s), expected %s or %s" % (
            data.get("error"), data.get("message"), INTERACTIVE, ACCESS_DENIED))
    if not data.get("ok"):
        try:
            env.assert_untouched(v, "the refused Adopt")
        except Failure as e:
            problems.append(str(e))
    if problems:
        raise Failure("; ".join(problems))
    env.quit(v)


def setup():
    return attack.AttackEnv(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([("a process of nobody's uid but a foreign gid needs adopt-any",
                     check_foreign_gid)], setup)
