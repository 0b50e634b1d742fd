#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`reptyrctl adopt --direct` end to end, one behaviour per case.

    cases.py --reptyrctl PATH --victim PATH --bits 64|32 CASE
    cases.py --list

Each case starts the victim (tests/victims/victim.c) on pty A, adopts it
with reptyrctl running on pty C, and checks what a user and the kernel see:
lines, ^C and resizes reach it through C, A gets nothing, the new pty is its
controlling terminal with it in the foreground, and nothing else about it
changed (signal state, pending signals, other fds, memory maps, code bytes).

Exit status: 0 PASS, 1 FAIL, 77 SKIP (meson's convention), each with a line
saying why.
"""

import argparse
import os
import re
import signal
import sys
import tempfile
import termios
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from testlib import Failure, Skip  # noqa: E402
from harness import (DEFAULT_TIMEOUT, Pty, World, compare_snapshots,  # noqa: E402
                     elf_bits, fd_table, fdinfo, proc_stat, proc_state, proc_status,
                     signal_name, snapshot, tty_nr_of)

from errors import EXIT  # noqa: E402

EXIT_INVALID = EXIT["INVALID"]
EXIT_NO_SUCH_PROCESS = EXIT["NO_SUCH_PROCESS"]
EXIT_NOT_A_TERMINAL = EXIT["NOT_A_TERMINAL"]
EXIT_HAS_CHILDREN = EXIT["HAS_CHILDREN"]
EXIT_SECCOMP = EXIT["SECCOMP"]
EXIT_UNSUPPORTED = EXIT["UNSUPPORTED"]

UNPRIVILEGED = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
SHELL_PROMPT = "SH-PROMPT\\$ "
SIGWINCH_BIT = 1 << (signal.SIGWINCH - 1)

# What each victim mode can show (see victim.c). nanosleep answers lines only
# between sleeps and has no SIGWINCH handler (it would cut the sleep under
# test short); seccomp-strict may make no syscall but read/write.
MODE_CAPS = {
    "nanosleep": {"winch": False, "sleep": 3},
    "seccomp-strict": {"winch": False, "status": False, "mask": False},
    "cpu": {"state": "R"},
}


def caps(mode):
    c = {"winch": True, "status": True, "mask": True, "sleep": 0, "state": "S"}
    c.update(MODE_CAPS.get(mode, {}))
    return c


def line_rx(text):
    return re.escape(text) + r"\r?\n"


STATUS_RX = r"TTY (\S+) PGRP (-?\d+) MYPGRP (-?\d+) SID (-?\d+)\r?\n"


class Victim:
    def __init__(self, proc, pid, pty, mode, argv):
        self.proc = proc
        self.pid = pid
        self.pty = pty
        self.mode = mode
        self.argv = argv
        self.caps = caps(mode)
        self.pre = {}

    @property
    def timeout(self):
        # A sleeping victim answers only after its current sleep.
        return DEFAULT_TIMEOUT + 2 * self.caps["sleep"]


class Case:
    def __init__(self, args, world):
        self.args = args
        self.w = world
        self.reptyrctl = args.reptyrctl
        self.victim_path = args.victim
        self.user = None  # or "nobody"

    # ---- starting things -------------------------------------------------

    def unprivileged(self):
        if os.geteuid() != 0:
            raise Skip("needs root to switch to user nobody with setpriv")
        self.user = "nobody"
        self.reptyrctl, self.victim_path = self.w.private_copy(self.reptyrctl, self.victim_path)

    def prefix(self):
        return UNPRIVILEGED if self.user else []

    def start_victim(self, mode, *margs, pty=None, ctty=True, name="victim", extra_fds=None):
        pty = pty or self.w.pty("A")
        argv = self.prefix() + [self.victim_path, mode] + [str(a) for a in margs]
        proc = self.w.spawn_on_pty(name, argv, pty, ctty=ctty, pdeathsig=not self.user,
                                   extra_fds=extra_fds)
        pty.close_slave()
        return self.wait_ready(proc, pty, mode, argv)

    def wait_ready(self, proc, stream, mode, argv, since=0):
        m = self.w.wait_for(stream, r"READY pid=(\d+)\r?\n", since=since, what="victim start",
                            watch=[proc] if proc else ())
        pid = int(m.group(1))
        if proc is not None and pid != proc.pid:
            raise Failure("victim pid %d is not the started process %d" % (pid, proc.pid))
        if proc is None:
            self.w.forget_pid_later(pid)
        want = self.args.bits
        got = elf_bits("/proc/%d/exe" % pid)
        if want and got != want:
            raise Failure("victim %d is a %s-bit program, expected %s-bit" % (pid, got, want))
        self.w.log("victim %s (%s-bit) ready: pid %d on %s" % (mode, got, pid, stream.name))
        return Victim(proc, pid, stream, mode, argv)

    def start_shell(self, pty):
        env = dict(os.environ, PS1=SHELL_PROMPT.replace("\\", ""), HISTFILE="/dev/null",
                   TERM="dumb", PROMPT_COMMAND="")
        argv = self.prefix() + ["bash", "--norc", "--noprofile", "-i"]
        shell = self.w.spawn_on_pty("bash on " + pty.name, argv, pty, ctty=True, env=env)
        pty.close_slave()
        self.w.wait_for(pty, SHELL_PROMPT, what="shell prompt", watch=[shell])
        return shell

    def start_reptyrctl(self, target, pty, extra=(), name="reptyrctl"):
        argv = self.prefix() + [self.reptyrctl, "adopt", "--direct"] + list(extra) + [str(target)]
        proc = self.w.spawn_on_pty(name, argv, pty, ctty=True, pdeathsig=not self.user)
        pty.close_slave()
        self.w.log("started %s" % " ".join(argv))
        return proc

    # ---- looking at the victim ---------------------------------------------

    def ask(self, v, stream, question, rx, what, watch=()):
        mark = stream.mark()
        self.w.send(stream, question + "\n")
        return self.w.wait_for(stream, rx, since=mark, timeout=v.timeout, what=what, watch=watch)

    def settled_snapshot(self, v, state=None):
        """Snapshot once the victim is back in its steady state (after an
        answer it needs a moment to return into the blocking call)."""
        return self.w.settled_snapshot(v.pid, state or v.caps["state"])

    def pre_adoption(self, v, tty, state=None, foreground=True):
        """Record what adoption must preserve, asking the victim on its
        current terminal."""
        if v.caps["status"]:
            m = self.ask(v, v.pty, "status?", STATUS_RX, "status before adoption")
            v.pre["status"] = m.groups()
            if m.group(1) != tty:
                raise Failure("before adoption the victim reads %s, expected %s"
                              % (m.group(1), tty))
            if foreground and m.group(2) != m.group(3):
                raise Failure("before adoption the victim is not in A's foreground: %s"
                              % m.group(0).strip())
        if v.caps["mask"]:
            v.pre["mask"] = self.ask(v, v.pty, "mask?", r"MASK (\w+)\r?\n", "mask before").group(1)
        v.pre["snap"] = self.settled_snapshot(v, state)
        return v.pre["snap"]

    def wait_adopted(self, v, old_tty, client_pty, client):
        """Adopted = the victim's fd 0 is another terminal, its controlling
        tty changed, and reptyrctl put its own terminal into raw mode (typed
        input before that could be flushed)."""
        def adopted():
            if not client.alive():
                raise Failure("reptyrctl exited with %s before adoption finished; its output: %r"
                              % (signal_name(client.exit_code()), client_pty.tail()))
            try:
                link = os.readlink("/proc/%d/fd/0" % v.pid)
            except FileNotFoundError:
                raise Failure("victim %d is gone (exit %s); its terminal said %r"
                              % (v.pid, v.proc and signal_name(v.proc.exit_code()),
                                 v.pty.tail()))
            if link == old_tty or not link.startswith("/dev/pts/"):
                return None
            if int(proc_stat(v.pid)[4]) == 0:
                return None
            if client_pty.termios()[3] & termios.ICANON:
                return None
            return link

        new_tty = self.w.wait_until(adopted, what="adoption of %d" % v.pid,
                                    detail=lambda: "fd 0 -> %s, reptyrctl says %r" % (
                                        os.readlink("/proc/%d/fd/0" % v.pid), client_pty.tail()))
        self.w.log("adopted: fd 0 is now %s" % new_tty)
        return new_tty

    def check_no_restart_errno(self, *streams):
        for s in streams:
            if "ERRNO512" in s.text() or "NANOSLEEP errno" in s.text():
                raise Failure("a kernel-internal restart code reached the victim: %r"
                              % [line for line in s.text().splitlines() if "ERRNO" in line])

    def check_on_new_terminal(self, v, A, C, client, new_tty, a_mark, a_quiet=True,
                              shell_job=False):
        """Everything a user relies on after adoption."""
        w, watch, t = self.w, [client], v.timeout

        mark = C.mark()
        w.send(C, "hello-from-C\n")
        w.wait_for(C, line_rx("GOT hello-from-C"), since=mark, timeout=t,
                   what="a line typed on the new terminal", watch=watch)

        # The old terminal is disconnected: a line typed there is not read
        # (checked after a round trip on C), and the victim writes nothing to A.
        if a_quiet:
            A.set_echo(False)
            w.send(A, ": from-A\n")
        mark = C.mark()
        w.send(C, "marker\n")
        w.wait_for(C, line_rx("GOT marker"), since=mark, timeout=t, what="round trip", watch=watch)
        if "from-A" in C.text():
            raise Failure("a line typed on the old terminal reached the victim: %r" % C.tail())
        if shell_job:
            # The old shell was shown its job stop: it says so and prompts
            # again (reading what was typed on A); the victim itself must
            # write nothing there. The shell writes that line on its own
            # time, after it took its terminal back: it may come after the
            # round trip on C (seen: only bash's leading newline had come).
            w.wait_for(A, r"Stopped", since=a_mark, timeout=t,
                       what="the old shell seeing its job stop", watch=watch)
        w.pump(0)
        leaked = A.text(a_mark)
        if shell_job:
            leaked = "\n".join(l for l in leaked.replace("\r", "").split("\n")
                               if l.strip() and "Stopped" not in l and "SH-PROMPT" not in l)
        if a_quiet and leaked:
            raise Failure("the old terminal got output after adoption: %r" % leaked)
        if "GOT" in leaked or "WINCH" in leaked:
            raise Failure("the victim still writes to the old terminal: %r" % leaked)

        mark = C.mark()
        w.send(C, b"\x03")
        w.wait_for(C, r"INT\r?\n", since=mark, timeout=t, what="^C typed on the new terminal",
                   watch=watch)

        if v.caps["winch"]:
            mark = C.mark()
            C.set_winsize(40, 100)
            w.wait_for(C, r"WINCH 40 100\r?\n", since=mark, timeout=t,
                       what="resize of reptyrctl's terminal", watch=watch)

        if v.caps["status"]:
            m = self.ask(v, C, "status?", STATUS_RX, "status after adoption", watch)
            tty, pgrp, mypgrp, sid = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
            if tty != new_tty or tty == A.path:
                raise Failure("after adoption ttyname(0) is %s, expected the new %s (old %s)"
                              % (tty, new_tty, A.path))
            if pgrp != mypgrp:
                raise Failure("victim is not in the foreground of %s: tcgetpgrp %d, getpgrp %d"
                              % (tty, pgrp, mypgrp))
            if sid != v.pid:
                raise Failure("victim %d is not the leader of its session (sid %d)"
                              % (v.pid, sid))
        if v.caps["mask"]:
            m = self.ask(v, C, "mask?", r"MASK (\w+)\r?\n", "mask after", watch)
            if m.group(1) != v.pre["mask"]:
                raise Failure("signal mask outside the blocking call changed: %s -> %s"
                              % (v.pre["mask"], m.group(1)))

        st = proc_stat(v.pid)
        want = tty_nr_of(os.stat(new_tty).st_rdev)
        if int(st[4]) != want:
            raise Failure("/proc/%d/stat tty_nr is %s, expected %d (%s)"
                          % (v.pid, st[4], want, new_tty))
        if int(st[5]) != int(st[2]):
            raise Failure("the new terminal's foreground group %s is not the victim's group %s"
                          % (st[5], st[2]))
        self.check_no_restart_errno(A, C)

    def check_unchanged(self, v, before, old_tty=None, new_tty=None, what="adoption", may_queue=0,
                        moved=None, hangup_guard=False):
        """may_queue: signals (a mask) that may have become pending, e.g.
        the SIGWINCH that tells a stopped program to redraw once continued."""
        last = []

        def same():
            after = snapshot(v.pid)
            if may_queue:
                for k in ("ShdPnd",):
                    b, a = int(before["process"][k], 16), int(after["process"][k], 16)
                    if a & ~b & ~may_queue == 0:
                        after["process"][k] = before["process"][k]
            if hangup_guard:
                # A job of the old shell ignores SIGHUP while that shell
                # lives (its "SIGHUP to every job" would hit it).
                ign = int(after["process"]["SigIgn"], 16)
                if not ign & 1:
                    last[:] = ["SIGHUP is not ignored while the old shell lives"]
                    return False
                b = int(before["process"]["SigIgn"], 16)
                after["process"]["SigIgn"] = "%016x" % (ign & ~1 | b & 1)
                if int(before["process"]["SigCgt"], 16) & 1:
                    after["process"]["SigCgt"] = before["process"]["SigCgt"]
            last[:] = compare_snapshots(before, after, old_tty, new_tty, moved)
            return not last

        self.w.wait_until(same, timeout=5, what="victim state unchanged by %s" % what,
                          detail=lambda: "; ".join(last))

    def finish_quit(self, v, C, client, expect=0, shell_parent=False):
        """Make the victim exit by typing "quit"; reptyrctl must exit with the
        victim's status once its last words are shown."""
        mark = C.mark()
        self.w.send(C, "quit\n")
        self.w.wait_for(C, r"BYE \d+\r?\n", since=mark, timeout=v.timeout,
                        what="victim's last output relayed before reptyrctl exits",
                        watch=[client])
        procs = [client] + ([v.proc] if v.proc else [])
        self.w.wait_exit(procs, what="victim and reptyrctl exit")
        if client.exit_code() != expect:
            raise Failure("reptyrctl exited with %s, expected the victim's status %s; output %r"
                          % (signal_name(client.exit_code()), expect, C.tail(mark)))

    def check_untouched(self, v, before, client, C, expect_code, what, rx=None):
        """A refused adoption: the right exit code, a message, and the victim
        exactly as before, still reading its own terminal."""
        self.w.wait_exit([client], what="reptyrctl refusing")
        self.w.pump(0.05)
        msg = C.text()
        if client.exit_code() != expect_code:
            raise Failure("reptyrctl exited with %s, expected %d (%s); output %r"
                          % (signal_name(client.exit_code()), expect_code, what, msg))
        if not msg.strip():
            raise Failure("reptyrctl refused (%s) without a message" % what)
        if rx and not re.search(rx, msg):
            raise Failure("reptyrctl's message does not match /%s/: %r" % (rx, msg))
        self.w.log("refused as expected: %s" % msg.strip().replace("\r\n", " | "))
        self.check_unchanged(v, before, what="a refused adoption")
        if isinstance(v.pty, Pty):
            self.ask(v, v.pty, "still-here", line_rx("GOT still-here"),
                     "victim still reads its own terminal")


# ---- the cases ------------------------------------------------------------------

CASES = {}


def case(name, per_personality=True):
    """per_personality: run once per victim personality (True), once (False),
    or only where meson.build asks for it by name (None)."""
    def register(fn):
        CASES[name] = (fn, per_personality)
        return fn
    return register


def adopt_mode(c, mode, *margs, extra_check=None, pre_check=None):
    """The standard adoption of a victim that leads its own session on A."""
    v = c.start_victim(mode, *margs)
    A = v.pty
    before = c.pre_adoption(v, A.path)
    if pre_check:
        pre_check(c, v, before)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    new_tty = c.wait_adopted(v, A.path, C, client)
    if extra_check:
        extra_check(c, v, C, client, new_tty)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark)
    c.check_unchanged(v, before, A.path, new_tty)
    c.finish_quit(v, C, client)
    return v


