# SPDX-License-Identifier: MIT
"""The helper's adopting worker (the tracer) is SIGKILLed just before each
step of an adoption: what does that leave of the target?

reptyrd runs with its test-only --test-kill-worker-at=N (a command-line
option of the activation file, which no caller can reach). For N = 1, 2, ...
until an adoption completes, nobody adopts a fresh victim of its own (a
session leader on its own pty) through the helper. Each time:

- the call fails with org.reptyr.Reptyr1.Error.Failed saying the worker
  died, and the helper goes on answering (Properties.Get);
- the victim is alive, no thread is traced, its signal mask is exactly as
  before (a dead tracer must never leave signals blocked), it has no child;
- it is reachable: on its old terminal it answers a line; if it was already
  on the new pty, that pty's master died with the worker (the target holds
  no copy of it), so it got a hangup, as if its window had closed: this
  victim has SIGHUP's default action and ends by SIGHUP (or, before the pty
  is its controlling terminal, reads end-of-file and exits 0), nothing else.

Prints one line per step with the state the target was left in.
"""

import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import harness  # noqa: E402
from bustest import ERR  # noqa: E402
from testlib import Failure, expect  # noqa: E402

args = bustest.arg_parser(__doc__).parse_args()
MAX_STEPS = 40


def sigblk(pid):
    return {t: harness.proc_status(pid, int(t))["SigBlk"]
            for t in os.listdir("/proc/%d/task" % pid)}


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(f[1]) == pid:
                kids.append((int(d), f[0]))
    return kids


def fds_and_maps(pid):
    fds = sorted(int(f) for f in os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/maps" % pid) as f:
        return fds, len(f.readlines())


def leftovers(pid, before):
    fds, maps = fds_and_maps(pid)
    extra = [f for f in fds if f not in before[0]]
    out = []
    if extra:
        out.append("extra fds %s" % extra)
    if maps != before[1]:
        out.append("%+d mappings" % (maps - before[1]))
    return "; left behind: " + ", ".join(out) if out else ""


def one_step(env, step):
    env.rig.stop_helper()
    env.rig.write_activation_file(args=["--test-kill-worker-at=%d" % step])
    v = env.start_victim("nobody", "read", name="kill-%d" % step)
    env.w.settled_snapshot(v.pid)
    blk = sigblk(v.pid)
    old = os.readlink("/proc/%d/fd/0" % v.pid)
    before = fds_and_maps(v.pid)
    data = env.call("adopt", v.pid)
    if data.get("ok"):
        env.quit(v)
        return None
    msg = env.expect_error(data, ERR + "Failed", "adoption whose worker dies at step %d" % step)
    expect("worker" in msg and "died" in msg, "step %d: the error does not say the worker died: "
           "%r" % (step, msg))
    r = env.rig.busctl("get-property", "org.reptyr.Reptyr1", "/org/reptyr/Reptyr1",
                       "org.reptyr.Reptyr1", "Version")
    expect(r.returncode == 0, "step %d: the helper no longer answers: %s" % (step, r.stderr))
    # The hangup of the new pty may reach it a moment after the answer:
    # settled means sleeping (or stopped) on a terminal, or gone.
    env.w.wait_until(lambda: v.proc.poll() is not None or
                     harness.proc_state(v.pid) in ("S", "T"), what="victim settled",
                     detail=lambda: "state %s" % harness.proc_state(v.pid))
    if v.proc.poll() is not None:
        # Hung up on the new pty, whose master died with the worker.
        code = v.proc.exit_code()
        # SIGHUP once the pty is its controlling terminal, before that
        # end-of-file on its read (on which this victim exits 0).
        expect(code in (0, 128 + signal.SIGHUP), "step %d: the victim ended by %s, not by the "
               "hangup" % (step, harness.signal_name(code)))
        return ("hung up on the new pty (master gone with the worker): %s"
                % ("SIGHUP" if code else "end-of-file, it exited 0"))
    for t in os.listdir("/proc/%d/task" % v.pid):
        expect(harness.proc_status(v.pid, int(t))["TracerPid"] == "0",
               "step %d: thread %s still traced" % (step, t))
    expect(sigblk(v.pid) == blk, "step %d: SigBlk %r became %r" % (step, blk, sigblk(v.pid)))
    expect(not children(v.pid), "step %d: children left: %r" % (step, children(v.pid)))
    now = os.readlink("/proc/%d/fd/0" % v.pid)
    left = leftovers(v.pid, before)
    if now == old:
        env.ask(v, v.pty, "still-here-%d" % step, what="step %d: victim on its old terminal"
                % step)
        state = "on its old terminal, answering" + left
        env.quit(v)
    else:
        os.kill(v.pid, signal.SIGTERM)
        env.w.wait_exit([v.proc], what="step %d: victim ends on SIGTERM" % step)
        state = ("on the new pty %s (master gone with the worker); ends on SIGTERM" % now) + left
    return state


def check_every_step(env):
    failures = []
    for step in range(1, MAX_STEPS + 1):
        try:
            state = one_step(env, step)
        except Failure as e:
            failures.append(str(e))
            print("step %d: FAIL: %s" % (step, e), flush=True)
            continue
        if state is None:
            print("step %d: the adoption completed: all %d steps covered" % (step, step - 1),
                  flush=True)
            break
        print("worker killed before step %d: the target is %s" % (step, state), flush=True)
    else:
        failures.append("the adoption never completed within %d steps" % MAX_STEPS)
    if failures:
        raise Failure("; ".join(failures))


def setup():
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([("the worker killed before every step: target alive, untraced, same mask",
                     check_every_step)], setup)
