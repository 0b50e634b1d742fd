# SPDX-License-Identifier: MIT
"""Who may adopt what through reptyrd: the authorization matrix.

Private bus, the built reptyrd, real polkitd with the shipped default rule
plus per-check test rules, Yama simulated through the helper's
--ptrace-scope-file. The caller is `nobody` unless said otherwise. Every
refusal is checked three ways: the error name (and a message), the target
exactly as it was (same /proc snapshot, still answering on its own pty), and
exactly one log line of the helper naming caller, target and outcome.

Cases: Yama 1 without an agent (with and without the interactive flag) and
with a polkit agent for the caller (only the flag lets polkit ask it); a
rule that says NO; another user's, root's, a setuid and a non-dumpable
process (adopt-any; a rule for adopt alone does not do); a process that
exec's a setuid program while polkit is deciding (checked again, refused);
pidfds of exited processes (zombie and reaped); a caller that disconnects
while polkit decides; polkitd not running; Yama 0/1/2/3, absent and
unreadable; malformed arguments. (A non-root connection cannot own the bus
name: rig-smoke checks that.)
"""

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import harness  # noqa: E402
import rig  # noqa: E402
from bustest import (ACCESS_DENIED, ADOPT, ADOPT_ANY, ERR, INTERACTIVE, Failure,  # noqa: E402
                     expect)

args = bustest.arg_parser(__doc__).parse_args()
NOBODY = bustest.uid_of("nobody")
SECOND = rig.SECOND_USER
REFUSED = r"^refused"

# A target that is not the victim program: answers lines like it does, and
# can make itself non-dumpable or exec another program on request.
PY_TARGET = r"""
import ctypes, os, sys
if "nodump" in sys.argv[1:]:
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
os.write(1, b"READY pid=%d\n" % os.getpid())
buf = b""
while True:
    data = os.read(0, 4096)
    if not data:
        sys.exit(0)
    buf += data
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        line = line.decode().strip()
        if line == "quit":
            os.write(1, b"BYE %d\n" % os.getpid())
            sys.exit(0)
        elif line == "status?":
            os.write(1, ("TTY %s PGRP %d MYPGRP %d SID %d\n" % (
                os.ttyname(0), os.tcgetpgrp(0), os.getpgrp(), os.getsid(0))).encode())
        elif line.startswith("exec "):
            path = line.split(" ", 1)[1]
            os.execv(path, [path, "read"])
        else:
            os.write(1, ("GOT %s\n" % line).encode())
"""


def py_target(env, user, *flags, name="py"):
    return env.start_victim(user, argv=["/usr/bin/python3", "-c", PY_TARGET] + list(flags),
                            name=name)


def rule_result(action, result, user="nobody"):
    return """
polkit.addRule(function(action, subject) {
    if (action.id == %s && subject.user == %s)
        return polkit.Result.%s;
});
""" % (json.dumps(action), json.dumps(user), result)


class Rules:
    """Test rules for the duration of a with block."""

    def __init__(self, env, **files):
        self.env = env
        self.files = files

    def __enter__(self):
        for name, js in self.files.items():
            self.env.rig.set_rules(name + ".rules", js)
        return self

    def __exit__(self, *exc):
        for name in self.files:
            self.env.rig.remove_rules(name + ".rules")
        return False


def refused(env, v, names, what, *extra, verb="adopt", user="nobody", outcome=REFUSED,
            action=None, message_rx=None):
    """Adopt is refused with one of NAMES, v untouched, one log line."""
    since = len(env.log_entries())
    data = env.call(verb, v.pid, *extra, user=user)
    msg = env.expect_error(data, names, what)
    if message_rx:
        expect(re.search(message_rx, msg), "%s: message %r does not match /%s/"
               % (what, msg, message_rx))
    env.assert_untouched(v, what)
    env.expect_logged_once(v.pid, outcome, bustest.uid_of(user), action=action, since=since,
                           what="log of " + what, caller_pid=data["caller_pid"])
    return msg


def adopted(env, v, what, user="nobody"):
    """Adopt succeeds: the victim answers through the relayed master."""
    C, client = env.start_relay(v, user=user)
    try:
        env.wait_adopted(v, C, client)
    except Failure as e:
        raise Failure("%s: %s" % (what, e))
    env.ask(v, C, "through-the-helper", watch=[client], what=what)
    env.w.send(C, "quit\n")
    env.w.wait_exit([v.proc, client], what="%s: victim and client exit" % what)


