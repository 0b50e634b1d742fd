# SPDX-License-Identifier: MIT
"""The verdicts every Python test of the project gives, defined once.

Every test script finds this directory with the same two lines, before it
imports anything from here:

    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

and then uses the one Failure and the one Skip, whichever part of the
library (harness: ptys and processes; rig: the private bus and polkitd;
bustest: both together) raised them. meson's convention for the exit
status: 0 PASS, 1 FAIL, 77 SKIP, each with a line saying why.

    from testlib import Failure, Skip, expect, main
    sys.exit(main(run))          # run() raises Skip / Failure, or returns
"""

import os
import sys
import traceback

PASS = 0
FAIL = 1
SKIP = 77


class Failure(Exception):
    """The behaviour under test is wrong; the message says how."""


class Skip(Exception):
    """The test cannot run here; the message says why."""


def expect(condition, message):
    if not condition:
        raise Failure(message)


def skip_exit(reason):
    """Report SKIP with REASON and leave with meson's 77."""
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def main(fn, *args, **kw):
    """Run FN and turn its outcome into an exit status: its own return
    value (None: 0), FAIL when it raises Failure (or anything else, with
    the traceback), SKIP when it raises Skip. For sys.exit(main(fn))."""
    try:
        rc = fn(*args, **kw)
    except Skip as e:
        print(f"SKIP: {e}", flush=True)
        return SKIP
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        return FAIL
    except Exception:
        traceback.print_exc()
        print("FAIL: unexpected exception (traceback above)", flush=True)
        return FAIL
    return PASS if rc is None else rc


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def run_checks(checks, setup=None):
    """Run CHECKS, a list of (name, function), each called with the result
    of SETUP() (a context manager, or None): a check fails by raising
    Failure (or anything else). Prints one line per check and exits 0 (all
    passed), 1 (some failed) or 77 (the test cannot run here: Skip from
    SETUP or a check)."""
    failed = 0
    try:
        ctx = setup() if setup else None
        with ctx if ctx is not None else _Nothing() as env:
            for name, fn in checks:
                try:
                    fn(env)
                    print(f"ok - {name}", flush=True)
                except Skip:
                    raise
                except Exception as e:  # report every check, not the first
                    failed += 1
                    kind = "" if isinstance(e, Failure) else f"{type(e).__name__}: "
                    print(f"FAIL - {name}: {kind}{e}", flush=True)
    except Skip as e:
        skip_exit(e)
    print(f"{len(checks) - failed} passed, {failed} failed", flush=True)
    sys.exit(FAIL if failed else PASS)


def _excepthook(kind, value, tb):
    # The net under every script: a Skip that no main() caught still
    # reports SKIP (exit 77) with its reason, not a FAIL with a traceback.
    if issubclass(kind, Skip):
        print(f"SKIP: {value}", flush=True)
        sys.stderr.flush()
        # Everything on the way up (finally, with) has run by now.
        os._exit(SKIP)
    if issubclass(kind, Failure):
        print(f"FAIL: {value}", flush=True)
    _default_excepthook(kind, value, tb)


_default_excepthook = sys.excepthook
sys.excepthook = _excepthook
