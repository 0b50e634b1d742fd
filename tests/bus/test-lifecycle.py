# SPDX-License-Identifier: MIT
"""reptyrd's lifecycle and concurrency on the private bus.

The helper runs with --idle-timeout=2 (the shipped default is 30 s):

- with nothing to do it exits about 2 s after its last request, and the next
  call activates a new one;
- a request that is still waiting for polkit keeps it alive past the
  timeout; it exits about 2 s after that request is done;
- 20 adoptions at once, by nobody and reptyr-test2 each adopting their own
  processes, all succeed, and each process answers on its own new terminal
  through the master its own caller received;
- SIGTERM (systemctl stop) while a request waits for polkit: the caller
  gets a clear error at once, the target is untouched, the helper exits
  without waiting for its idle timeout.

(Busy is no longer given for a request that merely waits for polkit: see
test-attack-*.py, where a request stalled in polkit must not make anyone
else's adoption of the same process fail.)

Polkit is held with a rule that waits (polkit.spawn) until the test opens a
gate, so "in flight" is a state the test controls rather than a race.
"""

import json
import os
import signal
import select
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import rig  # noqa: E402
from bustest import ADOPT, ERR  # noqa: E402
from testlib import Failure, expect  # noqa: E402

args = bustest.arg_parser(__doc__).parse_args()
IDLE = 2.0
NOBODY = bustest.uid_of("nobody")


def helper_pidfd(env):
    pid = env.rig.helper_pid()
    expect(pid, "no helper owns %s" % rig.BUS_NAME)
    return pid, os.pidfd_open(pid)


def wait_helper_exit(env, pid, pidfd, since, what):
    """Wait for the helper to exit; returns seconds from SINCE."""
    try:
        if not select.select([pidfd], [], [], IDLE + 8)[0]:
            raise Failure("%s: helper %d still running %.1f s after its last request:\n%s"
                          % (what, pid, time.monotonic() - since, env.log_text()))
        elapsed = time.monotonic() - since
    finally:
        os.close(pidfd)
    rig._reap_if_ours(pid)
    env.rig.helper_pids.discard(pid)
    return elapsed


def check_idle_exit(env):
    v = env.start_victim("nobody", "read", name="idle")
    env.inspect(v)
    done = time.monotonic()
    pid, pidfd = helper_pidfd(env)
    elapsed = wait_helper_exit(env, pid, pidfd, done, "idle exit")
    env.w.log("helper %d exited %.2f s after its last request (idle timeout %.0f s)"
              % (pid, elapsed, IDLE))
    expect(elapsed >= IDLE - 0.5, "helper exited %.2f s after a request, before the idle "
           "timeout of %.0f s" % (elapsed, IDLE))
    expect(not env.rig.has_owner(rig.BUS_NAME), "the name is still owned after the exit")
    info = env.inspect(v)
    expect(info.get("authorized") == "yes", "a new helper does not answer: %s" % info)
    new = env.rig.helper_pid()
    expect(new and new != pid, "no new helper was activated (pid %s, old %d)" % (new, pid))
    env.quit(v)


def check_pending_request_delays_exit(env):
    v = env.start_victim("nobody", "read", name="pending")
    env.inspect(v)  # the helper is up; its idle timer runs from here
    last = time.monotonic()
    pid, pidfd = helper_pidfd(env)
    gate = env.gate("pending", v.pid, "YES", ADOPT)
    try:
        C, client = env.start_relay(v)
        env.wait_gate_started(gate)
        # Watch the helper across well past its idle timeout while polkit
        # holds the request (an observation window, not a synchronisation).
        deadline = last + IDLE + 1.5
        while time.monotonic() < deadline:
            if select.select([pidfd], [], [], deadline - time.monotonic())[0]:
                raise Failure("helper %d exited %.2f s after its last request while a request "
                              "was waiting for polkit:\n%s" % (
                                  pid, time.monotonic() - last, env.log_text()))
        env.open_gate(gate)
        env.wait_adopted(v, C, client)
        done = time.monotonic()
    except BaseException:
        env.open_gate(gate)
        os.close(pidfd)
        raise
    finally:
        env.rig.remove_rules("05-gate-pending.rules")
    env.ask(v, C, "after-the-wait", watch=[client])
    expect(env.rig.helper_pid() == pid, "the request was answered by another helper")
    elapsed = wait_helper_exit(env, pid, pidfd, done, "idle exit after a held request")
    env.w.log("helper %d exited %.2f s after the held request was done" % (pid, elapsed))
    expect(elapsed >= IDLE - 0.5, "helper exited %.2f s after the held request was done, "
           "before the idle timeout" % elapsed)
    env.w.send(C, "quit\n")
    env.w.wait_exit([v.proc, client], what="victim and client exit")


