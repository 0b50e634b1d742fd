# SPDX-License-Identifier: MIT
"""The private system bus and polkitd for bench's "through the helper" figures.

A coprocess of bench (tests/bench/bench.c), which does the measuring; this
only sets up and tears down, with tests/lib/rig.py: a private dbus-daemon
with the project's bus policy and an activation file for the given reptyrd
(with --ptrace-scope-file pointing at a file that says "0", so that the
shipped default rule allows a user to adopt its own process without a
password), and real polkitd with the given actions and rules in a private
mount namespace. The client and victim binaries are copied into the rig's
mode-755 directory, so that user nobody can run them.

Protocol, one line each way (stdin: commands, stdout: answers):

  at start   "address ADDR", "reptyrctl PATH", "victim PATH", then "ready";
             or "skip REASON" / "error REASON" and exit
  pid        "pid N": the pid owning org.reptyr.Reptyr1, 0 when none
  stop       "stopped N": the helper (pid N, 0 when none ran) was stopped
             and its name is gone from the bus
  logs       the bus's (with reptyrd's stderr) and polkitd's logs on
             stderr, then "ok"
  quit / EOF teardown: helper, polkitd, bus, temporary directory

Any other failure: "error REASON" on stdout, then teardown.
"""

import argparse
import os
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rig  # noqa: E402
from testlib import Skip  # noqa: E402


def say(line):
    try:
        sys.stdout.write(line.replace("\n", " ") + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # bench is gone: nobody to tell, tear down all the same


def error(e):
    """The first line of E for bench, all of it on stderr."""
    text = str(e).strip() or type(e).__name__
    if "\n" in text:
        sys.stderr.write(f"bus-bench: {text}\n")
        sys.stderr.flush()
    say(f"error {text.splitlines()[0]}")


def on_signal(sig, frame):
    # Leave through the `with`, so that the rig tears down.
    raise SystemExit(128 + sig)


def serve(r, reptyrctl, victim):
    say(f"address {r.address}")
    say(f"reptyrctl {r.install_binary(reptyrctl)}")
    say(f"victim {r.install_binary(victim)}")
    say("ready")
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "pid":
            say(f"pid {r.helper_pid() or 0}")
        elif cmd == "stop":
            pid = r.helper_pid() or 0
            r.stop_helper()
            # The bus may still list the name for a moment after the
            # process is gone; the next call must find it unowned, i.e.
            # activate a new helper.
            r.wait_for(lambda: not r.has_owner(rig.BUS_NAME),
                       f"{rig.BUS_NAME} to leave the bus")
            say(f"stopped {pid}")
        elif cmd == "logs":
            sys.stderr.write(r.logs() + "\n")
            sys.stderr.flush()
            say("ok")
        elif cmd == "quit":
            return
        else:
            say(f"error unknown command {cmd!r}")
            return


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bus-policy", required=True)
    ap.add_argument("--polkit-policy", required=True)
    ap.add_argument("--rules", action="append", default=[])
    ap.add_argument("--reptyrd", required=True)
    ap.add_argument("--reptyrctl", required=True)
    ap.add_argument("--victim", required=True)
    a = ap.parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        rules = {}
        for path in a.rules:
            with open(path) as f:
                rules[os.path.basename(path)] = f.read()
        with rig.Rig(bus_policy=a.bus_policy, polkit_policy=a.polkit_policy,
                     reptyrd=a.reptyrd, ptrace_scope="0", rules=rules) as r:
            try:
                serve(r, a.reptyrctl, a.victim)
            except Exception as e:  # told to bench, then teardown
                error(e)
                return 1
    except Skip as e:
        say(f"skip {e}")
        return 0
    except (rig.RigError, OSError, ValueError) as e:
        error(e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
