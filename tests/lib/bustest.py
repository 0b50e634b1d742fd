# SPDX-License-Identifier: MIT
"""Shared plumbing of the tests that talk to reptyrd over the private bus
(tests/bus, tests/session, tests/bench): victims owned by unprivileged
users on their own ptys, calls through bus-client (the raw client), the
"target untouched" check, and reptyrd's log lines.

Standard library only, run by Debian's /usr/bin/python3 as root. Builds on
rig.py (the private bus and polkitd) and harness.py (ptys, snapshots). No
fixed sleeps: every wait has a deadline.
"""

import json
import os
import re
import subprocess
import termios

import harness
import rig
from errors import ACCESS_DENIED, ERR, EXIT, INTERACTIVE, LIMITS  # noqa: F401 (for its users)
from testlib import Failure, Skip, expect, run_checks  # noqa: F401 (for its users)

ADOPT = "org.reptyr.Reptyr1.adopt"
ADOPT_ANY = "org.reptyr.Reptyr1.adopt-any"

STATUS_RX = r"TTY (\S+) PGRP (-?\d+) MYPGRP (-?\d+) SID (-?\d+)\r?\n"

# reptyrd's one line per decision (helper/reptyrd.c, log_outcome()).
LOG_RX = re.compile(r"^(?P<kind>adopt \(dry run\)|adopt|inspect): caller uid=(?P<caller_uid>\d+) "
                    r"pid=(?P<caller_pid>-?\d+), target pid=(?P<pid>-?\d+) uid=(?P<uid>\d+) "
                    r"comm=(?P<comm>.*?), action=(?P<action>\S+), mode=(?P<mode>\S+): "
                    r"(?P<outcome>.*)$")


def arg_parser(doc):
    ap = rig.arg_parser(doc)
    ap.add_argument("--bus-client", help="tests/bus/bus-client (built)")
    ap.add_argument("--victim", help="tests/victims/victim-native (built)")
    ap.add_argument("--reptyrctl", help="client/reptyrctl (built)")
    return ap


def shipped_rules(args):
    if not args.default_rules:
        return {}
    with open(args.default_rules) as f:
        return {"50-reptyr.rules": f.read()}


def line_rx(text):
    return re.escape(text) + r"\r?\n"


class Victim:
    def __init__(self, proc, pid, pty, user):
        self.proc = proc
        self.pid = pid
        self.pty = pty
        self.user = user
        self.before = None

    def __repr__(self):
        return "victim %d (%s)" % (self.pid, self.user)


