# SPDX-License-Identifier: MIT
"""Load on reptyrd: many adoptions through the helper by an unprivileged
user, on the private bus with real polkitd (tests/lib/rig.py).

nobody adopts its own victims (shipped rules, Yama 0 simulated, so polkit
says yes without a password): 1000 adoptions one after the other, cycling
over 20 victims (each: Adopt, one line echoed through the master, the
previous master of that victim closed), then 20 at once. Prints failures,
wall time, adoptions per second, and the helper's open fds and VmRSS before
and after; exits 1 if any adoption failed (a benchmark, not a pass/fail test
of speed).

    meson test -C build --benchmark load-through-helper
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import rig  # noqa: E402
import testlib  # noqa: E402
from testlib import Failure, Skip  # noqa: E402

ap = bustest.arg_parser(__doc__)
ap.add_argument("--load-client", help="tests/bench/load-client (built)")
ap.add_argument("--sequential", type=int, default=1000)
ap.add_argument("--concurrent", type=int, default=20)
args = ap.parse_args()


def helper_figures(env):
    pid = env.rig.helper_pid()
    if not pid:
        raise Failure("no helper owns %s" % rig.BUS_NAME)
    fds = len(os.listdir("/proc/%d/fd" % pid))
    rss = bustest.harness.proc_status(pid).get("VmRSS")
    return pid, fds, rss


def main():
    if not args.load_client:
        raise Skip("--load-client not given (no libsystemd for this build?)")
    with bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0",
                                reptyrd_args=["--idle-timeout=600"])) as env:
        (client,) = env.w.private_copy(args.load_client)
        victims = [env.start_victim("nobody", "read", name="load-%d" % i)
                   for i in range(max(args.concurrent, 20))]
        # Activates the helper.
        env.rig.busctl("call", rig.BUS_NAME, rig.BUS_PATH, "org.freedesktop.DBus.Properties",
                       "Get", "ss", rig.BUS_NAME, "Version", user="nobody", check=True)
        pid, fds0, rss0 = helper_figures(env)
        print("helper %d before: %d fds, VmRSS %s" % (pid, fds0, rss0), flush=True)
        t0 = time.monotonic()
        r = env.rig.run([client, str(args.sequential), str(args.concurrent)]
                        + [str(v.pid) for v in victims], user="nobody", timeout=600)
        wall = time.monotonic() - t0
        out = r.stdout + r.stderr
        fails = [l for l in out.splitlines() if l.startswith("FAIL")]
        seq = dict(kv.split("=") for l in out.splitlines() if l.startswith("SEQUENTIAL")
                   for kv in l.split()[1:])
        conc = dict(kv.split("=") for l in out.splitlines() if l.startswith("CONCURRENT")
                    for kv in l.split()[1:])
        pid1, fds1, rss1 = helper_figures(env)
        for l in fails[:20]:
            print(l)
        if seq:
            s = float(seq["seconds"])
            print("sequential: %s ok, %s failed in %.2f s: %.1f adoptions/s" % (
                seq["ok"], seq["failed"], s, int(seq["ok"]) / s if s else 0))
        if conc:
            print("concurrent: %s ok, %s failed in %.2f s" % (conc["ok"], conc["failed"],
                                                             float(conc["seconds"])))
        print("wall time %.2f s" % wall)
        print("helper %d after: %d fds, VmRSS %s%s" % (
            pid1, fds1, rss1, "" if pid1 == pid else " (another helper than before!)"))
        total_failed = len(fails) + (0 if seq and conc else 1)
        print("failures: %d" % total_failed, flush=True)
        if r.returncode != 0 or total_failed:
            print("load-client exit %d\n%s" % (r.returncode, env.log_text()[-3000:]))
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(testlib.main(main))