def check_twenty_concurrent_adoptions(env):
    since = len(env.log_entries())
    users = ["nobody", rig.SECOND_USER]
    victims = [env.start_victim(users[i % 2], "read", name="many-%d" % i) for i in range(20)]
    relays = [env.start_relay(v, user=v.user, name="client-%d" % i)
              for i, v in enumerate(victims)]
    ttys = {}
    for v, (C, client) in zip(victims, relays):
        _, ttys[v.pid] = env.wait_adopted(v, C, client)
    expect(len(set(ttys.values())) == 20, "20 adoptions, %d distinct new terminals: %s"
           % (len(set(ttys.values())), ttys))
    for v, (C, client) in zip(victims, relays):
        env.ask(v, C, "ping-%d" % v.pid, watch=[client, v.proc],
                what="%s answers on its own new terminal" % v)
    for v, (C, client) in zip(victims, relays):
        for w, (D, _) in zip(victims, relays):
            if w is not v:
                expect("ping-%d" % v.pid not in D.text(),
                       "%s's answer showed up on %s's terminal" % (v, w))
        expect("GOT" not in v.pty.text(),
               "%s still writes to its old terminal: %r" % (v, v.pty.tail()))
    for v, (C, client) in zip(victims, relays):
        env.w.send(C, "quit\n")
    env.w.wait_exit([v.proc for v in victims] + [c for _, c in relays],
                    what="20 victims and clients exit")
    for v, (C, client) in zip(victims, relays):
        uid = bustest.uid_of(v.user)
        env.expect_logged_once(v.pid, r"^adopted: " + ttys[v.pid], uid, action=ADOPT, uid=uid,
                               since=since, caller_pid=client.pid)


def check_hangup_guard_outlives_idle(env):
    """nobody adopts a job of its own interactive bash (a victim that handles
    SIGHUP) through the helper: the job ignores SIGHUP while the old shell
    lives, the helper stays up past its idle timeout to give the job its own
    handler back, does so once the old shell is killed, and then exits."""
    A = env.w.pty("A-guard")
    shell_env = {"PATH": "/usr/bin:/bin", "PS1": "P$ ", "TERM": "dumb", "HOME": "/",
                 "HISTFILE": "/dev/null"}
    shell = env.w.spawn_on_pty("bash as nobody", rig.Rig.as_user(
        ["bash", "--norc", "--noprofile", "-i"], "nobody"), A, ctty=True, env=shell_env,
        pdeathsig=False)
    A.close_slave()
    env.w.wait_for(A, r"P\$ ", what="the shell's prompt", watch=[shell])
    mark = A.mark()
    env.w.send(A, "%s sighup-handle\n" % env.victim)
    pid = int(env.w.wait_for(A, r"READY pid=(\d+)", since=mark, what="the job",
                             watch=[shell]).group(1))
    env.w.forget_pid_later(pid)
    v = bustest.Victim(None, pid, A, "nobody")
    hup = 1 << (signal.SIGHUP - 1)

    def masks():
        with open("/proc/%d/status" % pid) as f:
            st = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        return int(st["SigIgn"], 16), int(st["SigCgt"], 16)

    C, client = env.start_relay(v)
    env.wait_adopted(v, C, client)
    expect(masks()[0] & hup, "SIGHUP is not ignored while the old shell lives")
    hpid, hfd = helper_pidfd(env)
    try:
        if select.select([hfd], [], [], IDLE + 1.5)[0]:
            raise Failure("helper %d exited while a job still waits for its SIGHUP handler:\n%s"
                          % (hpid, env.log_text()))
        os.kill(shell.pid, signal.SIGKILL)
        env.w.wait_exit([shell], what="the old shell killed")
        env.w.wait_until(lambda: masks()[1] & hup and not masks()[0] & hup,
                         what="the job's own SIGHUP handler given back",
                         detail=lambda: "SigIgn %x SigCgt %x\n%s" % (masks() + (env.log_text(),)))
        done = time.monotonic()
    except BaseException:
        os.close(hfd)
        raise
    elapsed = wait_helper_exit(env, hpid, hfd, done, "idle exit after the guard")
    env.w.log("helper exited %.2f s after giving the handler back" % elapsed)
    env.ask(v, C, "still-here", what="the job still answers on its new terminal",
            watch=[client])
    env.w.send(C, "quit\n")
    env.w.wait_exit([client], what="client exit")


def check_sigterm_answers_and_exits(env):
    v = env.start_victim("nobody", "read", name="term")
    env.baseline(v)
    env.inspect(v)
    pid, pidfd = helper_pidfd(env)
    gate = env.gate("term", v.pid, "YES", ADOPT)
    try:
        C, client = env.start_relay(v)
        env.wait_gate_started(gate)
        os.kill(pid, signal.SIGTERM)
        since = time.monotonic()
        m = env.w.wait_for(C, r"(\{\"ok\":.*\})\r?\n", what="the helper's answer after SIGTERM",
                           watch=[client], timeout=5)
    finally:
        env.open_gate(gate)
        env.rig.remove_rules("05-gate-term.rules")
    data = json.loads(m.group(1))
    msg = env.expect_error(data, ERR + "Busy", "a request cut short by SIGTERM")
    expect("shutting down" in msg, "the error does not say the helper stops: %r" % msg)
    elapsed = wait_helper_exit(env, pid, pidfd, since, "exit after SIGTERM")
    expect(elapsed < IDLE, "helper took %.2f s to exit after SIGTERM" % elapsed)
    env.assert_untouched(v, "SIGTERM of the helper")
    env.w.wait_exit([client], what="client exit")
    env.quit(v)


def setup():
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0",
                                  reptyrd_args=["--idle-timeout=%d" % IDLE]))


checks = [
    ("the helper exits ~2 s after its last request; the next call activates a new one",
     check_idle_exit),
    ("a request waiting for polkit keeps the helper alive past the idle timeout",
     check_pending_request_delays_exit),
    ("20 concurrent adoptions by nobody and reptyr-test2 all land on their own terminals",
     check_twenty_concurrent_adoptions),
    ("SIGTERM while polkit decides: an answer at once, target untouched, prompt exit",
     check_sigterm_answers_and_exits),
    ("an adopted shell job gets its SIGHUP handler back once its old shell is gone; the "
     "helper waits for that past its idle timeout", check_hangup_guard_outlives_idle),
]

bustest.run_checks(checks, setup)
