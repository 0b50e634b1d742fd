# SPDX-License-Identifier: MIT
"""Attack: a session holder that execs a setuid-root program mid-adoption.

Session mode takes the terminal from the processes that hold its master. The
caller (nobody) may do that without a password when it owns every holder;
but a holder it owns can exec a setuid-root program at any moment, keeping
the master open across the exec. If the helper checks the holders and only
later stops them, the holder checked is not the holder stopped: the helper
(root) would stop the setuid-root process, run system calls in it and turn
its fd into /dev/null -- with nothing but the password-free
org.reptyr.Reptyr1.adopt.

Each attempt: nobody's holder (attack-prog holder, 1000 idle threads, so
that its exec -- which must end all other threads first -- and stopping it
take long) holds the master of a pty with a victim of nobody on the slave;
nobody calls Adopt(victim, mode=session); the holder execs a setuid root
copy of attack-prog from its main thread, triggered by the helper's own
opens of the slave (inotify) plus a varied delay, or by a varied delay
alone. The setuid
program reports its fd to the master at start, and watches its TracerPid and
that fd for 1 s.

Required, for every one of the attempts: the setuid-exec'd holder is not
left traced by the helper and its fd to the master is still the master
afterwards (a stop itself cannot be watched from inside the stopped process;
a tracer attached for a moment is logged); the call then fails with AccessDenied /
InteractiveAuthorizationRequired, TargetGone, or an
org.reptyr.Reptyr1.Error.* whose message says the process changed -- or it
succeeds because the exec came only after the takeover was complete (the
setuid program then started with /dev/null already).
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
from attack import ACCESS_DENIED, ERR, INTERACTIVE  # noqa: E402
from testlib import Failure, Skip  # noqa: E402

ap = attack.arg_parser(__doc__)
ap.add_argument("--attempts", type=int, default=int(os.environ.get("ATTACK_ATTEMPTS", "30")))
ap.add_argument("--threads", type=int, default=1000)
ap.add_argument("--keep-going", action="store_true",
                help="do not stop at the first win (to measure how often the attack wins)")
args = ap.parse_args()
FD = 10
PTMX = ("/dev/ptmx", "/dev/pts/ptmx")

# (opens of the slave to wait for, then microseconds to spin). The helper
# opens the slave (TIOCGPTPEER on the holder's copy of the master) when it
# looks for holders: once before it asks polkit, once when it starts the
# takeover. The exec is slow (the kernel has to end every other thread
# first): the helper's check can see the holder as it was, and its seize come
# while the exec is still under way. A fixed helper may never open the
# slave: then the exec is timed by the delay alone (count 0).
SCHEDULE = ([(2, d) for d in range(0, 4000, 250)]
            + [(1, d) for d in range(3000, 13500, 1500)]
            + [(0, d) for d in (0, 5000, 10000, 20000, 40000, 80000, 200000)])


def attempt(env, suid, n, count, delay_us):
    holder, out = env.piped("holder-%d" % n, [env.attack_prog, "holder", str(FD),
                                              str(args.threads), suid, "--",
                                              env.victim, "read"], user="nobody")
    m = env.w.wait_for(out, r"HOLDER pid=(\d+) child=(\d+) pts=(\S+) twin=(\d+)\n",
                       watch=[holder], what="holder %d start" % n)
    hpid, child = int(m.group(1)), int(m.group(2))
    env.w.forget_pid_later(hpid)
    env.w.wait_until(lambda: env.w.pump(0) or (attack.harness.proc_state(child) == "S"
                                               and os.readlink("/proc/%d/exe" % child)
                                               .endswith("victim-native")),
                     what="victim %d running" % child)
    env.tell(holder, "arm %d %d 1000" % (count, delay_us))
    caller, cout = env.piped("caller-%d" % n, [env.bus_client, "adopt", str(child), "-o",
                                               "mode=s:session", "--timeout=10"],
                             user="nobody")
    answer = attack.wait_json(env, cout, lambda d: True, "answer of attempt %d" % n, timeout=40)
    # Where the holder is right after the answer (a helper that lost keeps it).
    tracer_after = attack.status_field(hpid, "TracerPid")
    held = "%s, TracerPid %s" % (attack.status_field(hpid, "State"), tracer_after)
    exec_line = re.search(r"EXEC opens=(\d+)", out.text())
    if not exec_line:
        env.w.wait_for(out, r"EXEC opens=(\d+)|EXEC FAILED", watch=[holder], timeout=10,
                       what="holder %d exec" % n)
    if "EXEC FAILED" in out.text():
        raise Failure("holder could not exec %s: %s" % (suid, out.text()))
    env.w.wait_for(out, r"WATCH END fd=(\S+)\n", watch=[holder], timeout=10,
                   what="setuid program's watch in attempt %d" % n)
    text = out.text()
    sm = re.search(r"SUID pid=(\d+) euid=(\d+) fd=(\S+)\n", text)
    if not sm or sm.group(2) != "0":
        raise Skip("the setuid copy does not run as root (nosuid /tmp?): %r" % text)
    start_fd = sm.group(3)
    traced = re.findall(r"TRACED by (\d+)", text)
    now_fd = attack.fd_link(hpid, FD)
    opens = int(re.search(r"EXEC opens=(\d+)", text).group(1))
    holders = (answer.get("result") or {}).get("holders", [])
    won = []
    # A tracer that attached while the exec was under way is attached to
    # the setuid program until it notices: the watch may see that for a
    # moment (logged). Still attached once the call was answered is a loss.
    if tracer_after not in ("0", None) and start_fd in PTMX:
        won.append("the setuid-root holder is still traced by %s after the answer"
                   % tracer_after)
    if start_fd in PTMX and now_fd != start_fd:
        won.append("its fd %d changed from %s to %s" % (FD, start_fd, now_fd))
    if answer.get("ok") and start_fd in PTMX and hpid in holders:
        won.append("Adopt succeeded taking the terminal from the setuid-root holder")
    bad_error = None
    if not answer.get("ok"):
        e, msg = answer.get("error"), answer.get("message") or ""
        # Attaching to a thread of a process in the middle of exec() waits
        # for that exec, which waits for the threads already attached to be
        # reaped: the helper's deadline ends that deadlock (it answers only
        # once its worker is gone, so nothing is traced any more then).
        if not (e in (ACCESS_DENIED, INTERACTIVE, ERR + "TargetGone")
                or (e.startswith(ERR) and "changed" in msg)
                or (e == ERR + "Failed" and "did not finish in time" in msg)):
            bad_error = "%s (%s)" % (e, msg)
    outcome = ("WON: " + "; ".join(won)) if won else (
        "too late (exec after the takeover)" if start_fd not in PTMX else
        "refused: %s" % answer.get("error"))
    env.w.log("attempt %2d (opens %d + %5d us; saw %d opens): setuid start fd %s, now %s, "
              "traced %s, at the answer: %s; answer %s -> %s" % (
                  n, count, delay_us, opens, start_fd, now_fd, traced or "never", held,
                  "ok" if answer.get("ok") else "%s: %s" % (answer.get("error"),
                                                            answer.get("message")), outcome))
    env.tell(holder, "")
    holder.popen.stdin.close()
    holder.kill()
    caller.kill()
    for pid in (child, hpid):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    return won, bad_error


def check_exec_race(env):
    suid = attack.setuid_copy(env, env.attack_prog, "attack-prog-suid")
    wins, bad = [], []
    t0 = time.monotonic()
    for n in range(args.attempts):
        count, delay = SCHEDULE[n % len(SCHEDULE)]
        won, bad_error = attempt(env, suid, n, count, delay)
        if won:
            wins.append("attempt %d (opens %d + %d us): %s" % (n, count, delay, "; ".join(won)))
            if not args.keep_going:
                break
        if bad_error:
            bad.append("attempt %d: %s" % (n, bad_error))
        if won or bad_error:
            # A helper that lost may be stuck: the next attempt gets a new one.
            env.rig.stop_helper()
    env.w.log("%d attempts in %.1f s: the attack won %d times" % (
        n + 1, time.monotonic() - t0, len(wins)))
    problems = wins + ["unexpected error: " + b for b in bad]
    if problems:
        raise Failure("%d of %d attempts won: %s\n%s" % (
            len(wins), n + 1, " | ".join(problems), env.log_text()[-3000:]))


def setup():
    return attack.AttackEnv(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0",
                                       reptyrd_args=["--idle-timeout=120"]))


bustest.run_checks([("a holder that execs a setuid-root program mid-adoption is not taken "
                     "over, changed or left traced", check_exec_race)], setup)