class Env:
    """One test's rig, world (ptys, processes) and reachable binaries."""

    def __init__(self, args, rig_kw=None, need_reptyrd=True):
        rig.require_root()
        for what in ("bus_client", "victim") + (("reptyrd",) if need_reptyrd else ()):
            if not getattr(args, what):
                raise Skip("--%s not given: this build has no %s (no libsystemd for its "
                           "word size?)" % (what.replace("_", "-"), what.replace("_", "-")))
        rig.ensure_user(rig.SECOND_USER)
        self.args = args
        self.rig_kw = dict(rig_kw or {})
        self.rig = None
        self.w = None

    def __enter__(self):
        self.w = harness.World()
        try:
            paths = [self.args.bus_client, self.args.victim]
            if self.args.reptyrctl:
                paths.append(self.args.reptyrctl)
            copies = self.w.private_copy(*paths)
            self.bus_client, self.victim = copies[0], copies[1]
            self.reptyrctl = copies[2] if self.args.reptyrctl else None
            kw = dict(bus_policy=self.args.bus_policy, polkit_policy=self.args.polkit_policy,
                      reptyrd=self.args.reptyrd)
            kw.update(self.rig_kw)
            self.rig = rig.Rig(**kw)
            self.rig.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.w:
            self.w.cleanup()
        if self.rig:
            self.rig.close()
        return False

    # ---- victims ----

    def start_victim(self, user="nobody", mode="read", *margs, argv=None, name=None):
        """A victim (or ARGV) owned by USER, leading its own session on a
        fresh pty A, which is its controlling terminal."""
        A = self.w.pty("A-%s" % (name or mode))
        argv = argv or [self.victim, mode] + [str(a) for a in margs]
        full = rig.Rig.as_user(argv, user) if user is not None else argv
        # No pdeathsig: setpriv's credential change clears it anyway;
        # World.cleanup() kills what is left.
        proc = self.w.spawn_on_pty(name or "victim", full, A, ctty=True, pdeathsig=False)
        A.close_slave()
        m = self.w.wait_for(A, r"READY pid=(\d+)\r?\n", what="victim start", watch=[proc])
        pid = int(m.group(1))
        if pid != proc.pid:
            raise Failure("victim pid %d is not the started process %d" % (pid, proc.pid))
        return Victim(proc, pid, A, user)

    def ask(self, v, stream, line, rx=None, what=None, watch=()):
        mark = stream.mark()
        self.w.send(stream, line + "\n")
        return self.w.wait_for(stream, rx or line_rx("GOT " + line), since=mark,
                               what=what or "%s answers %r" % (v, line), watch=watch)

    def baseline(self, v):
        """What a refused adoption must leave exactly as it is."""
        m = self.ask(v, v.pty, "status?", STATUS_RX, "status before")
        expect(m.group(1) == v.pty.path, "%s reads %s, not its pty %s" % (v, m.group(1),
                                                                         v.pty.path))
        v.before = self.w.settled_snapshot(v.pid)
        return v.before

    def assert_untouched(self, v, what):
        """Same snapshot as before (signals, fds, maps, code bytes), and it
        still reads its own terminal."""
        last = []

        def same():
            last[:] = harness.compare_snapshots(v.before, harness.snapshot(v.pid))
            return not last

        if v.proc.poll() is not None:
            raise Failure("%s: %s exited (%s); its terminal said %r" % (
                what, v, harness.signal_name(v.proc.exit_code()), v.pty.tail()))
        self.w.wait_until(same, timeout=5, what="%s unchanged after %s" % (v, what),
                          detail=lambda: "; ".join(last))
        self.ask(v, v.pty, "still-here", what="%s still reads its own terminal after %s"
                 % (v, what), watch=[v.proc])

    def quit(self, v, stream=None):
        stream = stream or v.pty
        self.w.send(stream, "quit\n")
        self.w.wait_exit([v.proc], what="%s exits on quit" % v)

    # ---- the raw client ----

    def client(self, verb, pid, *extra, user="nobody", timeout=None):
        """bus-client VERB PID EXTRA... run to completion as USER: (exit
        status, parsed JSON line or None, stdout+stderr, its pid -- the
        caller's pid in reptyrd's log)."""
        p = self.rig.popen([self.bus_client, verb, str(pid)] + [str(e) for e in extra],
                           user=user, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = p.communicate(timeout=timeout or 30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Failure("bus-client %s %s as %s did not finish within %s s\n%s"
                          % (verb, pid, user, timeout or 30, self.log_text()))
        data = None
        for line in stdout.splitlines():
            if line.startswith("{"):
                data = json.loads(line)
        return p.returncode, data, stdout + stderr, p.pid

    def call(self, verb, pid, *extra, user="nobody", timeout=None):
        """The answer of bus-client as a dict; "caller_pid" is added."""
        rc, data, out, caller = self.client(verb, pid, *extra, user=user, timeout=timeout)
        if data is None:
            raise Failure("bus-client %s %s as %s printed no answer (exit %d): %s\n%s"
                          % (verb, pid, user, rc, out.strip(), self.log_text()))
        data["caller_pid"] = caller
        return data

    def expect_error(self, data, names, what):
        names = [names] if isinstance(names, str) else list(names)
        if data.get("ok"):
            raise Failure("%s: succeeded (%s), expected %s" % (what, data, " or ".join(names)))
        if data.get("error") not in names:
            raise Failure("%s: error %s (%s), expected %s" % (
                what, data.get("error"), data.get("message"), " or ".join(names)))
        expect(data.get("message"), "%s: %s without a message" % (what, data.get("error")))
        return data["message"]

    def inspect(self, v, user="nobody"):
        """Inspect's info; "_caller_pid" is added."""
        data = self.call("inspect", v.pid, user=user)
        if not data.get("ok"):
            raise Failure("Inspect of %s as %s failed: %s: %s" % (
                v, user, data.get("error"), data.get("message")))
        data["result"]["_caller_pid"] = data["caller_pid"]
        return data["result"]

    def start_relay(self, v, *extra, user="nobody", rows=30, cols=90, verb="adopt", name=None):
        """bus-client VERB --relay on a fresh pty C: the raw client's
        equivalent of `reptyrctl adopt`."""
        C = self.w.pty("C-%d" % v.pid, rows=rows, cols=cols)
        argv = rig.Rig.as_user([self.bus_client, verb, str(v.pid), "--relay"]
                               + [str(e) for e in extra], user)
        proc = self.w.spawn_on_pty(name or "bus-client for %d" % v.pid, argv, C, ctty=True,
                                   env=self.rig.env(), pdeathsig=False)
        C.close_slave()
        return C, proc

    def wait_adopted(self, v, C, client):
        """The answer on C, then v's fd 0 on another pty and C in raw mode."""
        m = self.w.wait_for(C, r"(\{\"ok\":.*\})\r?\n", what="the helper's answer for %s" % v,
                            watch=[client], timeout=20)
        data = json.loads(m.group(1))
        if not data.get("ok"):
            raise Failure("adoption of %s failed: %s: %s\n%s" % (
                v, data.get("error"), data.get("message"), self.log_text()))

        def adopted():
            link = os.readlink("/proc/%d/fd/0" % v.pid)
            if link == v.pty.path or C.termios()[3] & termios.ICANON:
                return None
            return link

        new_tty = self.w.wait_until(adopted, what="%s on its new terminal" % v)
        expect(new_tty == data["result"]["tty"], "%s: fd 0 is %s, the helper said %s"
               % (v, new_tty, data["result"]["tty"]))
        return data, new_tty

    # ---- gates: a polkit check that waits until the test lets it go ----

    def gate(self, name, target_pid, result="YES", action=ADOPT):
        """A rule that holds polkit's answer for TARGET_PID's checks (of
        ACTION) until open_gate(); returns the gate directory. The rule
        runs a shell in polkitd (polkit.spawn), which touches `started`
        and polls for `go` (bounded: polkit kills spawns after 10 s)."""
        d = self.rig.path("gate-" + name)
        os.mkdir(d)
        os.chmod(d, 0o777)
        script = ('touch "$0/started"; i=0; while [ ! -e "$0/go" ] && [ $i -lt 400 ]; '
                  'do sleep 0.02; i=$((i+1)); done; touch "$0/done"')
        self.rig.set_rules("05-gate-%s.rules" % name, """
polkit.addRule(function(action, subject) {
    if (action.id != %s || action.lookup("pid") != %s)
        return undefined;
    polkit.spawn(["/bin/sh", "-c", %s, %s]);
    return polkit.Result.%s;
});
""" % (json.dumps(action), json.dumps(str(target_pid)), json.dumps(script), json.dumps(d),
            result))
        return d

    def wait_gate_started(self, d):
        self.rig.wait_for(lambda: os.path.exists(os.path.join(d, "started")),
                          "polkit to start the held check")

    @staticmethod
    def open_gate(d):
        with open(os.path.join(d, "go"), "w"):
            pass

    # ---- reptyrd's log ----

    def sync_helper(self):
        """A round trip through the running helper (if one runs)."""
        if self.rig.has_owner(rig.BUS_NAME):
            self.rig.busctl("get-property", rig.BUS_NAME, rig.BUS_PATH, rig.BUS_NAME, "Version")

    def log_text(self):
        """reptyrd's lines (the bus's log without dbus-daemon's own)."""
        try:
            with open(self.rig.path("log", "bus.log"), "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(l for l in text.splitlines() if not l.startswith("dbus-daemon["))

    def log_entries(self):
        """reptyrd's decision lines so far, parsed."""
        try:
            with open(self.rig.path("log", "bus.log"), "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            m = LOG_RX.match(line)
            if m:
                out.append(m.groupdict())
        return out

    def expect_logged_once(self, pid, outcome, caller_uid, kind="adopt", action=None, since=0,
                           uid=None, comm=None, what=None, caller_pid=None):
        """Exactly one of reptyrd's lines since entry number SINCE is about
        target PID (or, given CALLER_PID, comes from that caller); it names
        the caller's uid, the target's pid, uid and comm, the action and an
        outcome matching OUTCOME (a regex)."""
        key, value = ("caller_pid", caller_pid) if caller_pid else ("pid", pid)
        what = what or "log of %s on %s" % (kind, pid)

        def matching():
            return [e for e in self.log_entries()[since:] if e[key] == str(value)]

        # The helper may log just after it answered: wait for the line, then
        # make a round trip through the (single-threaded) helper so that
        # whatever else the same decision logs is in the log too.
        self.w.wait_until(matching, timeout=5, what="%s: a line with %s=%s" % (what, key, value),
                          detail=self.log_text)
        self.sync_helper()
        entries = matching()
        if len(entries) != 1:
            raise Failure("%s: %d lines with %s=%s, expected exactly one:\n%s" % (
                what, len(entries), key, value, "\n".join(str(e) for e in entries)))
        e = entries[0]
        if pid is not None:
            expect(e["pid"] == str(pid), "%s: target pid %s, expected %s" % (what, e["pid"], pid))
        expect(e["kind"] == kind, "%s: kind %r, expected %r" % (what, e["kind"], kind))
        expect(e["caller_uid"] == str(caller_uid), "%s: caller uid %s, expected %s"
               % (what, e["caller_uid"], caller_uid))
        expect(int(e["caller_pid"]) > 0, "%s: no caller pid: %s" % (what, e))
        if uid is not None:
            expect(e["uid"] == str(uid), "%s: target uid %s, expected %s" % (what, e["uid"], uid))
        if pid is not None:
            expect(e["comm"] and e["comm"] != "?", "%s: no target comm: %s" % (what, e))
        if comm is not None:
            expect(e["comm"] == comm, "%s: comm %r, expected %r" % (what, e["comm"], comm))
        if action is not None:
            expect(e["action"] == action, "%s: action %s, expected %s"
                   % (what, e["action"], action))
        expect(re.search(outcome, e["outcome"]), "%s: outcome %r does not match /%s/"
               % (what, e["outcome"], outcome))
        return e


def uid_of(user):
    return rig.user_ids(user)[0]