for _mode in ("read", "poll", "cpu", "threads"):
    case(_mode)(lambda c, _m=_mode: adopt_mode(c, _m))


@case("nanosleep")
def _nanosleep(c):
    def slept(c, v, C, client, new_tty):
        # The sleep in progress during adoption must go on (restarted with
        # the remaining time) and end on the new terminal, never cut short.
        m = c.w.wait_for(C, r"SLEPT (\d+) ms", timeout=v.timeout, what="the interrupted sleep",
                         watch=[client])
        if int(m.group(1)) < 1000 * v.caps["sleep"] - 5:
            raise Failure("nanosleep(%ds) returned after %s ms: not restarted correctly"
                          % (v.caps["sleep"], m.group(1)))
    adopt_mode(c, "nanosleep", caps("nanosleep")["sleep"], extra_check=slept)


@case("ppoll")
def _ppoll(c):
    def inside_ppoll(c, v, before):
        blk = int(before["tasks"][v.pid]["SigBlk"], 16)
        if not blk & (1 << (signal.SIGUSR2 - 1)):
            raise Failure("snapshot not taken inside ppoll (SigBlk %x lacks SIGUSR2)" % blk)
    adopt_mode(c, "ppoll", pre_check=inside_ppoll)


@case("epoll")
def _epoll(c):
    def registration(c, v, C, client, new_tty):
        epfd = [fd for fd, (link, _) in fd_table(v.pid).items() if "eventpoll" in link]
        if not epfd:
            raise Failure("victim has no epoll fd any more")
        info = fdinfo(v.pid, epfd[0])
        if not re.search(r"tfd:\s+0 events:\s*\w+ data:\s*1234567890\b", info):
            raise Failure("epoll registration of fd 0 lost or changed after adoption: %r" % info)
        mark = C.mark()
        c.w.send(C, "via-epoll\n")
        c.w.wait_for(C, r"EPOLL data=0x1234567890 .*\r?\nGOT via-epoll", since=mark,
                     what="epoll wakes up with the same data", watch=[client])
    adopt_mode(c, "epoll", extra_check=registration)


