#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Targets the engine must give up on, leaving them untouched.

usage: stuck-test.py ENGINE_DRIVER VICTIM {vfork|exec}

vfork: a thread of the victim sits in vfork() (its child never execs), so it
can never reach a ptrace stop. The engine must give up within about its stop
deadline with Busy, naming that thread, and change nothing. The thread that
never stopped stays attached (a pending interrupt) until the engine's
process exits, which is why reptyrd and reptyrctl run the engine in a
worker process: engine-driver exits right after answering, and the victim
must then be fully released (TracerPid 0 on every thread) and unchanged.

exec: the victim runs another program (exec) after the engine attached to
it and checked it, but before it was stopped. The engine must refuse (the
program that was authorized is gone) and leave the new program running,
not traced.
"""
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from testlib import Failure, Skip  # noqa: E402


def kv_of(text):
    return dict(re.findall(r"^(\w+)=(.*)$", text, re.M))


def tracers(pid):
    return {int(t): harness.proc_status(pid, int(t)).get("TracerPid")
            for t in os.listdir("/proc/%d/task" % pid)}


def main_settled(w, pid):
    """A snapshot once the main thread is back in its blocking read."""
    return w.wait_until(lambda: harness.proc_status(pid, pid)["State"][:1] == "S"
                        and harness.snapshot(pid), what="main thread of %d asleep" % pid)


def case_vfork(w, driver, victim):
    a = w.pty("A")
    v = w.spawn_on_pty("victim", [victim, "vfork"], a)
    pid = v.popen.pid
    w.wait_for(a, r"READY pid=%d" % pid, what="victim ready")
    stuck = [int(t) for t in os.listdir("/proc/%d/task" % pid) if int(t) != pid]
    if len(stuck) != 1:
        raise Failure("expected one vforking thread, found %r" % stuck)
    w.wait_until(lambda: harness.proc_status(pid, stuck[0])["State"][:1] == "D",
                 what="thread %d waiting in vfork()" % stuck[0])
    before = main_settled(w, pid)
    timeout_ms = 300
    t0 = time.monotonic()
    p = subprocess.run([driver, "--no-relay", "--stop-timeout=%d" % timeout_ms, str(pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    took = time.monotonic() - t0
    out = p.stdout.decode()
    kv = kv_of(out)
    w.log("engine-driver (%.3fs): %s" % (took, out.strip()))
    if kv.get("error") != "Busy":
        raise Failure("expected error=Busy, got %r" % out)
    if "thread %d " % stuck[0] not in kv.get("message", ""):
        raise Failure("the message does not name thread %d: %r" % (stuck[0], kv.get("message")))
    if took > timeout_ms / 1000 + 2:
        raise Failure("gave up only after %.2fs (deadline %d ms)" % (took, timeout_ms))
    # The driver has exited: the kernel released the thread that never
    # stopped; everything else was detached untouched.
    t = tracers(pid)
    if any(v != "0" for v in t.values()):
        raise Failure("still traced after the engine's process exited: %r" % t)
    after = main_settled(w, pid)
    diffs = harness.compare_snapshots(before, after)
    if diffs:
        raise Failure("target changed: %s" % "; ".join(diffs))
    m = a.mark()
    w.send(a, "still-here\n")
    w.wait_for(a, r"GOT still-here", since=m, what="victim still answering")
    if harness.proc_status(pid, stuck[0])["State"][:1] != "D":
        raise Failure("the vforking thread left vfork(): %r"
                      % harness.proc_status(pid, stuck[0])["State"])
    print("gave up after %.3fs: %s" % (took, kv["message"]))


def case_exec(w, driver, victim):
    a = w.pty("A")
    v = w.spawn_on_pty("victim", [victim, "exec"], a)
    pid = v.popen.pid
    w.wait_for(a, r"READY pid=%d" % pid, what="victim ready")
    main_settled(w, pid)
    sigblk = harness.proc_status(pid)["SigBlk"]
    # The 2nd permission check is the one made once the target is attached
    # but not yet stopped: the driver pauses there until we say.
    d = subprocess.Popen([driver, "--no-relay", "--pause-in-verify=2", str(pid)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = d.stdout.readline().decode()
        if "VERIFY-PAUSE" not in line:
            raise Failure("driver did not pause in verify: %r %r" % (line, d.stdout.read()))
        if tracers(pid)[pid] == "0":
            raise Failure("target not attached while the check runs")
        if harness.proc_status(pid)["State"][:1] not in ("S", "R"):
            raise Failure("target stopped before it was allowed: %r"
                          % harness.proc_status(pid)["State"])
        w.send(a, "exec\n")
        # The exec is caught before the new program runs: it sits in the
        # exec event stop with its new command line.
        w.wait_until(lambda: b"execd" in open("/proc/%d/cmdline" % pid, "rb").read(),
                     what="victim exec'd")
        d.stdin.write(b"\n")
        d.stdin.flush()
        out = d.stdout.read().decode()
        d.wait(timeout=20)
    finally:
        if d.poll() is None:
            d.kill()
    kv = kv_of(out)
    w.log("engine-driver: %s" % out.strip())
    if kv.get("ok") == "1" or kv.get("error") != "TargetGone":
        raise Failure("expected a refusal (TargetGone), got %r" % out)
    if "another program" not in kv.get("message", ""):
        raise Failure("unclear message: %r" % kv.get("message"))
    w.wait_for(a, r"READY pid=%d" % pid, since=0, what="new program started")
    w.wait_until(lambda: all(v == "0" for v in tracers(pid).values()), what="not traced")
    if harness.proc_status(pid)["SigBlk"] != sigblk:
        raise Failure("SigBlk %s -> %s" % (sigblk, harness.proc_status(pid)["SigBlk"]))
    m = a.mark()
    w.send(a, "after-exec\n")
    w.wait_for(a, r"GOT after-exec", since=m, what="new program answering on its terminal")
    print("refused: %s" % kv["message"])


def main():
    driver, victim, case = sys.argv[1:4]
    w = harness.World()
    try:
        {"vfork": case_vfork, "exec": case_exec}[case](w, driver, victim)
    except Skip as e:
        print("SKIP: %s" % e)
        return 77
    except Failure as e:
        print("FAIL: %s" % e)
        return 1
    finally:
        w.cleanup()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