def inspect_says(env, v, action, authorized, reason_rx=None, user="nobody"):
    info = env.inspect(v, user=user)
    expect(info.get("action") == action and info.get("authorized") == authorized,
           "Inspect of %s as %s: action %r authorized %r, expected %r %r (reason %r)"
           % (v, user, info.get("action"), info.get("authorized"), action, authorized,
              info.get("reason")))
    if reason_rx:
        expect(re.search(reason_rx, info.get("reason", "")), "Inspect reason %r does not match "
               "/%s/" % (info.get("reason"), reason_rx))
    return info


def read_line(proc, what, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise Failure("%s: no line within %.0f s" % (what, timeout))
        line = proc.stdout.readline()
        if not line:
            raise Failure("%s: exited (%s) instead; stderr %r" % (
                what, proc.wait(), proc.stderr.read()))
        return line.strip()


# ---- Yama 1: the interactive flag and polkit agents --------------------------


def check_scope1_without_agent(env):
    env.rig.set_ptrace_scope("1")
    v = env.start_victim("nobody", "read", name="scope1")
    env.baseline(v)
    inspect_says(env, v, ADOPT, "challenge", "ptrace_scope 1")
    for flag in ([], ["--interactive"]):
        refused(env, v, INTERACTIVE, "Yama 1, no rule, no agent, flag %s" % (flag or "unset"),
                *flag, action=ADOPT)
    env.quit(v)


def call_with_agent(env, v, *extra, deny=False, verb="adopt"):
    """Adopt (VERB) v as nobody with a polkit agent registered for the
    calling process: (answer, the agent's output, the caller's pid)."""
    c = env.rig.popen([env.bus_client, verb, str(v.pid), "--wait-stdin"] + list(extra),
                      user="nobody", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True)
    agent = None
    try:
        expect(read_line(c, "client opening its pidfd") == "PIDFD OPEN", "client did not start")
        agent = subprocess.Popen([env.bus_client, "agent", str(c.pid)]
                                 + (["--deny"] if deny else []), env=env.rig.env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = read_line(agent, "agent registration")
        expect(line == "AGENT READY", "agent: %r" % line)
        c.stdin.write("go\n")
        c.stdin.flush()
        out, err = c.communicate(timeout=30)
    finally:
        if c.poll() is None:
            c.kill()
            c.wait()
        agent_out = ""
        if agent:
            agent.terminate()
            agent_out, agent_err = agent.communicate(timeout=10)
            agent_out += agent_err
    for line in out.splitlines():
        if line.startswith("{"):
            return json.loads(line), agent_out, c.pid
    raise Failure("client printed no answer: %r %r" % (out, err))


def check_scope1_agent_needs_the_flag(env):
    env.rig.set_ptrace_scope("1")
    v = env.start_victim("nobody", "read", name="agent")
    env.baseline(v)

    since = len(env.log_entries())
    data, agent_out, caller = call_with_agent(env, v)
    env.expect_error(data, INTERACTIVE, "Yama 1, agent running, flag unset")
    expect("AGENT BEGIN" not in agent_out,
           "polkit asked the agent although the caller did not allow interaction: %r"
           % agent_out)
    env.assert_untouched(v, "a call without the interactive flag")
    env.expect_logged_once(v.pid, REFUSED, NOBODY, action=ADOPT, since=since, caller_pid=caller)

    # Inspect never prompts, whatever the flag says.
    data, agent_out, caller = call_with_agent(env, v, "--interactive", verb="inspect")
    expect(data.get("ok") and data["result"].get("authorized") == "challenge",
           "Inspect with the interactive flag and an agent: %s" % data)
    expect("AGENT BEGIN" not in agent_out, "Inspect made polkit ask the agent: %r" % agent_out)

    since = len(env.log_entries())
    data, agent_out, caller = call_with_agent(env, v, "--interactive", deny=True)
    env.expect_error(data, (ACCESS_DENIED, INTERACTIVE), "Yama 1, the agent dismisses")
    env.assert_untouched(v, "a dismissed authentication")
    env.expect_logged_once(v.pid, REFUSED, NOBODY, action=ADOPT, since=since, caller_pid=caller)

    since = len(env.log_entries())
    data, agent_out, caller = call_with_agent(env, v, "--interactive")
    if not data.get("ok"):
        raise Failure("Yama 1, agent authenticates, ALLOW_INTERACTIVE_AUTHORIZATION set: %s: "
                      "%s (agent: %r) -- reptyrd must pass the caller's flag on to polkit "
                      "(AllowUserInteraction)" % (data.get("error"), data.get("message"),
                                                 agent_out.strip()))
    expect(f"victim-native (PID {v.pid})" in agent_out or "victim-native" in agent_out,
           "the authentication message does not show the target: %r" % agent_out)
    env.expect_logged_once(v.pid, r"^adopted", NOBODY, action=ADOPT, since=since,
                           caller_pid=caller)
    # The client is gone with the master: the victim's new terminal hung up.
    env.w.wait_exit([v.proc], what="victim of a closed terminal exits")


# ---- rules --------------------------------------------------------------------


def check_rule_no(env):
    env.rig.set_ptrace_scope("0")
    v = env.start_victim("nobody", "read", name="rule-no")
    env.baseline(v)
    with Rules(env, **{"05-no": rule_result(ADOPT, "NO")}):
        inspect_says(env, v, ADOPT, "no")
        msg = refused(env, v, ACCESS_DENIED, "a rule that says NO", action=ADOPT)
        expect(ADOPT in msg, "AccessDenied message does not name the action: %r" % msg)
    env.quit(v)


def check_other_users_process(env):
    env.rig.set_ptrace_scope("0")
    v = env.start_victim(SECOND, "read", name="other-user")
    env.baseline(v)
    inspect_says(env, v, ADOPT_ANY, "challenge", "another user")
    # No rule: adopt-any is auth_admin_keep, and nobody may not be asked.
    refused(env, v, (INTERACTIVE, ACCESS_DENIED), "another user's process, no rule",
            action=ADOPT_ANY)
    with Rules(env, **{"05-no": rule_result(ADOPT_ANY, "NO")}):
        refused(env, v, ACCESS_DENIED, "another user's process, adopt-any NO", action=ADOPT_ANY)
    with Rules(env, **{"05-adopt": rule_result(ADOPT, "YES")}):
        refused(env, v, (INTERACTIVE, ACCESS_DENIED),
                "another user's process, a rule that allows only adopt", action=ADOPT_ANY)
    with Rules(env, **{"05-any": rule_result(ADOPT_ANY, "YES")}):
        inspect_says(env, v, ADOPT_ANY, "yes")
        adopted(env, v, "another user's process with an adopt-any rule")


def check_root_process(env):
    env.rig.set_ptrace_scope("0")
    v = env.start_victim(None, "read", name="root")
    env.baseline(v)
    inspect_says(env, v, ADOPT_ANY, "challenge", "another user")
    refused(env, v, (INTERACTIVE, ACCESS_DENIED), "root's process, no rule", action=ADOPT_ANY)
    with Rules(env, **{"05-adopt": rule_result(ADOPT, "YES")}):
        refused(env, v, (INTERACTIVE, ACCESS_DENIED), "root's process, a rule for adopt only",
                action=ADOPT_ANY)
    env.quit(v)


def check_non_dumpable_process(env):
    env.rig.set_ptrace_scope("0")
    # The victim program, not python: it must be of the helper's own
    # word size (a 32-bit build's helper adopts only 32-bit programs).
    v = env.start_victim("nobody", "nodump")
    env.baseline(v)
    inspect_says(env, v, ADOPT_ANY, "challenge", "dumpable")
    with Rules(env, **{"05-adopt": rule_result(ADOPT, "YES")}):
        refused(env, v, (INTERACTIVE, ACCESS_DENIED),
                "own non-dumpable process, a rule for adopt only", action=ADOPT_ANY)
    with Rules(env, **{"05-any": rule_result(ADOPT_ANY, "YES")}):
        adopted(env, v, "own non-dumpable process with an adopt-any rule")


def setuid_victim(env):
    """A copy of the victim, set-user-ID reptyr-test2: run by nobody it is
    a setuid program (real uid nobody, effective reptyr-test2)."""
    d = env.rig.path("setuid")
    path = os.path.join(d, "victim-setuid")
    if os.path.exists(path):
        return path
    os.mkdir(d, 0o755)
    os.chmod(d, 0o755)
    shutil.copyfile(env.victim, path)
    uid, gid = rig.user_ids(SECOND)
    os.chown(path, uid, gid)
    os.chmod(path, 0o4755)
    return path


def check_setuid_process(env):
    env.rig.set_ptrace_scope("0")
    path = setuid_victim(env)
    v = env.start_victim("nobody", argv=[path, "read"], name="setuid")
    st = harness.proc_status(v.pid)
    expect(st["Uid"].split()[:2] == [str(NOBODY), str(bustest.uid_of(SECOND))],
           "setuid copy does not run setuid (mounted nosuid?): Uid %s" % st["Uid"])
    env.baseline(v)
    inspect_says(env, v, ADOPT_ANY, "challenge")
    with Rules(env, **{"05-adopt": rule_result(ADOPT, "YES")}):
        refused(env, v, (INTERACTIVE, ACCESS_DENIED),
                "own process running a setuid program, a rule for adopt only", action=ADOPT_ANY)
    env.quit(v)


def check_exec_setuid_during_authorization(env):
    """The target exec's a setuid program after the helper asked polkit
    for `adopt` and before the answer: the second look refuses."""
    env.rig.set_ptrace_scope("0")
    path = setuid_victim(env)
    v = py_target(env, "nobody", name="exec-setuid")
    gate = env.gate("exec", v.pid, "YES", ADOPT)
    try:
        since = len(env.log_entries())
        c = env.rig.popen([env.bus_client, "adopt", str(v.pid)], user="nobody",
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        env.wait_gate_started(gate)
        mark = v.pty.mark()
        env.w.send(v.pty, "exec %s\n" % path)
        env.w.wait_for(v.pty, r"READY pid=%d\r?\n" % v.pid, since=mark,
                       what="the target exec's the setuid program", watch=[v.proc])
        st = harness.proc_status(v.pid)
        expect(st["Uid"].split()[1] == str(bustest.uid_of(SECOND)),
               "the exec'd program is not setuid: Uid %s" % st["Uid"])
        env.baseline(v)
        env.open_gate(gate)
        out, err = c.communicate(timeout=30)
    finally:
        env.open_gate(gate)
        env.rig.remove_rules("05-gate-exec.rules")
    data = json.loads(out.splitlines()[-1]) if out.strip() else {}
    msg = env.expect_error(data, ACCESS_DENIED,
                           "a target that exec'd a setuid program while polkit decided")
    env.assert_untouched(v, "a refused adoption of a process that changed")
    env.expect_logged_once(v.pid, REFUSED, NOBODY, action=ADOPT, since=since, caller_pid=c.pid)
    expect("changed" in msg or "setuid" in msg or "another user" in msg,
           "the message does not say the process changed: %r" % msg)
    env.quit(v)


# ---- targets that are gone ------------------------------------------------------


def wait_zombie(env, v):
    env.w.wait_until(lambda: harness.proc_state(v.pid) == "Z", what="%s to be a zombie" % v)


def check_exited_target(env):
    env.rig.set_ptrace_scope("0")
    v = env.start_victim("nobody", "read", name="exited")
    clients = []
    for verb in ("adopt", "inspect", "adopt", "inspect"):
        c = env.rig.popen([env.bus_client, verb, str(v.pid), "--wait-stdin"], user="nobody",
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        clients.append((verb, c))
        expect(read_line(c, "client opening its pidfd") == "PIDFD OPEN", "client did not start")
    # Exited but not reaped (the test is its parent and does not wait yet).
    env.w.send(v.pty, "quit\n")
    wait_zombie(env, v)
    gone = (ERR + "TargetGone", ERR + "NoSuchProcess")
    results, problems = [], []
    for i, (verb, c) in enumerate(clients):
        if i == 2:
            env.w.wait_exit([v.proc], what="reaping the victim")
            expect(not os.path.exists("/proc/%d" % v.pid), "victim still in /proc after reaping")
        state = "zombie" if i < 2 else "reaped"
        what = "%s with the pidfd of a %s process" % (verb, state)
        since = len(env.log_entries())
        c.stdin.write("go\n")
        c.stdin.flush()
        out, err = c.communicate(timeout=30)
        data = json.loads(out.splitlines()[-1]) if out.strip().endswith("}") else {}
        msg = env.expect_error(data, gone, what)
        results.append("%s/%s: %s" % (verb, state, data["error"].rsplit(".", 1)[1]))
        # A zombie's pid is still known: the message and the one log line
        # name it. (Once reaped, a pidfd no longer says which pid it had.)
        # Checked for all four calls before failing.
        try:
            if state == "zombie":
                expect(str(v.pid) in msg, "%s: the message does not name pid %d: %r"
                       % (what, v.pid, msg))
            env.expect_logged_once(v.pid if state == "zombie" else None, REFUSED, NOBODY,
                                   kind=verb, caller_pid=c.pid, since=since,
                                   what="log of " + what)
        except Failure as e:
            problems.append(str(e))
    env.w.log("exited targets: " + ", ".join(results))
    if problems:
        raise Failure("; ".join(problems))


def check_no_such_pid(env):
    # A pid that cannot exist: above pid_max.
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) + 1
    data = env.call("adopt-pid", pid)
    msg = env.expect_error(data, ERR + "NoSuchProcess", "AdoptPID of a pid that does not exist")
    expect(str(pid) in msg, "the message does not name pid %d: %r" % (pid, msg))
    data = env.call("adopt-pid", 1)
    env.expect_error(data, (ERR + "NoSuchProcess", ACCESS_DENIED, INTERACTIVE), "AdoptPID of init")


# ---- the caller goes away; polkitd is not there ---------------------------------


def check_caller_disconnects_mid_check(env):
    env.rig.set_ptrace_scope("0")
    v = env.start_victim("nobody", "read", name="disconnect")
    env.baseline(v)
    gate = env.gate("disconnect", v.pid, "YES", ADOPT)
    try:
        since = len(env.log_entries())
        c = env.rig.popen([env.bus_client, "adopt", str(v.pid), "--send-and-hold"],
                          user="nobody", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        line = read_line(c, "client sending")
        expect(line.startswith("SENT :"), "client did not send: %r" % line)
        unique = line.split()[1]
        env.wait_gate_started(gate)
        c.stdin.write("bye\n")
        c.stdin.flush()
        c.communicate(timeout=10)
        # Once the bus has dropped the caller's name, let polkit say yes.
        env.rig.wait_for(lambda: not env.rig.has_owner(unique),
                         "the bus to drop the caller's name %s" % unique)
        env.open_gate(gate)

        def logged():
            return [e for e in env.log_entries()[since:] if e["pid"] == str(v.pid)]

        env.rig.wait_for(logged, "the helper to log the abandoned request")
    finally:
        env.open_gate(gate)
        env.rig.remove_rules("05-gate-disconnect.rules")
    env.assert_untouched(v, "a caller that disconnected while polkit decided")
    env.expect_logged_once(v.pid, r"abandoned|refused", NOBODY, action=ADOPT, since=since,
                           caller_pid=c.pid)
    env.quit(v)


def check_polkitd_not_running(env):
    env.rig.set_ptrace_scope("0")
    v = env.start_victim("nobody", "read", name="no-polkitd")
    env.baseline(v)
    env.rig.stop_polkitd()
    try:
        msg = refused(env, v, ACCESS_DENIED, "polkitd not running", action=ADOPT)
        expect("polkit" in msg, "the message does not mention polkit: %r" % msg)
        since = len(env.log_entries())
        info = env.inspect(v)
        expect(info.get("authorized") == "no", "Inspect without polkitd: authorized %r"
               % info.get("authorized"))
        env.expect_logged_once(v.pid, r"no", NOBODY, kind="inspect", action=ADOPT, since=since,
                               what="log of Inspect without polkitd",
                               caller_pid=info["_caller_pid"])
    finally:
        env.rig.start_polkitd()
    env.quit(v)


# ---- Yama ------------------------------------------------------------------------


def ptrace_scope_property(env):
    r = env.rig.busctl("get-property", rig.BUS_NAME, rig.BUS_PATH, rig.BUS_NAME,
                       "PtraceScope", user="nobody")
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def check_ptrace_scopes(env):
    v = env.start_victim("nobody", "read", name="scopes")
    env.baseline(v)
    table = [("absent", -1, ADOPT, "yes"), ("0", 0, ADOPT, "yes"), ("1", 1, ADOPT, "challenge"),
             ("2", 2, ADOPT_ANY, "challenge"), ("3", 3, "", "no")]
    try:
        for scope, prop, action, authorized in table:
            env.rig.set_ptrace_scope(scope)
            rc, out, err = ptrace_scope_property(env)
            expect(rc == 0 and out == "i %d" % prop, "PtraceScope with Yama %s: %s %s"
                   % (scope, out, err))
            inspect_says(env, v, action, authorized)
        env.rig.set_ptrace_scope("3")
        msg = refused(env, v, ACCESS_DENIED, "Yama 3", outcome=REFUSED)
        expect("ptrace_scope" in msg and "3" in msg, "Yama 3 refusal does not say why: %r" % msg)
        env.rig.set_ptrace_scope("2")
        refused(env, v, (INTERACTIVE, ACCESS_DENIED), "Yama 2, no rule", action=ADOPT_ANY)
        with Rules(env, **{"05-adopt": rule_result(ADOPT, "YES")}):
            refused(env, v, (INTERACTIVE, ACCESS_DENIED), "Yama 2, a rule for adopt only",
                    action=ADOPT_ANY)
        # Unreadable or nonsense: fail closed.
        env.rig.set_ptrace_scope("7")
        msg = refused(env, v, ACCESS_DENIED, "Yama's setting unreadable")
        rc, out, err = ptrace_scope_property(env)
        expect(rc != 0, "PtraceScope of a nonsense file read as %r" % out)
    finally:
        env.rig.set_ptrace_scope("0")
    env.quit(v)


# ---- malformed calls ---------------------------------------------------------------


def check_bad_arguments(env):
    env.rig.set_ptrace_scope("0")
    v = env.start_victim("nobody", "read", name="bad-args")
    env.baseline(v)
    for opts, what in ((["-o", "rows=q:0"], "rows 0"), (["-o", "cols=u:65536"], "cols 65536"),
                       (["-o", "colour=s:red"], "an unknown option"),
                       (["-o", "mode=s:group"], "a bad mode"),
                       (["-o", "fds=s:all"], "a bad fds value"),
                       (["-o", "dry-run=s:yes"], "dry-run of the wrong type")):
        data = env.call("adopt", v.pid, *opts)
        env.expect_error(data, ERR + "InvalidArgs", "Adopt with %s" % what)
        env.assert_untouched(v, "Adopt with %s" % what)
    data = env.call("adopt-pid", 0)
    env.expect_error(data, ERR + "InvalidArgs", "AdoptPID of pid 0")
    env.quit(v)


def setup():
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


checks = [
    ("Yama 1, no rule, no agent: InteractiveAuthorizationRequired, flag set or not",
     check_scope1_without_agent),
    ("Yama 1 with a polkit agent: asked only when the caller allows interaction",
     check_scope1_agent_needs_the_flag),
    ("a rule that says NO: AccessDenied", check_rule_no),
    ("another user's process needs adopt-any", check_other_users_process),
    ("root's process is refused to nobody", check_root_process),
    ("own non-dumpable process needs adopt-any", check_non_dumpable_process),
    ("own process running a setuid program needs adopt-any", check_setuid_process),
    ("a process that exec's a setuid program while polkit decides is refused",
     check_exec_setuid_during_authorization),
    ("pidfd of an exited process (zombie, reaped): TargetGone/NoSuchProcess",
     check_exited_target),
    ("AdoptPID of a pid that does not exist, of init", check_no_such_pid),
    ("a caller that disconnects while polkit decides: target untouched",
     check_caller_disconnects_mid_check),
    ("polkitd not running: AccessDenied, target untouched", check_polkitd_not_running),
    ("Yama absent/0/1/2/3 and unreadable: the right action or a refusal", check_ptrace_scopes),
    ("malformed options: InvalidArgs, target untouched", check_bad_arguments),
]

bustest.run_checks(checks, setup)