@case("pending")
def _pending(c):
    def has_pending(c, v, before):
        pnd = int(before["tasks"][v.pid]["SigPnd"], 16)
        shd = int(before["process"]["ShdPnd"], 16)
        if not (pnd & (1 << (signal.SIGUSR1 - 1)) and shd & (1 << (signal.SIGUSR2 - 1))):
            raise Failure("victim setup: SIGUSR1/SIGUSR2 not pending (SigPnd %x ShdPnd %x)"
                          % (pnd, shd))
    adopt_mode(c, "pending", pre_check=has_pending)


@case("sighup-ignore")
def _sighup_ignore(c):
    adopt_mode(c, "sighup-ignore")


@case("sighup-handle")
def _sighup_handle(c):
    def no_hup(c, v, C, client, new_tty):
        # A SIGHUP caught during adoption is reported before the next line.
        c.ask(v, C, "after-adoption", line_rx("GOT after-adoption"), "round trip", [client])
        for s in (v.pty, C):
            if "HUP" in s.text():
                raise Failure("the victim's SIGHUP handler ran during adoption (%s): %r"
                              % (s.name, s.tail()))
    adopt_mode(c, "sighup-handle", extra_check=no_hup)


@case("session-leader")
def _session_leader(c):
    def leads_session(c, v, before):
        if int(proc_stat(v.pid)[3]) != v.pid:
            raise Failure("setup: victim %d does not lead its session" % v.pid)
    adopt_mode(c, "read", pre_check=leads_session)


@case("seccomp-strict")
def _seccomp_strict(c):
    if os.geteuid() != 0:
        raise Skip("suspending seccomp needs CAP_SYS_ADMIN (run as root)")
    adopt_mode(c, "seccomp-strict")


@case("seccomp-filter")
def _seccomp_filter(c):
    if os.geteuid() != 0:
        raise Skip("suspending seccomp needs CAP_SYS_ADMIN (run as root)")

    def still_filtered(c, v, C, client, new_tty):
        c.ask(v, C, "mknod?", r"MKNOD errno=1\r?\n", "the seccomp filter still in force",
              [client])
    adopt_mode(c, "seccomp-filter", extra_check=still_filtered)


def refused_unprivileged(c, mode):
    c.unprivileged()
    v = c.start_victim(mode)
    before = c.pre_adoption(v, v.pty.path)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C)
    c.check_untouched(v, before, client, C, EXIT_SECCOMP, "Seccomp")
    c.w.send(v.pty, "quit\n")
    c.w.wait_exit([v.proc])


@case("seccomp-strict-unprivileged")
def _seccomp_strict_unpriv(c):
    refused_unprivileged(c, "seccomp-strict")


@case("seccomp-filter-unprivileged")
def _seccomp_filter_unpriv(c):
    refused_unprivileged(c, "seccomp-filter")


@case("unprivileged-read")
def _unprivileged_read(c):
    c.unprivileged()
    adopt_mode(c, "read")


@case("stopped-sigstop")
def _stopped_sigstop(c):
    v = c.start_victim("read")
    A = v.pty
    running = c.pre_adoption(v, A.path)
    os.kill(v.pid, signal.SIGSTOP)
    stopped = c.settled_snapshot(v, "T")
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    new_tty = c.wait_adopted(v, A.path, C, client)
    # Stopped before, stopped after: the user's SIGSTOP is not undone.
    c.check_unchanged(v, stopped, A.path, new_tty, what="adopting a stopped process",
                      may_queue=SIGWINCH_BIT)
    os.kill(v.pid, signal.SIGCONT)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark)
    c.check_unchanged(v, running, A.path, new_tty)
    c.finish_quit(v, C, client)


