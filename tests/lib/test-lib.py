#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the test library: one Failure and one Skip, whichever part
raised them, and the exit status a test reports for each (meson's 0 PASS,
1 FAIL, 77 SKIP, with the reason on a "SKIP:"/"FAIL:" line).

Each case runs a child Python that raises from the pty world (harness), from
the bus rig's side (rig, bustest), from the tests' own helpers (attack.py,
progtest.py) or from nowhere in particular (no main() at all), and checks
the child's exit status and output. Needs neither root nor a bus: nothing
here starts a daemon.
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import testlib  # noqa: E402
from testlib import FAIL, PASS, SKIP, expect  # noqa: E402

LIB = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(LIB)

# What every test script starts with (see testlib's docstring), for a child
# run with -c: there __file__ is not set, so the path is given.
PRELUDE = ("import sys\nsys.dont_write_bytecode = True\n"
           "sys.path.insert(0, %r)\n" % LIB)


def child(code, *argv):
    """Run CODE (after the prelude) in a fresh interpreter: (status, output)."""
    r = subprocess.run([sys.executable, "-c", PRELUDE + code] + list(argv),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60, cwd="/")
    return r.returncode, r.stdout


def verdict(code, status, line):
    """A check: the child running CODE exits STATUS and prints LINE."""
    def check(_):
        rc, out = child(code)
        expect(rc == status, "exit status %d, expected %d; output:\n%s" % (rc, status, out))
        expect(line in out, "no %r in the output:\n%s" % (line, out))
    return check


def load(path, name):
    """Import a test's own helper module (tests/bus/attack.py, ...) by path."""
    return ("import importlib.util\n"
            "spec = importlib.util.spec_from_file_location(%r, %r)\n"
            "%s = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(%s)\n" % (name, os.path.join(TESTS, path), name, name))


def check_one_class_each(_):
    code = (load("bus/attack.py", "attack") + load("programs/progtest.py", "progtest") +
            "import testlib, harness, rig, bustest\n"
            "for kind in ('Failure', 'Skip'):\n"
            "    classes = {getattr(m, kind) for m in (testlib, harness, rig, bustest, attack,"
            " progtest)}\n"
            "    assert classes == {getattr(testlib, kind)}, (kind, classes)\n"
            "print('one class each')\n")
    rc, out = child(code)
    expect(rc == 0 and "one class each" in out, "exit %d:\n%s" % (rc, out))


# A pty world whose wait runs into its deadline: harness's own Failure.
PTY_FAILURE = """
import harness, testlib
def run():
    w = harness.World()
    try:
        p = w.pty("P")
        w.wait_for(p, "never printed", timeout=0.2, what="self-test wait")
    finally:
        w.cleanup()
sys.exit(testlib.main(run))
"""

# A Skip raised while a pty world is up, under main(): SKIP, and the world
# is cleaned up on the way out.
PTY_SKIP = """
import harness, testlib
def run():
    w = harness.World()
    try:
        w.pty("P")
        raise harness.Skip("pty-world skip reason")
    finally:
        w.cleanup()
sys.exit(testlib.main(run))
"""

# The rig's own Skip (a missing program), in run_checks.
RIG_SKIP = """
import rig, testlib
def needs_tool(_):
    rig._which("reptyr-selftest-no-such-tool")
testlib.run_checks([("needs a tool", needs_tool)])
"""

RIG_FAILURE = """
import rig, testlib
def wrong(_):
    rig.expect(False, "rig-side failure message")
testlib.run_checks([("wrong", wrong), ("right", lambda _: None)])
"""

# The mix that used to report FAIL: a Skip of the pty world raised in a bus
# test's run_checks (and bustest's, which is the same function).
PTY_SKIP_IN_CHECKS = """
import bustest, harness
def check(_):
    raise harness.Skip("pty skip inside bus checks")
bustest.run_checks([("check", check)], setup=None)
"""

# ... and the rig's Skip raised in a pty-world test's main().
RIG_SKIP_IN_MAIN = """
import rig, testlib
def run():
    raise rig.Skip("rig skip inside main")
sys.exit(testlib.main(run))
"""

# No main() at all: the net under every script still says SKIP / FAIL.
UNCAUGHT_SKIP = """
import harness
raise harness.Skip("uncaught skip reason")
"""

UNCAUGHT_FAILURE = """
import rig
raise rig.Failure("uncaught failure reason")
"""

PASSING = """
import testlib
testlib.run_checks([("fine", lambda _: None)])
"""


def check_skip_script(_):
    skip = os.path.join(LIB, "skip.py")
    r = subprocess.run([sys.executable, skip, "no such library in this build"],
                       capture_output=True, text=True, timeout=60)
    expect(r.returncode == SKIP and r.stdout == "SKIP: no such library in this build\n",
           "skip.py REASON: exit %d, output %r" % (r.returncode, r.stdout))
    r = subprocess.run([sys.executable, skip], capture_output=True, text=True, timeout=60)
    expect(r.returncode == FAIL, "skip.py without a reason: exit %d (a skip needs its reason)"
           % r.returncode)


checks = [
    ("one Failure and one Skip class, whichever module names them", check_one_class_each),
    ("pty world: Failure -> FAIL", verdict(PTY_FAILURE, FAIL, "FAIL: self-test wait")),
    ("pty world: Skip -> SKIP with its reason",
     verdict(PTY_SKIP, SKIP, "SKIP: pty-world skip reason")),
    ("rig: Skip -> SKIP with its reason",
     verdict(RIG_SKIP, SKIP, "SKIP: reptyr-selftest-no-such-tool is not installed")),
    ("rig: Failure -> FAIL, every check reported",
     verdict(RIG_FAILURE, FAIL, "FAIL - wrong: rig-side failure message")),
    ("pty world's Skip in a bus test's checks -> SKIP",
     verdict(PTY_SKIP_IN_CHECKS, SKIP, "SKIP: pty skip inside bus checks")),
    ("rig's Skip in main() -> SKIP", verdict(RIG_SKIP_IN_MAIN, SKIP, "SKIP: rig skip inside main")),
    ("uncaught Skip -> SKIP with its reason",
     verdict(UNCAUGHT_SKIP, SKIP, "SKIP: uncaught skip reason")),
    ("uncaught Failure -> FAIL", verdict(UNCAUGHT_FAILURE, FAIL, "FAIL: uncaught failure reason")),
    ("all checks pass -> PASS", verdict(PASSING, PASS, "1 passed, 0 failed")),
    ("skip.py REASON -> SKIP", check_skip_script),
]

if __name__ == "__main__":
    testlib.run_checks(checks)
