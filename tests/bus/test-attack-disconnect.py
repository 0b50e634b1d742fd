# SPDX-License-Identifier: MIT
"""Attack: disconnect from reptyrd at every stage of an Adopt.

nobody (a raw client, attack3-client.py, that controls exactly when its
connection closes) calls Adopt on its own victim ("pending" mode: a signal
pending on the thread and one on the process, both blocked) and closes the
connection

- while polkit is still deciding (a rule holds the answer until the test
  lets it go, after the client is gone);
- 0..30 ms after polkit said yes: while the worker seizes, checks and
  re-ptys the target;
- once the reply (with its master fd) is in the client's socket, unread.

After each, the victim is either exactly as before (not traced, not
stopped, same fds, same SigBlk/SigPnd/ShdPnd, maps and code: the harness's
snapshot) and still reads its own terminal, or fully adopted with its new
terminal hung up (it dies of SIGHUP, as a session leader whose terminal
goes away does, or ends on the EIO or end-of-file its read gets from that
hangup); never anything in between. reptyrd keeps no worker
(child), no more fds than before and about the same RSS, logs one outcome
per call, and exits on its idle timeout afterwards.
"""

import os
import re
import select
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import harness  # noqa: E402
import rig  # noqa: E402
from testlib import Failure, Skip, expect  # noqa: E402

args = bustest.arg_parser(__doc__).parse_args()
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attack3-client.py")
IDLE = 3


def helper_state(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = f.read().split()
        fds = len(os.listdir("/proc/%d/fd" % pid))
        rss = int(harness.proc_status(pid).get("VmRSS", "0 kB").split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return {"children": children, "fds": fds, "rss_kb": rss}


def outcome_of(env, pid):
    return [e["outcome"] for e in env.log_entries() if int(e["pid"]) == pid]


class Env(bustest.Env):
    def __enter__(self):
        super().__enter__()
        try:
            (self.client_py,) = self.w.private_copy(CLIENT)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def raw_client(self, pid, until):
        return self.rig.popen([sys.executable, self.client_py, "close-after", str(pid), until],
                              user="nobody", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)


def one_round(env, helper, base, name, until_fn, gate=True):
    """A victim, a gated (or not) Adopt, a disconnect at UNTIL; returns the
    victim's fate: "untouched" or "hung up"."""
    v = env.start_victim("nobody", "pending", name=name)
    env.baseline(v)
    d = env.gate(name, v.pid) if gate else None
    try:
        p = env.raw_client(v.pid, until_fn(d))
        if d:
            env.wait_gate_started(d)
            if "started" not in until_fn(d):
                env.open_gate(d)
        out, _ = p.communicate(timeout=40)
        expect(p.returncode == 0, "%s: client failed: %s" % (name, out))
        if d and not os.path.exists(os.path.join(d, "go")):
            env.open_gate(d)
        # One outcome in the log for this call.
        env.w.wait_until(lambda: outcome_of(env, v.pid), timeout=30,
                         what="%s: reptyrd's outcome for %d" % (name, v.pid),
                         detail=env.log_text)
    finally:
        if d:
            env.rig.remove_rules("05-gate-%s.rules" % name)
    outcome = outcome_of(env, v.pid)
    # The victim: untouched, or adopted and hung up; nothing in between.
    if any(o.startswith("adopted") for o in outcome):
        env.w.wait_exit([v.proc], what="%s: %s dies of its new terminal's hangup" % (name, v),
                        timeout=10)
        code = v.proc.exit_code()
        # Closing the master first marks the slave's other side closed and
        # wakes its reader, then hangs it up (SIGHUP): a victim woken in
        # between reads EIO and exits 3 on its own; one whose read came
        # after the hangup reads end-of-file and exits 0.
        expect(code in (128 + signal.SIGHUP, 3, 0),
               "%s: adopted %s ended with %s, not by its new terminal's hangup"
               % (name, v, harness.signal_name(code)))
        fate = "hung up"
    else:
        env.assert_untouched(v, name)
        st = harness.proc_status(v.pid)
        expect(st.get("TracerPid") == "0", "%s: %s traced by %s" % (name, v,
                                                                    st.get("TracerPid")))
        fate = "untouched"
        env.quit(v)
    # reptyrd: no worker left, no fd more than before.
    last = {}

    def settled():
        last.update(helper_state(helper) or {"gone": True})
        return not last.get("children") and last.get("fds", 0) <= base["fds"]

    env.w.wait_until(settled, timeout=10, what="%s: reptyrd back to its baseline %s" % (name, base),
                     detail=lambda: "now %s" % last)
    env.w.log("%s: %s -> %s; reptyrd %s" % (name, outcome, fate, last))
    return fate


def check_disconnects(env):
    env.sync_helper()
    v0 = env.start_victim("nobody", "read", name="warmup")
    env.inspect(v0)
    env.quit(v0)
    helper = env.rig.helper_pid()
    expect(helper, "no reptyrd")
    base = helper_state(helper)
    env.w.log("reptyrd %d baseline: %s" % (helper, base))
    fates = {}

    def gate_file(f):
        return lambda d: "file:" + os.path.join(d, f)

    fates["polkit"] = one_round(env, helper, base, "polkit", gate_file("started"))
    for ms in (0, 1, 3, 6, 10, 20, 30):
        fates["work+%d" % ms] = one_round(
            env, helper, base, "work%d" % ms,
            lambda d, ms=ms: "file:%s,ms:%d" % (os.path.join(d, "done"), ms))
    fates["reply"] = one_round(env, helper, base, "reply", lambda d: "reply", gate=False)
    env.w.log("fates: %s" % fates)
    # A worker cancelled by the disconnect reports how it ended (undone,
    # or adopted); it never looks like a worker that died mid-way.
    died = [l for l in env.log_text().splitlines()
            if re.search(r"died( \(.*\))? before it reported", l)]
    expect(not died, "a cancelled worker's outcome was lost: %s" % died)
    expect(fates["polkit"] == "untouched", "disconnect during polkit: %s" % fates["polkit"])
    expect(fates["reply"] == "hung up", "disconnect after the reply: %s" % fates["reply"])
    final = helper_state(helper)
    expect(final["rss_kb"] <= base["rss_kb"] + 2048, "reptyrd's RSS grew from %d to %d kB"
           % (base["rss_kb"], final["rss_kb"]))
    # And it idles out.
    pidfd = os.pidfd_open(helper)
    try:
        if not select.select([pidfd], [], [], IDLE + 10)[0]:
            raise Failure("reptyrd %d still runs %d s after its last request:\n%s"
                          % (helper, IDLE + 10, env.log_text()[-3000:]))
    finally:
        os.close(pidfd)
    rig._reap_if_ours(helper)
    env.rig.helper_pids.discard(helper)


def setup():
    if not hasattr(os, "pidfd_open"):
        raise Skip("this Python has no os.pidfd_open")
    return Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0",
                          reptyrd_args=["--idle-timeout=%d" % IDLE]))


bustest.run_checks([("disconnecting during polkit, the worker and before reading the reply: "
                     "the target untouched or adopted and hung up, reptyrd clean",
                     check_disconnects)], setup)