def victim_in_shell(c, A, mode="read"):
    """Run the victim as a foreground job of an interactive bash on A."""
    shell = c.start_shell(A)
    mark = A.mark()
    argv = [c.victim_path, mode]
    c.w.send(A, " ".join(argv) + "\n")
    v = c.wait_ready(None, A, mode, argv, since=mark)
    v.shell = shell
    return v


@case("stopped-sigtstp")
def _stopped_sigtstp(c):
    # A shell job, so that its process group is not orphaned (the kernel
    # discards SIGTSTP for orphaned groups) and ^Z really stops it.
    A = c.w.pty("A")
    v = victim_in_shell(c, A)
    running = c.pre_adoption(v, A.path)
    mark = A.mark()
    c.w.send(A, b"\x1a")
    c.w.wait_for(A, r"Stopped", since=mark, what="bash reporting the ^Z'd job")
    stopped = c.settled_snapshot(v, "T")
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    new_tty = c.wait_adopted(v, A.path, C, client)
    # The session/ppid bookkeeping changes with setsid(); the rest must not.
    c.check_unchanged(v, stopped, A.path, new_tty, what="adopting a stopped job",
                      may_queue=SIGWINCH_BIT, hangup_guard=True)
    os.kill(v.pid, signal.SIGCONT)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark, a_quiet=False)
    c.check_unchanged(v, running, A.path, new_tty, hangup_guard=True)
    c.finish_quit(v, C, client)
    check_shell_alive(c, v.shell, A)


def check_shell_alive(c, shell, A):
    if not shell.alive() or proc_state(shell.pid) in (None, "Z"):
        raise Failure("bash on the old terminal died (exit %s)" % signal_name(shell.exit_code()))
    mark = A.mark()
    A.set_echo(True)
    c.w.send(A, "echo alive$((40+2))\n")
    c.w.wait_for(A, r"alive42", since=mark, what="bash on the old terminal still works",
                 watch=[shell])


@case("shell-job")
def _shell_job(c):
    A = c.w.pty("A")
    v = victim_in_shell(c, A)
    st = proc_stat(v.pid)
    if int(st[3]) == v.pid or int(st[2]) != v.pid:
        raise Failure("setup: victim should lead its group but not its session: %s" % st[:6])
    before = c.pre_adoption(v, A.path)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    new_tty = c.wait_adopted(v, A.path, C, client)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark, shell_job=True)
    c.check_unchanged(v, before, A.path, new_tty, hangup_guard=True)
    if not v.shell.alive():
        raise Failure("bash on the old terminal died during adoption")
    c.finish_quit(v, C, client)
    check_shell_alive(c, v.shell, A)


@case("shell-job-outlives-its-old-shell")
def _shell_job_outlives_old_shell(c):
    """A job of an interactive bash that handles SIGHUP itself, adopted: while
    its old shell lives, SIGHUP is ignored (the shell's "SIGHUP to all my
    jobs" would reach it: its new process group has the old job's number);
    SIGKILL of the old shell (a closed window) leaves it running on the new
    terminal, and its own SIGHUP handler is given back once the old shell
    and session leader are gone, so that a hangup of its new terminal
    reaches it."""
    A = c.w.pty("A")
    v = victim_in_shell(c, A, mode="sighup-handle")
    hup = 1 << (signal.SIGHUP - 1)

    def masks():
        st = proc_status(v.pid)
        return int(st["SigIgn"], 16), int(st["SigCgt"], 16)

    if masks()[1] & hup == 0:
        raise Failure("setup: the victim does not catch SIGHUP")
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    c.wait_adopted(v, A.path, C, client)
    if masks()[0] & hup == 0:
        raise Failure("SIGHUP is not ignored while the old shell lives: SigIgn %x" % masks()[0])
    os.kill(v.shell.pid, signal.SIGKILL)
    c.w.wait_exit([v.shell], what="the old shell killed")
    c.w.wait_until(lambda: masks()[1] & hup and not masks()[0] & hup,
                   what="the victim's own SIGHUP handler given back",
                   detail=lambda: "SigIgn %x SigCgt %x" % masks())
    c.ask(v, C, "after-the-old-shell", line_rx("GOT after-the-old-shell"),
          "the victim still answers on its new terminal", [client])
    c.finish_quit(v, C, client)


@case("orphaned-after-its-terminal-closed")
def _orphaned(c):
    """A process that ignores SIGHUP outlives its terminal window (the pty's
    master closed: a dropped ssh connection): its terminal is hung up (EIO,
    no controlling tty any more), and it is adopted from that dead terminal
    onto a new one, where it answers."""
    A = c.w.pty("A")
    v = c.start_victim("outlive-hangup", pty=A)
    A.close()  # the window goes away
    c.w.wait_until(lambda: proc_stat(v.pid)[4] == "0", what="the victim's terminal hung up")
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    c.w.wait_for(C, r"moved here", what="reptyrctl adopting the orphan", watch=[client])
    c.w.wait_until(lambda: os.readlink("/proc/%d/fd/0" % v.pid) != A.path and
                   not C.termios()[3] & termios.ICANON, what="victim on the new terminal")
    c.ask(v, C, "orphan-rescued", line_rx("GOT orphan-rescued"),
          "the orphan answers on its new terminal", [client])
    c.finish_quit(v, C, client)


@case("children")
def _children(c):
    A = c.w.pty("A")
    v = c.start_victim("children", pty=A)
    child = int(re.search(r"CHILD pid=(\d+)", A.text()).group(1))
    c.w.forget_pid_later(child)
    before = c.pre_adoption(v, A.path)
    # Asleep with every signal blocked, where it stays: the victim says
    # CHILD as soon as it forked, before the child got there.
    child_before = c.w.settled_snapshot(child)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C)
    c.check_untouched(v, before, client, C, EXIT_HAS_CHILDREN, "HasChildren",
                      rx=r"(?s)(\b%d\b.*--session|--session.*\b%d\b)" % (child, child))
    diffs = compare_snapshots(child_before, snapshot(child))
    if diffs:
        raise Failure("the victim's child changed: %s" % "; ".join(diffs))


def other_fds(c, pty=None):
    """Fds besides 0-2 for the victim: another on its terminal (40), and
    two that are not terminals and must never be replaced (41 /dev/null, 42
    a regular file: with no controlling tty, tty_nr 0 matched the st_rdev
    of regular files in the classic tool)."""
    null = os.open(os.devnull, os.O_RDWR)
    fd, path = tempfile.mkstemp(prefix="reptyr-it-file-")
    os.unlink(path)
    fds = {41: null, 42: fd}
    if pty is not None:
        fds[40] = pty.slave
    return fds


@case("extra-tty-fd")
def _extra_tty_fd(c):
    """--fds=terminal (the default) moves every fd on the terminal."""
    A = c.w.pty("A")
    v = c.start_victim("read", pty=A, extra_fds=other_fds(c, A))
    before = c.pre_adoption(v, A.path)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    new_tty = c.wait_adopted(v, A.path, C, client)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark)
    c.check_unchanged(v, before, A.path, new_tty, moved={0, 1, 2, 40})
    c.finish_quit(v, C, client)


