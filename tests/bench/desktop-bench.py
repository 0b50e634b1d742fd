# SPDX-License-Identifier: MIT
"""Throughput of reptyr-terminal: how fast a flood reaches the VTE widget.

Two windows in Xvfb, each with the same VTE widget, each receiving the same
flood (vte-flood.py: BYTES of text, then a cursor position query whose
answer proves the widget has processed it all):

- direct: VTE runs the flood as its own child (vte-child), the baseline of
  any VTE terminal;
- reptyr-terminal: the flood runs on a pty of its own, reptyr-terminal
  adopts it through reptyrd (private bus, real polkitd, tests/lib/rig.py)
  and shows the master it got, with no relay.

Runs as root (the adoption path is the same for every user). Prints one
line per run and the medians, and the ratio against the target 0.95. Fails
only when it cannot measure.

    desktop-bench.py --bus-policy ... --polkit-policy ... --reptyrd ...
        --reptyr-terminal ... --vte-child ... [-n RUNS] [--bytes N]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rig as riglib  # noqa: E402
from rig import Rig  # noqa: E402

TARGET = 0.95
ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--bus-policy", required=True)
ap.add_argument("--polkit-policy", required=True)
ap.add_argument("--reptyrd", required=True)
ap.add_argument("--reptyr-terminal", required=True)
ap.add_argument("--vte-child", required=True)
ap.add_argument("-n", type=int, default=3, help="runs of each (default 3)")
ap.add_argument("--bytes", type=int, default=32 << 20, help="flood size (default 32 MiB)")
args = ap.parse_args()
FLOOD = os.path.join(HERE, "vte-flood.py")


def wait_file(path, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise SystemExit(f"desktop-bench: {what} ended with {proc.returncode} before a result")
        if time.monotonic() > deadline:
            raise SystemExit(f"desktop-bench: no result from {what} after {timeout} s")
        time.sleep(0.02)  # bounded poll of a condition
    with open(path) as f:
        n, secs = f.read().split()
    return int(n) / float(secs)


def start_xvfb():
    r, w = os.pipe()
    x = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1024x700x24", "-ac",
                          "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, preexec_fn=riglib._die_with_parent)
    os.close(w)
    with os.fdopen(r) as f:
        return x, ":" + f.readline().strip()


def main():
    for tool in ("Xvfb",):
        if not shutil.which(tool):
            print(f"desktop-bench: SKIP: {tool} is not installed")
            return 77
    riglib.require_root()
    tmp = tempfile.mkdtemp(prefix="reptyr-vte-bench-")
    xvfb, display = start_xvfb()
    env = dict(os.environ, DISPLAY=display, GSK_RENDERER="cairo", GDK_BACKEND="x11",
               NO_AT_BRIDGE="1")
    direct, adopted = [], []
    try:
        with Rig(args.bus_policy, args.polkit_policy, args.reptyrd) as rig:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = rig.address
            for i in range(args.n):
                res = os.path.join(tmp, f"direct-{i}")
                p = subprocess.Popen([args.vte_child, sys.executable, FLOOD, "now",
                                      str(args.bytes), res], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                direct.append(wait_file(res, p, "vte-child"))
                p.wait(timeout=30)
                print(f"run {i + 1}: VTE with its own child: {direct[-1] / 1e6:.1f} MB/s",
                      flush=True)

                res = os.path.join(tmp, f"adopted-{i}")
                master, slave = os.openpty()
                victim = subprocess.Popen([sys.executable, FLOOD, "winch", str(args.bytes), res],
                                          stdin=slave, stdout=slave, stderr=slave,
                                          start_new_session=True)
                os.close(slave)
                # Until it is adopted the victim waits, with no output.
                term = subprocess.Popen([args.reptyr_terminal, str(victim.pid)], env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                try:
                    adopted.append(wait_file(res, victim, "the adopted flood"))
                finally:
                    term.send_signal(signal.SIGTERM)
                    term.wait(timeout=30)
                    victim.kill()
                    victim.wait()
                    os.close(master)
                print(f"run {i + 1}: reptyr-terminal (adopted, no relay): "
                      f"{adopted[-1] / 1e6:.1f} MB/s", flush=True)
    finally:
        xvfb.kill()
        xvfb.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    d, a = statistics.median(direct), statistics.median(adopted)
    print(f"VTE throughput ({args.bytes >> 20} MiB flood, median of {args.n}): "
          f"VTE with its own child {d / 1e6:.1f} MB/s; reptyr-terminal {a / 1e6:.1f} MB/s; "
          f"ratio {a / d:.3f} (target >= {TARGET}): {'OK' if a / d >= TARGET else 'BELOW TARGET'}")
    return 0


sys.exit(main())
