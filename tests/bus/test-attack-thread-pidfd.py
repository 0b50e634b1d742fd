# SPDX-License-Identifier: MIT
"""Attack: adopt a process through one of its threads.

The caller (nobody) runs a multi-threaded process of its own and calls Adopt
with a pidfd opened with PIDFD_THREAD (Linux >= 6.9) for a thread that is
not the leader, then AdoptPID with that thread id. A thread id is not a
process id: the helper must say so (org.reptyr.Reptyr1.Error.InvalidArgs,
naming the thread and telling the caller to pass the process) and adopt
nothing, rather than treat the tid as the pid of whatever it finds.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
from attack import ERR  # noqa: E402
from testlib import Failure, Skip, expect  # noqa: E402

args = attack.arg_parser(__doc__).parse_args()


def check_thread_pidfd(env):
    v = env.start_victim("nobody", "threads", name="threads")
    tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % v.pid) if int(t) != v.pid)
    expect(tids, "%s has no thread besides its leader" % v)
    tid = tids[-1]
    env.baseline(v)
    r = env.rig.run([env.attack_client, "thread", str(tid)], user="nobody", timeout=30)
    out = r.stdout + r.stderr
    env.w.log("attack-client thread %d (of process %d): exit %d\n%s"
              % (tid, v.pid, r.returncode, out.strip()))
    if r.returncode == 77 or "PIDFD_THREAD errno" in out:
        raise Skip("pidfd_open(PIDFD_THREAD) is not supported here: %s" % out.strip())
    answers = {d.get("call"): d for d in attack.json_lines_text(out)}
    problems = []
    for call in ("Adopt", "AdoptPID"):
        d = answers.get(call)
        if d is None:
            problems.append("%s: no answer" % call)
            continue
        if d.get("ok"):
            problems.append("%s of thread %d of process %d succeeded" % (call, tid, v.pid))
            continue
        msg = d.get("message") or ""
        if d.get("error") != ERR + "InvalidArgs":
            problems.append("%s: %s (%s), expected %sInvalidArgs" % (call, d.get("error"), msg,
                                                                     ERR))
        elif "thread" not in msg or "process" not in msg:
            problems.append("%s: message %r does not say it is a thread and to pass the "
                            "process" % (call, msg))
    try:
        env.assert_untouched(v, "Adopt/AdoptPID of its thread %d" % tid)
    except Failure as e:
        problems.append(str(e))
    if problems:
        raise Failure("; ".join(problems) + "\n" + env.log_text()[-2000:])
    env.quit(v)


def setup():
    return attack.AttackEnv(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([("Adopt/AdoptPID of a non-leader thread: InvalidArgs naming the thread, "
                     "nothing adopted", check_thread_pidfd)], setup)