@case("fds-stdio")
def _fds_stdio(c):
    """--fds=stdio moves 0, 1 and 2 only."""
    A = c.w.pty("A")
    v = c.start_victim("read", pty=A, extra_fds=other_fds(c, A))
    before = c.pre_adoption(v, A.path)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C, extra=["--fds=stdio"])
    new_tty = c.wait_adopted(v, A.path, C, client)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark)
    c.check_unchanged(v, before, A.path, new_tty, moved={0, 1, 2})
    c.finish_quit(v, C, client)


@case("stdio-no-ctty")
def _stdio_no_ctty(c):
    A = c.w.pty("A")
    v = c.start_victim("read", pty=A, ctty=False, extra_fds=other_fds(c))
    if int(proc_stat(v.pid)[4]) != 0:
        raise Failure("setup: victim has a controlling tty")
    before = c.pre_adoption(v, A.path, foreground=False)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    new_tty = c.wait_adopted(v, A.path, C, client)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark)
    c.check_unchanged(v, before, A.path, new_tty)
    c.finish_quit(v, C, client)


@case("no-tty")
def _no_tty(c):
    out, out_w = c.w.pipe_reader("victim stdout pipe")
    in_r, in_w = os.pipe()
    argv = [c.victim_path, "read"]
    with open(os.devnull, "w") as devnull:
        proc = c.w.spawn("victim", argv, in_r, out_w, devnull, session=True,
                         extra_fds=other_fds(c))
    os.close(in_r)
    os.close(out_w)
    v = c.wait_ready(proc, out, "read", argv)
    before = c.settled_snapshot(v)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C)
    c.check_untouched(v, before, client, C, EXIT_NOT_A_TERMINAL, "NotATerminal")
    mark = out.mark()
    os.write(in_w, b"ping\n")
    c.w.wait_for(out, line_rx("GOT ping"), since=mark, what="victim still reads its pipe")
    os.close(in_w)
    c.w.wait_exit([proc])


@case("wider-personality", per_personality=None)
def _wider_personality(c):
    """A 32-bit reptyrctl and a 64-bit target (registered only for that
    pair): the kernel shows a 32-bit tracer no 64-bit registers, so adopting
    must either work completely or be refused cleanly with Unsupported."""
    v = c.start_victim("read")
    A = v.pty
    before = c.pre_adoption(v, A.path)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)

    def decided():
        if not client.alive():
            return "exited"
        link = os.readlink("/proc/%d/fd/0" % v.pid)
        return "adopted" if link != A.path else None

    if c.w.wait_until(decided, what="adoption or refusal") == "exited":
        c.check_untouched(v, before, client, C, EXIT_UNSUPPORTED, "Unsupported")
        return
    new_tty = c.wait_adopted(v, A.path, C, client)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark)
    c.check_unchanged(v, before, A.path, new_tty)
    c.finish_quit(v, C, client)


@case("invalid-pid", per_personality=False)
def _invalid_pid(c):
    bad = ["abc", "-5", "0", "99999999999", "12x", "", "+5", " 7", "0x10"]
    failures = []
    for arg in bad:
        C = c.w.pty("C(%r)" % arg)
        client = c.start_reptyrctl(arg, C, name="reptyrctl %r" % arg)
        c.w.wait_exit([client], what="reptyrctl rejecting %r" % arg)
        c.w.pump(0.02)
        if client.exit_code() != EXIT_INVALID:
            failures.append("%r -> exit %s (%r)" % (arg, signal_name(client.exit_code()),
                                                    C.text().strip()))
        elif not C.text().strip():
            failures.append("%r -> exit 64 without a message" % arg)
    if failures:
        raise Failure("invalid pids not rejected with 64: " + "; ".join(failures))


@case("no-such-process", per_personality=False)
def _no_such_process(c):
    import subprocess
    p = subprocess.Popen(["true"])
    p.wait()
    pid = p.pid
    if os.path.exists("/proc/%d" % pid):
        raise Skip("pid %d was reused at once; cannot find a free pid" % pid)
    C = c.w.pty("C")
    client = c.start_reptyrctl(pid, C)
    c.w.wait_exit([client])
    c.w.pump(0.02)
    if client.exit_code() != EXIT_NO_SUCH_PROCESS:
        raise Failure("reptyrctl adopt --direct %d (no such process) exited %s, expected 65: %r"
                      % (pid, signal_name(client.exit_code()), C.text()))
    if str(pid) not in C.text():
        raise Failure("the NoSuchProcess message does not name pid %d: %r" % (pid, C.text()))


@case("dry-run")
def _dry_run(c):
    v = c.start_victim("read")
    before = c.pre_adoption(v, v.pty.path)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C, extra=["--dry-run"])
    c.check_untouched(v, before, client, C, 0, "dry run")


def termios_after(c, how):
    v = c.start_victim("read")
    A = v.pty
    c.pre_adoption(v, A.path)
    C = c.w.pty("C", rows=30, cols=90)
    # Something other than the defaults, so a restore to "sane" is caught.
    attrs = C.termios()
    attrs[6][termios.VKILL] = b"\x18"
    attrs[0] |= termios.IXANY
    termios.tcsetattr(C.fd, termios.TCSANOW, attrs)
    before = C.termios()
    client = c.start_reptyrctl(v.pid, C)
    c.wait_adopted(v, A.path, C, client)
    mark = C.mark()
    c.w.send(C, "hello\n")
    c.w.wait_for(C, line_rx("GOT hello"), since=mark, what="relay works", watch=[client])
    if how == "exit":
        c.finish_quit(v, C, client)
    else:
        sig = {"sigterm": signal.SIGTERM, "sighup": signal.SIGHUP}[how]
        os.kill(client.pid, sig)
        c.w.wait_exit([client], what="reptyrctl exit on %s" % sig.name)
        if client.exit_code() != 128 + sig:
            raise Failure("reptyrctl exited %s on %s, expected to die of the signal (%d)"
                          % (signal_name(client.exit_code()), sig.name, 128 + sig))
    after = C.termios()
    if after != before:
        names = ["iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed", "cc"]
        diff = ["%s %r -> %r" % (n, b, a) for n, b, a in zip(names, before, after) if a != b]
        raise Failure("terminal modes not restored after reptyrctl exit (%s): %s"
                      % (how, "; ".join(diff)))


for _how in ("exit", "sigterm", "sighup"):
    case("relay-restores-termios-" + _how)(lambda c, _h=_how: termios_after(c, _h))


@case("exit-status-code")
def _exit_status_code(c):
    v = c.start_victim("exit-code", 7)
    c.pre_adoption(v, v.pty.path)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C)
    c.wait_adopted(v, v.pty.path, C, client)
    c.finish_quit(v, C, client, expect=7)


@case("exit-status-from-zombie")
def _exit_status_from_zombie(c):
    """The victim's parent (the harness) does not reap it until reptyrctl is
    done: the status must come from the zombie itself, on every kernel."""
    v = c.start_victim("exit-code", 9)
    c.pre_adoption(v, v.pty.path)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C)
    c.wait_adopted(v, v.pty.path, C, client)
    c.w.send(C, "quit\n")
    c.w.wait_exit([client], what="reptyrctl exit while the victim is an unreaped zombie")
    state = open("/proc/%d/stat" % v.pid).read().rsplit(")", 1)[1].split()[0]
    if state != "Z":
        raise Failure("the victim is %s, not an unreaped zombie: the test proves nothing" % state)
    if client.exit_code() != 9:
        raise Failure("reptyrctl exited %s with its target an unreaped zombie of status 9; %r"
                      % (signal_name(client.exit_code()), C.tail()))
    c.w.wait_exit([v.proc], what="victim reaped")


