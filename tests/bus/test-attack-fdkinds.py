# SPDX-License-Identifier: MIT
"""Attack: hand reptyrd fds that are not a pidfd of a live process of the
caller's own.

nobody calls Adopt (dry run) and Inspect with a pipe, a socket, /dev/null,
a memfd (whose contents read like a pidfd's fdinfo), an eventfd, an O_PATH
fd of /proc/self, pidfds of a reaped and of a zombie child, and pidfds of
pid 1, of dbus-daemon, of polkitd and of reptyrd itself (attack2-client
fdkinds), with the shipped rules and Yama 0. Required:

- an fd that is not a pidfd: org.reptyr.Reptyr1.Error.InvalidArgs, saying
  so, for both calls;
- a pidfd of a process that is gone (reaped or zombie): NoSuchProcess or
  TargetGone, for both calls;
- pid 1: NoSuchProcess (it is never adopted), for both calls;
- root's daemons (dbus-daemon, polkitd, reptyrd itself): Adopt refused
  (AccessDenied or InteractiveAuthorizationRequired, never a master), and
  Inspect answers "authorized" "no" or "challenge" and shows no exe or tty;
- reptyrd is still there afterwards and has no more fds than before.

Then a "pidfd" whose last close would wait: a TCP socket told to linger an
hour with unsent data its peer never reads (attack3-client.py linger),
given to Adopt and to Inspect. Required: each is refused as not a pidfd,
and another user's Properties.Get is answered meanwhile (busctl's own 5 s
timeout, not a timing): neither reptyrd nor the bus daemon is left waiting
in close() (reptyrd turns the socket's linger off on receipt).
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
import rig  # noqa: E402
from attack import ACCESS_DENIED, ERR, INTERACTIVE  # noqa: E402
from harness import fd_count  # noqa: E402
from testlib import Failure, expect  # noqa: E402

ap = attack.arg_parser(__doc__)
args = ap.parse_args()

NOT_PIDFDS = ("pipe", "socket", "/dev/null", "memfd", "eventfd", "O_PATH /proc/self")
GONE = ("pidfd of a reaped child", "pidfd of a zombie child")
ROOTS = ("pid1", "dbus-daemon", "polkitd", "reptyrd")


def check_fdkinds(env):
    env.rig.busctl("get-property", rig.BUS_NAME, rig.BUS_PATH, rig.BUS_NAME, "Version",
                   check=True)
    helper = env.rig.helper_pid()
    expect(helper, "no helper running after a round trip")
    fds0 = fd_count(helper)
    pids = "pid1=1 dbus-daemon=%d polkitd=%d reptyrd=%d" % (env.rig.bus.pid,
                                                           env.rig.polkitd.pid, helper)
    r = env.rig.run([env.attack2_client, "fdkinds"], user="nobody", timeout=60,
                    env=env.rig.env(ATTACK2_PIDS=pids))
    out = r.stdout + r.stderr
    print(out.strip())
    env.w.log("attack2-client fdkinds: exit %d\n%s" % (r.returncode, out.strip()))
    answers = {(d.get("what"), d.get("call")): d for d in attack.json_lines_text(out)}
    problems = []

    def answer(what, call):
        d = answers.get((what, call))
        if d is None:
            problems.append("%s with %s: no answer" % (call, what))
        return d

    for what in NOT_PIDFDS + GONE:
        want = [ERR + "InvalidArgs"] if what in NOT_PIDFDS else [ERR + "NoSuchProcess",
                                                                 ERR + "TargetGone"]
        for call in ("Adopt", "Inspect"):
            d = answer(what, call)
            if d and (d.get("ok") or d.get("error") not in want):
                problems.append("%s with %s: %s, expected %s" % (call, what, d, " or ".join(want)))
    # pid 1 is refused before anything else, whoever asks.
    for call in ("Adopt", "Inspect"):
        d = answer("pid1", call)
        if d and (d.get("ok") or d.get("error") != ERR + "NoSuchProcess"):
            problems.append("%s of pid 1: %s, expected NoSuchProcess" % (call, d))
    for what in ROOTS[1:]:
        d = answer(what, "Adopt")
        if d and (d.get("ok") or d.get("error") not in (ACCESS_DENIED, INTERACTIVE)):
            problems.append("Adopt of %s: %s, expected AccessDenied" % (what, d))
        d = answer(what, "Inspect")
        if d and not d.get("ok"):
            problems.append("Inspect of %s failed: %s" % (what, d))
        elif d and (d.get("authorized") not in ("no", "challenge") or d.get("exe") or
                    d.get("tty")):
            problems.append("Inspect of %s tells nobody too much: %s" % (what, d))
    now = env.rig.helper_pid()
    if now != helper:
        problems.append("reptyrd %d is gone (now %s)" % (helper, now))
    elif fd_count(helper) > fds0:
        problems.append("reptyrd has %d fds, %d before" % (fd_count(helper), fds0))
    if problems:
        raise Failure("; ".join(problems) + "\n" + env.log_text()[-3000:])


CLIENT3 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attack3-client.py")


def check_linger(env):
    (client,) = env.w.private_copy(CLIENT3)
    problems = []
    for member in ("Adopt", "Inspect"):
        p, out = env.piped("linger-" + member, [sys.executable, client, "linger", member],
                           user="nobody")
        try:
            env.w.wait_for(out, r"\{.*\}\r?\n", what="%s's answer" % member, watch=[p])
            answer = out.text().splitlines()[-1]
            ok, took, said = env.get_version(rig.SECOND_USER, timeout=5)
            env.w.log("%s with a lingering socket: %s; then %s's Get: %s in %.3f s"
                      % (member, answer, rig.SECOND_USER, said, took))
            if ERR + "InvalidArgs" not in answer:
                problems.append("%s of a lingering socket: %s" % (member, answer))
            if not ok:
                problems.append("after %s of a lingering socket, another user's Get: %s "
                                "after %.1f s" % (member, said, took))
        finally:
            p.popen.stdin.close()
            p.popen.wait(timeout=10)
    if problems:
        raise Failure("; ".join(problems) + "\n" + env.log_text()[-2000:])


def setup():
    return attack.Attack2Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([("fds that are not pidfds, pidfds of gone processes and of root's "
                     "daemons: clear errors, nothing adopted or shown", check_fdkinds),
                    ("a socket whose close would wait an hour, as the pidfd: refused, and "
                     "nobody left waiting", check_linger)], setup)