@case("exit-status-killed")
def _exit_status_killed(c):
    v = c.start_victim("read")
    c.pre_adoption(v, v.pty.path)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C)
    c.wait_adopted(v, v.pty.path, C, client)
    os.kill(v.pid, signal.SIGKILL)
    c.w.wait_exit([client, v.proc], what="reptyrctl exit after the victim was killed")
    if client.exit_code() != 128 + signal.SIGKILL:
        raise Failure("reptyrctl exited %s after SIGKILL of the victim, expected 137; %r"
                      % (signal_name(client.exit_code()), C.tail()))


def _tmux(tmpdir, *args):
    import subprocess
    return subprocess.run(["tmux"] + list(args), env=dict(os.environ, TMUX_TMPDIR=tmpdir),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=10)


def _adopt_into_tmux(c, session):
    """reptyrctl adopt --tmux[=SESSION], run with no terminal at all (as from
    a script): the victim ends up relayed in a new tmux window, answers what
    is typed there, and reptyrctl itself exits 0 at once saying how to
    attach. Its own tmux server (TMUX_TMPDIR) keeps the machine's alone."""
    import shutil
    import subprocess
    if not shutil.which("tmux"):
        raise Skip("tmux is not installed")
    tmpdir = tempfile.mkdtemp(prefix="reptyr-tmux-")
    try:
        if session:
            r = _tmux(tmpdir, "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                      "sleep", "600")
            if r.returncode != 0:
                raise Failure("tmux new-session: %s" % r.stdout)
        v = c.start_victim("read")
        c.pre_adoption(v, v.pty.path)
        opt = "--tmux=" + session if session else "--tmux"
        p = subprocess.run([c.reptyrctl, "adopt", "--direct", opt, str(v.pid)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30,
                           env=dict(os.environ, TMUX_TMPDIR=tmpdir))
        want = session or "reptyr-%d" % v.pid
        if p.returncode != 0 or "tmux attach -t %s" % want not in p.stdout:
            raise Failure("reptyrctl adopt %s exited %d: %r" % (opt, p.returncode, p.stdout))
        target = re.search(r"tmux window (\S+?);", p.stdout).group(1)

        def pane():
            return _tmux(tmpdir, "capture-pane", "-p", "-t", target).stdout

        c.w.wait_until(lambda: "moved here" in pane(), what="the banner in the tmux window",
                       detail=pane)
        c.w.wait_until(lambda: os.readlink("/proc/%d/fd/0" % v.pid) != v.pty.path,
                       what="victim on a new terminal")
        _tmux(tmpdir, "send-keys", "-t", target, "hello-tmux", "Enter")
        c.w.wait_until(lambda: "GOT hello-tmux" in pane(), what="victim answering in tmux",
                       detail=pane)
        _tmux(tmpdir, "send-keys", "-t", target, "quit", "Enter")
        c.w.wait_exit([v.proc], what="victim exits")
    finally:
        _tmux(tmpdir, "kill-server")
        shutil.rmtree(tmpdir, ignore_errors=True)


@case("pty-stdio-runs-command-with-its-status")
def _pty_stdio(c):
    """reptyrctl pty --stdio -- COMMAND: the command runs on a new terminal
    (its controlling terminal, REPTYR_PTY names it), relayed here, and
    reptyrctl exits with its status."""
    C = c.w.pty("C")
    script = ('echo "on=$(tty) env=$REPTYR_PTY"; read x; echo "got=$x"; exit 6')
    argv = c.prefix() + [c.reptyrctl, "pty", "--stdio", "--", "sh", "-c", script]
    client = c.w.spawn_on_pty("reptyrctl pty", argv, C, ctty=True, pdeathsig=not c.user)
    C.close_slave()
    m = c.w.wait_for(C, r"^(/dev/pts/\d+)\r?\n", what="the new terminal's name", watch=[client])
    name = m.group(1)
    m = c.w.wait_for(C, r"on=(\S+) env=(\S+)\r?\n", what="the command on the new terminal",
                     watch=[client])
    if m.group(1) != name or m.group(2) != name:
        raise Failure("the command runs on %s with REPTYR_PTY=%s, expected %s"
                      % (m.group(1), m.group(2), name))
    c.w.send(C, "typed-here\n")
    c.w.wait_for(C, r"got=typed-here", what="input relayed to the command", watch=[client])
    c.w.wait_exit([client], what="reptyrctl ends with the command")
    if client.exit_code() != 6:
        raise Failure("reptyrctl pty exited %s, expected the command's 6; %r"
                      % (signal_name(client.exit_code()), C.tail()))


@case("pty-without-command-ends-when-closed")
def _pty_plain(c):
    """reptyrctl pty: prints the new terminal's name and relays it until the
    last program that opened it closes it."""
    C = c.w.pty("C")
    argv = c.prefix() + [c.reptyrctl, "pty"]
    client = c.w.spawn_on_pty("reptyrctl pty", argv, C, ctty=True, pdeathsig=not c.user)
    C.close_slave()
    name = c.w.wait_for(C, r"^(/dev/pts/\d+)\r?\n", what="the new terminal's name",
                        watch=[client]).group(1)
    c.w.wait_until(lambda: not C.termios()[3] & termios.ICANON, what="C in raw mode")
    with open(name, "w") as f:
        f.write("written-from-outside\n")
    c.w.wait_for(C, r"written-from-outside", what="output relayed", watch=[client])
    c.w.wait_exit([client], what="reptyrctl ends once the terminal was closed")
    if client.exit_code() != 0:
        raise Failure("reptyrctl pty exited %s; %r" % (signal_name(client.exit_code()), C.tail()))


case("adopt-into-new-tmux-session")(lambda c: _adopt_into_tmux(c, None))
case("adopt-into-named-tmux-session")(lambda c: _adopt_into_tmux(c, "work"))


@case("job-control")
def _job_control(c):
    v = c.start_victim("read")
    A = v.pty
    c.pre_adoption(v, A.path)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    shell = c.start_shell(C)
    c.w.send(C, "%s adopt --direct %d\n" % (c.reptyrctl, v.pid))
    client = shell  # reptyrctl is bash's job: watch the shell
    c.wait_adopted(v, A.path, C, client)
    mark = C.mark()
    c.w.send(C, "hello\n")
    c.w.wait_for(C, line_rx("GOT hello"), since=mark, what="relay under bash", watch=[shell])

    mark = C.mark()
    c.w.send(C, b"\x1a")
    c.w.wait_for(C, r"(?s)Stopped.*reptyrctl.*" + SHELL_PROMPT, since=mark,
                 what="^Z stops reptyrctl and bash reports the job", watch=[shell])
    c.w.log("after ^Z the victim's state is %s" % proc_state(v.pid))

    mark = C.mark()
    c.w.send(C, "fg\n")
    c.w.wait_for(C, r"adopt --direct %d\r?\n" % v.pid, since=mark, what="fg", watch=[shell])
    c.w.wait_until(lambda: not C.termios()[3] & termios.ICANON, what="reptyrctl raw again")
    # Resumed: lines reach the victim again. A line typed while reptyrctl
    # re-enters raw mode may be flushed by it, so retry a few times.
    for attempt in range(3):
        mark = C.mark()
        c.w.send(C, "again%d\n" % attempt)
        try:
            c.w.wait_for(C, line_rx("GOT again%d" % attempt), since=mark, timeout=3,
                         what="victim echoes after fg", watch=[shell])
            break
        except Failure:
            if attempt == 2:
                raise
            c.w.log("line %d lost after fg; retrying" % attempt)
    mark = C.mark()
    c.w.send(C, "quit\n")
    c.w.wait_for(C, SHELL_PROMPT, since=mark, what="bash prompt after the victim quit",
                 watch=[shell])
    c.w.wait_exit([v.proc])
    mark = C.mark()
    c.w.send(C, "echo rc=$?\n")
    m = c.w.wait_for(C, r"rc=(\d+)", since=mark, what="reptyrctl's exit status", watch=[shell])
    if m.group(1) != "0":
        raise Failure("reptyrctl under bash exited %s after the victim quit with 0" % m.group(1))
    if A.text(a_mark):
        raise Failure("the old terminal got output after adoption: %r" % A.text(a_mark))


# ---- ^Z with programs that handle it, the banner ------------------------------------


def adopt_under_shell(c, mode, *margs):
    """The victim adopted by `reptyrctl adopt --direct` typed into bash on C
    (so that ^Z has a shell to return to)."""
    v = c.start_victim(mode, *margs)
    A = v.pty
    c.pre_adoption(v, A.path)
    C = c.w.pty("C", rows=30, cols=90)
    shell = c.start_shell(C)
    c.w.send(C, "%s adopt --direct %d\n" % (c.reptyrctl, v.pid))
    c.wait_adopted(v, A.path, C, shell)
    return v, C, shell


def suspend_and_fg(c, v, C, shell, before_stop=None, after_stop=None, resumed=None):
    """^Z: reptyrctl and the victim stop, bash prints its prompt; fg: both
    run again. Returns the mark taken just before the ^Z."""
    w = c.w
    before = C.mark()
    w.send(C, b"\x1a")
    w.wait_for(C, r"(?s)%sStopped.*reptyrctl.*%s" % (before_stop or "", SHELL_PROMPT),
               since=before, what="^Z stops reptyrctl and bash reports the job", watch=[shell])
    w.wait_until(lambda: proc_state(v.pid) == "T", what="the victim stopped",
                 detail=lambda: "state %s" % proc_state(v.pid))
    if after_stop:
        after_stop(before)
    mark = C.mark()
    w.send(C, "fg\n")
    w.wait_for(C, r"adopt --direct %d\r?\n" % v.pid, since=mark, what="fg", watch=[shell])
    if resumed:
        # Generous: on a loaded machine the relay's watch, bash and the
        # victim each take their turn.
        try:
            w.wait_for(C, resumed, since=mark, what="the victim continued", watch=[shell],
                       timeout=30)
        except Failure as e:
            # What the victim was doing: stopped again, or waiting for a
            # SIGCONT that never came (for whoever chases this race).
            try:
                st = proc_status(v.pid)
                seen = ", ".join("%s %s" % (k, st.get(k)) for k in
                                 ("State", "SigPnd", "ShdPnd", "SigBlk"))
                with open("/proc/%d/syscall" % v.pid) as f:
                    seen += ", syscall " + f.read().strip()
            except OSError as err:
                seen = "status unreadable: %s" % err
            for pid in os.listdir("/proc"):
                try:
                    if pid.isdigit() and proc_stat(int(pid))[1] == str(shell.pid):
                        st = proc_status(int(pid))
                        with open("/proc/%s/syscall" % pid) as f:
                            wchan = f.read().strip()
                        seen += "; shell's child %s (%s): State %s, syscall %s, SigPnd %s ShdPnd %s SigBlk %s" % (
                            pid, st.get("Name"), st.get("State"), wchan, st.get("SigPnd"),
                            st.get("ShdPnd"), st.get("SigBlk"))
                except OSError:
                    pass
            raise Failure("%s; victim: %s" % (e, seen))
    w.wait_until(lambda: proc_state(v.pid) != "T", what="the victim running again")
    w.wait_until(lambda: not C.termios()[3] & termios.ICANON, what="reptyrctl raw again")
    return before


def type_line_after_fg(c, C, shell, eol="\n"):
    # A line typed while reptyrctl re-enters raw mode may be flushed by it.
    for attempt in range(3):
        mark = C.mark()
        c.w.send(C, "again%d%s" % (attempt, eol))
        try:
            c.w.wait_for(C, line_rx("GOT again%d" % attempt), since=mark, timeout=3,
                         what="victim reads lines after fg", watch=[shell])
            return
        except Failure:
            if attempt == 2:
                raise
            c.w.log("line %d lost after fg; retrying" % attempt)


def quit_under_shell(c, v, C, shell, eol="\n"):
    mark = C.mark()
    c.w.send(C, "quit" + eol)
    c.w.wait_for(C, SHELL_PROMPT, since=mark, what="bash prompt after the victim quit",
                 watch=[shell])
    c.w.wait_exit([v.proc])
    mark = C.mark()
    c.w.send(C, "echo rc=$?\n")
    m = c.w.wait_for(C, r"rc=(\d+)", since=mark, what="reptyrctl's exit status", watch=[shell])
    if m.group(1) != "0":
        raise Failure("reptyrctl under bash exited %s after the victim quit with 0" % m.group(1))


def suspend_self(c, how):
    """A program with ISIG off that suspends itself on ^Z, as vim (SIGTSTP,
    which the kernel drops for the adopted, orphaned group) or nano -z
    (SIGSTOP) do: reptyrctl must stop with it, and fg continue both."""
    margs = {"sigstop": ("stop",), "sigstop-late": ("stop-late",)}.get(how, ())
    v, C, shell = adopt_under_shell(c, "tstp-self", *margs)
    mark = C.mark()
    c.w.send(C, "hello\r")
    c.w.wait_for(C, line_rx("GOT hello"), since=mark, what="relay works", watch=[shell])

    def not_resumed_yet(before):
        if "RESUMED" in C.text(before):
            raise Failure("the victim went on before fg: %r" % C.tail(before))

    suspend_and_fg(c, v, C, shell, before_stop=r"SUSPENDING\r?\n.*", after_stop=not_resumed_yet,
                   resumed=r"RESUMED\r?\n")
    type_line_after_fg(c, C, shell, eol="\r")
    # And again: the watch works more than once.
    suspend_and_fg(c, v, C, shell, before_stop=r"SUSPENDING\r?\n.*", after_stop=not_resumed_yet,
                   resumed=r"RESUMED\r?\n")
    quit_under_shell(c, v, C, shell, eol="\r")


case("suspend-self-sigtstp", per_personality=False)(lambda c: suspend_self(c, "sigtstp"))
case("suspend-self-sigstop", per_personality=False)(lambda c: suspend_self(c, "sigstop"))
# Its stop comes 300 ms after it gave the modes back, asleep in between: the
# relay stops it first, and after fg its own SIGSTOP stops it again (and
# throws away the relay's SIGCONT); the relay must continue it once more.
case("suspend-self-sigstop-late", per_personality=False)(
    lambda c: suspend_self(c, "sigstop-late"))


@case("suspend-no-stray-echo", per_personality=False)
def _suspend_no_stray_echo(c):
    """ISIG and ECHOCTL on (the kernel's defaults): ^Z stops the job, and
    after fg no "^Z" (the echo of the suspend character) shows up in front
    of the program's next output."""
    v, C, shell = adopt_under_shell(c, "read")
    mark = C.mark()
    c.w.send(C, "hello\n")
    c.w.wait_for(C, line_rx("GOT hello"), since=mark, what="relay works", watch=[shell])
    before = suspend_and_fg(c, v, C, shell)
    type_line_after_fg(c, C, shell)
    if "^Z" in C.text(before):
        raise Failure("a stray ^Z (the echo of the suspend character) was relayed: %r"
                      % C.tail(before))
    quit_under_shell(c, v, C, shell)


@case("banner-line-mode", per_personality=False)
def _banner_line_mode(c):
    """A program in canonical mode gets the banner, before its first output
    relayed on the new terminal."""
    v = c.start_victim("read")
    A = v.pty
    c.pre_adoption(v, A.path)
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C)
    c.wait_adopted(v, A.path, C, client)
    mark = C.mark()
    c.w.send(C, "hello\n")
    c.w.wait_for(C, line_rx("GOT hello"), since=mark, what="relay works", watch=[client])
    text = C.text()
    banner = text.find("moved here from %s" % A.path)
    if banner < 0:
        raise Failure("no banner for a program in canonical mode: %r" % C.tail())
    first = min(i for i in (text.find("WINCH"), text.find("GOT")) if i >= 0)
    if first < banner:
        raise Failure("the banner came after the program's output: %r" % C.tail())
    c.finish_quit(v, C, client)


@case("banner-fullscreen", per_personality=False)
def _banner_fullscreen(c):
    """A full-screen program (alternate screen, canonical mode off) that
    redraws only what changed: the banner must not be on the screen it is
    drawn on. Rendered by a real terminal emulator: tmux."""
    import shutil
    import subprocess
    tmux = shutil.which("tmux")
    if not tmux:
        raise Skip("tmux is not installed (apt-get install tmux)")
    w = c.w
    v = c.start_victim("fullscreen")
    A = v.pty
    d = tempfile.mkdtemp(prefix="reptyr-it-tmux-")
    w.tmpdirs.append(d)
    sock = os.path.join(d, "sock")

    def tm(*a, check=True):
        r = subprocess.run([tmux, "-S", sock] + list(a), capture_output=True, text=True,
                           timeout=DEFAULT_TIMEOUT, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise Failure("tmux %s exited %d: %s" % (" ".join(a), r.returncode, r.stderr.strip()))
        return r

    def screen():
        r = tm("capture-pane", "-p", "-t", "banner", check=False)
        return r.stdout if r.returncode == 0 else ""

    server = None
    try:
        tm("-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", "-s", "banner",
           "%s adopt --direct %d; sleep 600" % (c.reptyrctl, v.pid))
        server = int(tm("display-message", "-p", "#{pid}").stdout.strip())
        w.forget_pid_later(server)
        w.wait_until(lambda: os.readlink("/proc/%d/fd/0" % v.pid) != A.path,
                     what="adoption of %d from the tmux pane" % v.pid,
                     detail=lambda: repr(screen()))
        # The engine's SIGWINCH makes it draw its frame counter.
        w.wait_until(lambda: "FRAME" in screen(), what="the program's redraw in the pane",
                     detail=lambda: repr(screen()))
        shown = screen()
        w.log("the pane shows:\n%s" % shown)
        if "moved here" in shown or "reptyrctl:" in shown:
            raise Failure("the banner is inside the program's screen:\n%s" % shown)
        tm("send-keys", "-t", "banner", "-l", "quit")
        tm("send-keys", "-t", "banner", "Enter")
        w.wait_until(lambda: proc_state(v.pid) in (None, "Z"), what="the victim quit",
                     detail=lambda: repr(screen()))
    finally:
        tm("kill-server", check=False)
        if server:
            try:
                os.kill(server, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---- a terminal shared with a process outside the session --------------------------


def _start_sharer(c, A):
    """A process in a session of its own with A open (as a tmux or screen
    server has its client's terminal), not holding A's master."""
    import subprocess
    p = c.w.spawn("sharer", ["sleep", "1000"], subprocess.DEVNULL, subprocess.DEVNULL, A.slave,
                  session=True)
    return p


@case("shared-terminal-refused", per_personality=False)
def _shared_terminal_refused(c):
    """Another session's process has A open: refused (HasChildren), naming
    it and --force, with the victim untouched."""
    A = c.w.pty("A")
    sharer = _start_sharer(c, A)
    v = c.start_victim("read", pty=A)
    before = c.pre_adoption(v, A.path)
    C = c.w.pty("C")
    client = c.start_reptyrctl(v.pid, C)
    c.check_untouched(v, before, client, C, EXIT_HAS_CHILDREN, "a sharer of A",
                      rx=r"(?s)\b%d \(sleep\).*--force" % sharer.pid)


@case("shared-terminal-forced", per_personality=False)
def _shared_terminal_forced(c):
    """--force adopts it all the same; the other process keeps A."""
    A = c.w.pty("A")
    sharer = _start_sharer(c, A)
    v = c.start_victim("read", pty=A)
    before = c.pre_adoption(v, A.path)
    a_mark = A.mark()
    C = c.w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(v.pid, C, extra=["--force"])
    new_tty = c.wait_adopted(v, A.path, C, client)
    c.check_on_new_terminal(v, A, C, client, new_tty, a_mark)
    c.check_unchanged(v, before, A.path, new_tty)
    if os.readlink("/proc/%d/fd/2" % sharer.pid) != A.path:
        raise Failure("the other process lost its fd on A")
    c.finish_quit(v, C, client)


# ---- main -------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reptyrctl")
    ap.add_argument("--victim")
    ap.add_argument("--bits", default="")
    ap.add_argument("--list", action="store_true", help="print the cases and exit")
    ap.add_argument("--per-personality", action="store_true",
                    help="with --list: only the cases run once per victim personality")
    ap.add_argument("case", nargs="?")
    args = ap.parse_args()

    if args.list:
        for name, (_, per) in CASES.items():
            if per == args.per_personality:
                print(name)
        return 0
    if args.case not in CASES:
        ap.error("unknown case %r (see --list)" % args.case)

    title = "%s%s" % (args.case, " (%s-bit victim)" % args.bits if args.bits else "")
    for what, path in (("reptyrctl", args.reptyrctl), ("victim", args.victim)):
        if not path or not os.access(path, os.X_OK):
            print("FAIL: %s: %s binary not built or not executable: %r" % (title, what, path))
            return 1

    def terminated(signum, frame):
        # meson's timeout: still clean up (finally below) before dying.
        raise Failure("terminated by signal %d (test timeout?)" % signum)
    signal.signal(signal.SIGTERM, terminated)

    world = World()
    fn, _ = CASES[args.case]
    try:
        fn(Case(args, world))
    except Skip as e:
        print("SKIP: %s: %s" % (title, e))
        return 77
    except Failure as e:
        print("FAIL: %s: %s" % (title, e))
        for s in world.streams:
            if s.data:
                print("  --- %s (%s) output tail:\n  %r" % (s.name, getattr(s, "path", "pipe"),
                                                          s.tail()))
        return 1
    except Exception:
        print("FAIL: %s: harness error:" % title)
        traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        world.cleanup()
    print("PASS: %s" % title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
