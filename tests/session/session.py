#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`reptyrctl adopt --direct --session` end to end, one behaviour per case.

    session.py --reptyrctl PATH --holder PATH --victim PATH CASE
    session.py --list

A terminal session (an interactive bash with a background job and a
foreground pipeline) runs on a pty whose master a holder keeps: the tiny
terminal emulator of this directory (holder.c), or a real tmux server. The
test takes the session over from a fresh pty C and checks what a user sees
there and what the holder sees afterwards; then takes it over again from a
third pty D.

Exit status: 0 PASS, 1 FAIL, 77 SKIP (meson's convention), each with a line
saying why.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import traceback
import types

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from errors import EXIT  # noqa: E402
from harness import (DEFAULT_TIMEOUT, Proc, World, compare_snapshots, elf_bits,  # noqa: E402
                     proc_stat, proc_state, signal_name, snapshot)
from testlib import Failure, Skip  # noqa: E402

EXIT_NOT_A_TERMINAL = EXIT["NOT_A_TERMINAL"]
EXIT_UNSUPPORTED = EXIT["UNSUPPORTED"]

PROMPT = "SH-PROMPT$ "
PROMPT_RX = re.escape(PROMPT)
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def shell_env():
    """What the session's shell runs with: a plain, predictable bash."""
    return {"PATH": CLEAN_PATH, "HOME": "/", "LANG": "C.UTF-8", "TERM": "dumb",
            "PS1": PROMPT, "HISTFILE": "/dev/null", "PROMPT_COMMAND": ""}


SHELL_ARGV = ["bash", "--norc", "--noprofile", "-i"]


def alive(pid):
    return proc_state(pid) not in (None, "Z")


def fd_link(pid, fd):
    try:
        return os.readlink("/proc/%d/fd/%d" % (pid, fd))
    except FileNotFoundError:
        return None


def ptmx_fds(pid):
    """The fds of pid open on /dev/ptmx (pty masters)."""
    out = []
    for name in os.listdir("/proc/%d/fd" % pid):
        if fd_link(pid, int(name)) == "/dev/ptmx":
            out.append(int(name))
    return out


def tty_foreground(shell_pid):
    """The foreground process group of the shell's terminal (tpgid)."""
    return int(proc_stat(shell_pid)[5])


def children_of(pid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(proc_stat(int(name))[1]) == pid:
                    out.append(int(name))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


class Session:
    """A shell on a pty whose master someone else (the holder) keeps."""

    def __init__(self, shell_pid, tty, out, send_line):
        self.shell = shell_pid
        self.tty = tty        # /dev/pts/N of the session
        self.out = out        # the stream showing the session before the takeover
        self.send_line = send_line


class Case:
    def __init__(self, args, world):
        self.args = args
        self.w = world
        self.closers = []  # callables run first at cleanup

    def log(self, msg):
        self.w.log(msg)

    # ---- clients ------------------------------------------------------------

    def start_reptyrctl(self, target, pty, name, extra=()):
        argv = [self.args.reptyrctl, "adopt", "--direct", "--session"] + list(extra) + [str(target)]
        proc = self.w.spawn_on_pty(name, argv, pty, ctty=True)
        pty.close_slave()
        self.log("started %s on %s" % (" ".join(argv), pty.path))
        return proc

    def wait_taken_over(self, s, C, client):
        """reptyrctl says the session is here and has C in raw mode."""
        self.w.wait_for(C, r"now on this terminal", what="reptyrctl's takeover message",
                        watch=[client], timeout=DEFAULT_TIMEOUT)
        self.w.wait_until(lambda: not C.termios()[3] & termios.ICANON,
                          what="reptyrctl's terminal %s in raw mode" % C.name)
        self.log("session of %d now on %s" % (s.shell, C.name))

    def run_on(self, T, line, rx, what, watch, timeout=DEFAULT_TIMEOUT):
        mark = T.mark()
        self.w.send(T, line + "\n")
        return self.w.wait_for(T, rx, since=mark, what=what, watch=watch, timeout=timeout)

    def wait_foreground(self, s, name, what):
        """Until a process called NAME leads the terminal's foreground group
        (a key typed before that would go to the shell itself)."""
        def fg():
            pg = tty_foreground(s.shell)
            return pg if pg != s.shell and comm(pg) == name else None
        return self.w.wait_until(fg, what=what, detail=lambda: "foreground group %d (%s)" % (
            tty_foreground(s.shell), comm(tty_foreground(s.shell))))

    # ---- what every session test checks after the takeover --------------------

    def check_session_on(self, s, C, client, pipeline=None):
        """Input reaches the pipeline, ^C ends it and the prompt appears here,
        the shell is the same process on the same pty."""
        w, watch = self.w, [client]
        if pipeline:
            self.run_on(C, "line-from-C", r"PIPE line-from-C\r?\n",
                        "a line typed on the new terminal reaches the pipeline", watch)
            mark = C.mark()
            w.send(C, b"\x03")
            w.wait_for(C, PROMPT_RX, since=mark, what="^C ends the pipeline, prompt on C",
                       watch=watch)
            w.wait_until(lambda: not any(alive(p) for p in pipeline),
                         what="the pipeline %s ended by ^C" % pipeline)
        m = self.run_on(C, "echo shell=$$ tty=$(tty)", r"shell=(\d+) tty=(\S+)\r?\n",
                        "the shell answers on the new terminal", watch)
        if int(m.group(1)) != s.shell or m.group(2) != s.tty:
            raise Failure("after the takeover the shell is %s on %s, expected %d on %s"
                          % (m.group(1), m.group(2), s.shell, s.tty))


# ---- the holder: a tiny terminal emulator ------------------------------------------


def start_holder(c, argv, name="holder", env=None):
    """holder ARGV with its stdin a pipe (what it types into the session)
    and its stdout a pipe we read (what it shows)."""
    w = c.w
    out, out_w = w.pipe_reader("%s stdout" % name)
    in_r, in_w = os.pipe()
    proc = w.spawn(name, [c.args.holder] + argv, in_r, out_w, out_w, session=True,
                   env=env or shell_env())
    os.close(in_r)
    os.close(out_w)
    stdin = types.SimpleNamespace(fd=in_w, name="%s stdin" % name)

    def close_stdin():
        if stdin.fd >= 0:
            os.close(stdin.fd)
            stdin.fd = -1
    c.closers.append(close_stdin)
    m = w.wait_for(out, r"HOLDER: pid (\d+) child (\d+)\r?\n", what="holder start", watch=[proc])
    if int(m.group(1)) != proc.pid:
        raise Failure("holder says pid %s, started %d" % (m.group(1), proc.pid))
    return proc, int(m.group(2)), out, stdin, close_stdin


def shell_in_holder(c):
    w = c.w
    holder, shell, out, stdin, close_stdin = start_holder(c, SHELL_ARGV)
    w.wait_for(out, PROMPT_RX, what="the shell's prompt in the holder", watch=[holder])
    if comm(shell) != "bash":
        raise Failure("holder's child %d is %r, not bash" % (shell, comm(shell)))
    tty = fd_link(shell, 0)
    s = Session(shell, tty, out, lambda line: w.send(stdin, line + "\n"))
    masters = ptmx_fds(holder.pid)
    if len(masters) != 1:
        raise Failure("holder %d holds %d pty masters, expected 1: %s"
                      % (holder.pid, len(masters), masters))
    c.log("holder %d (master fd %d), shell %d on %s" % (holder.pid, masters[0], shell, tty))
    return holder, s, stdin, close_stdin, masters[0]


def start_pipeline(c, s, send, out, watch):
    """A background job and a foreground pipeline in the session."""
    w = c.w
    mark = out.mark()
    send("sleep 1000 &")
    m = w.wait_for(out, r"\[1\] (\d+)\r?\n", since=mark, what="background job started",
                   watch=watch)
    sleep_pid = int(m.group(1))
    w.forget_pid_later(sleep_pid)  # outlives the shell (no huponexit)
    w.wait_for(out, PROMPT_RX, since=mark, what="prompt after the background job", watch=watch)
    mark = out.mark()
    send("cat | sed -u 's/^/PIPE /'")
    pg = c.wait_foreground(s, "cat", "the pipeline in the foreground")
    pipeline = wait_pipeline(c, s)
    c.log("background sleep %d, pipeline %s (group %d)" % (sleep_pid, pipeline, pg))
    mark = out.mark()
    send("before-takeover")
    w.wait_for(out, r"PIPE before-takeover\r?\n", since=mark,
               what="the pipeline works before the takeover", watch=watch)
    return sleep_pid, pipeline


def wait_pipeline(c, s):
    """The pids of `cat | sed`, once both have exec'd."""
    def both():
        p = [pid for pid in children_of(s.shell) if comm(pid) in ("cat", "sed")]
        return p if len(p) == 2 else None
    return c.w.wait_until(both, what="cat and sed running under the shell %d" % s.shell,
                          detail=lambda: str([(p, comm(p)) for p in children_of(s.shell)]))


def set_unusual_modes(T):
    """Modes other than the defaults, so that a restore to "sane" shows."""
    attrs = T.termios()
    attrs[6][termios.VKILL] = b"\x18"
    attrs[0] |= termios.IXANY
    termios.tcsetattr(T.fd, termios.TCSANOW, attrs)
    return T.termios()


def termios_diff(before, after):
    names = ["iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed", "cc"]
    return ["%s %r -> %r" % (n, b, a) for n, b, a in zip(names, before, after) if a != b]


def _holder(c):
    w = c.w
    holder, s, hstdin, close_hstdin, master_fd = shell_in_holder(c)
    sleep_pid, pipeline = start_pipeline(c, s, s.send_line, s.out, [holder])

    # -- the takeover from C
    C = w.pty("C", rows=30, cols=90)
    c_modes = set_unusual_modes(C)
    client = c.start_reptyrctl(s.shell, C, "reptyrctl on C")
    c.wait_taken_over(s, C, client)
    w.wait_for(s.out, r"HOLDER: terminal gone\r?\n", what="the holder loses the terminal",
               watch=[holder])
    gone = s.out.mark()
    link = fd_link(holder.pid, master_fd)
    if link != "/dev/null":
        raise Failure("the holder's master fd %d is now %s, expected /dev/null" % (master_fd, link))
    c.check_session_on(s, C, client, pipeline)

    m = c.run_on(C, "jobs", r"\[1\]\+?\s+(\w+)\s+sleep 1000", "jobs lists the background sleep",
                 [client])
    if m.group(1) != "Running" or not alive(sleep_pid):
        raise Failure("the background sleep %d is %s (state %s)"
                      % (sleep_pid, m.group(1), proc_state(sleep_pid)))

    # The holder no longer feeds the session: what it types is not read.
    w.send(hstdin, "echo typed-in-holder\n")
    c.run_on(C, "echo round-$((20+1))", r"round-21\r?\n", "round trip", [client])
    if "typed-in-holder" in C.text():
        raise Failure("a line typed into the old holder reached the session: %r" % C.tail())

    # ^Z: the shell's own job control, through the relay.
    c.run_on(C, "cat", r"cat\r?\n", "cat started", [client])
    cat_pg = c.wait_foreground(s, "cat", "cat in the foreground")
    mark = C.mark()
    w.send(C, b"\x1a")
    w.wait_for(C, r"(?s)Stopped\s+cat.*" + PROMPT_RX, since=mark,
               what="^Z stops cat and bash reports the job", watch=[client])
    w.wait_until(lambda: proc_state(cat_pg) == "T", what="cat %d stopped" % cat_pg)
    if tty_foreground(s.shell) != s.shell:
        raise Failure("after ^Z the shell is not in the foreground (tpgid %d)"
                      % tty_foreground(s.shell))
    c.run_on(C, "fg", r"fg\r?\ncat\r?\n", "fg resumes cat", [client])
    c.wait_foreground(s, "cat", "cat in the foreground again after fg")
    c.run_on(C, "zzz", r"zzz\r?\nzzz\r?\n", "the resumed cat echoes a line", [client])
    mark = C.mark()
    w.send(C, b"\x03")
    w.wait_for(C, PROMPT_RX, since=mark, what="^C ends cat", watch=[client])

    # Resize: reptyrctl passes its terminal's size on to the session.
    C.set_winsize(40, 100)
    m = c.run_on(C, "stty size", r"\r?\n(\d+) (\d+)\r?\n", "stty size", [client])
    if m.groups() != ("40", "100"):
        raise Failure("after resizing C to 40x100 the session's size is %s x %s" % m.groups())

    # -- the takeover from D: reptyrctl on C ends, its terminal as it was.
    D = w.pty("D", rows=25, cols=70)
    client2 = c.start_reptyrctl(s.shell, D, "reptyrctl on D")
    c.wait_taken_over(s, D, client2)
    w.wait_exit([client], what="the first reptyrctl ends after the second takeover")
    w.pump(0.05)
    first_words = C.text(max(0, C.data.rfind(b"SH-PROMPT")))
    c.log("first reptyrctl exited with %s; its last words: %r"
          % (signal_name(client.exit_code()), first_words))
    if client.exit_code() != 0:
        raise Failure("the first reptyrctl exited with %s after the session was taken from it; "
                      "it said %r" % (signal_name(client.exit_code()), C.tail()))
    diff = termios_diff(c_modes, C.termios())
    if diff:
        raise Failure("C's modes not restored after the first reptyrctl ended: %s"
                      % "; ".join(diff))
    c_after = C.mark()
    c.check_session_on(s, D, client2)
    c.run_on(D, "stty size", r"\r?\n25 70\r?\n", "D's size reaches the session", [client2])
    c.run_on(D, "jobs", r"\[1\]\+?\s+Running\s+sleep 1000", "the job is still there", [client2])
    w.pump(0.02)
    if C.text(c_after):
        raise Failure("C got session output after D took it over: %r" % C.text(c_after))

    # The session ends: reptyrctl on D ends with the shell's status.
    mark = D.mark()
    w.send(D, "exit 3\n")
    w.wait_exit([client2], what="reptyrctl on D ends with the shell")
    if client2.exit_code() != 3:
        raise Failure("reptyrctl on D exited with %s, expected the shell's status 3; it said %r"
                      % (signal_name(client2.exit_code()), D.tail(mark)))
    w.wait_for(s.out, r"HOLDER: child %d exited with status 3" % s.shell, since=gone,
               what="the holder reaps its shell", watch=[holder])

    # The old holder kept running and never showed the session again.
    if not holder.alive():
        raise Failure("the holder exited (%s)" % signal_name(holder.exit_code()))
    leaked = [line for line in s.out.text(gone).splitlines() if not line.startswith("HOLDER:")]
    if leaked:
        raise Failure("the holder showed session output after the takeover: %r" % leaked)
    close_hstdin()
    w.wait_exit([holder], what="the holder ends when its input ends")
    if holder.exit_code() != 0:
        raise Failure("the holder exited with %s" % signal_name(holder.exit_code()))

    # Last, so that it hides nothing above: the first reptyrctl's parting
    # words must not blame the shell for what another reptyrctl did.
    if re.search(r"closed this terminal", first_words):
        raise Failure("the first reptyrctl, whose session another reptyrctl took over, says "
                      "the shell closed the terminal: %r" % first_words)


# ---- tmux as the holder ---------------------------------------------------------------


def _tmux(c, other_window=True):
    """A real tmux server holds the master. With other_window, its server
    also runs a second window (as a user's tmux would), which it must go
    on serving whatever it does with the pane whose session was taken;
    without, the session's pane is all the server has: it may end like it
    does when the pane's shell exits, but the session must be unharmed."""
    w = c.w
    tmux = shutil.which("tmux")
    if not tmux:
        raise Skip("tmux is not installed (apt-get install tmux)")
    d = tempfile.mkdtemp(prefix="reptyr-tmux-")
    w.tmpdirs.append(d)
    sock = os.path.join(d, "sock")
    env = shell_env()

    def tm(*a, check=True):
        r = subprocess.run([tmux, "-S", sock] + list(a), env=env, capture_output=True,
                           text=True, timeout=DEFAULT_TIMEOUT, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise Failure("tmux %s exited %d: %s" % (" ".join(a), r.returncode, r.stderr.strip()))
        return r

    def stop_server():
        r = tm("display-message", "-p", "#{pid}", check=False)
        tm("kill-server", check=False)
        if r.returncode == 0 and r.stdout.strip().isdigit():
            try:
                os.kill(int(r.stdout.strip()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    c.closers.append(stop_server)

    # exec env: the pane's process is bash itself, with our TERM and PS1
    # (tmux sets its own TERM for a pane, and the server's environment is
    # not necessarily the one a pane starts with).
    shell_cmd = "exec env TERM=dumb PS1=%s %s" % (shlex.quote(PROMPT), " ".join(SHELL_ARGV))
    tm("-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "-s", "work",
       "-n", "target", shell_cmd)
    if other_window:
        tm("new-window", "-d", "-t", "work:", "-n", "other", shell_cmd)
    server = int(tm("display-message", "-p", "#{pid}").stdout.strip())
    w.forget_pid_later(server)

    def pane_of(window):
        pid, pane_id = tm("list-panes", "-t", "work:" + window,
                          "-F", "#{pane_pid} #{pane_id}").stdout.split()
        w.forget_pid_later(int(pid))
        return int(pid), pane_id

    shell, target = pane_of("target")
    other_shell, other = pane_of("other") if other_window else (None, None)

    def pane(pane_id):
        r = tm("capture-pane", "-p", "-t", pane_id, check=False)
        return r.stdout if r.returncode == 0 else None

    def type_in(pane_id, line):
        tm("send-keys", "-t", pane_id, "-l", line)
        tm("send-keys", "-t", pane_id, "Enter")

    def pane_ids():
        return tm("list-panes", "-a", "-F", "#{pane_id}", check=False).stdout.split()

    for p in (target, other) if other_window else (target,):
        w.wait_until(lambda: PROMPT.rstrip() in (pane(p) or ""),
                     what="the shell's prompt in tmux pane %s" % p, detail=lambda: repr(pane(p)))
    if comm(shell) != "bash":
        raise Failure("the pane's process %d is %r, not bash" % (shell, comm(shell)))
    tty = fd_link(shell, 0)
    c.log("tmux server %d (ptmx fds %s), pane %s: shell %d on %s; pane %s: shell %s"
          % (server, ptmx_fds(server), target, shell, tty, other, other_shell))

    type_in(target, "echo pane-$((40+2))")
    w.wait_until(lambda: re.search(r"^pane-42$", pane(target), re.M),
                 what="the pane shows output", detail=lambda: repr(pane(target)))
    s = Session(shell, tty, None, None)
    type_in(target, "cat | sed -u 's/^/PIPE /'")
    c.wait_foreground(s, "cat", "the pipeline in the pane's foreground")
    pipeline = wait_pipeline(c, s)

    C = w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(shell, C, "reptyrctl on C")
    if elf_bits(c.args.reptyrctl) == "32" and elf_bits(os.path.realpath(tmux)) == "64":
        # The 32-bit build: the kernel shows a 32-bit tracer no 64-bit
        # registers, so the 64-bit tmux cannot be stopped. As in process
        # mode, that is a clean refusal (Unsupported) with nothing changed.
        w.wait_exit([client], what="a 32-bit reptyrctl and a 64-bit tmux")
        w.pump(0.05)
        c.log("32-bit reptyrctl, 64-bit tmux: exit %s, %r"
              % (signal_name(client.exit_code()), C.text().strip()))
        type_in(target, "still-in-tmux")
        w.wait_until(lambda: re.search(r"^PIPE still-in-tmux$", pane(target), re.M),
                     what="the pane still shows the session", detail=lambda: repr(pane(target)))
        if client.exit_code() != EXIT_UNSUPPORTED:
            raise Failure("a 32-bit reptyrctl cannot stop the 64-bit tmux server: expected a "
                          "clean refusal with %d (Unsupported, as process mode gives), got %s: "
                          "%r" % (EXIT_UNSUPPORTED, signal_name(client.exit_code()), C.text()))
        return
    c.wait_taken_over(s, C, client)
    c.check_session_on(s, C, client, pipeline)
    c.run_on(C, "echo marker-$((6*7))-after", r"marker-42-after\r?\n", "output on C", [client])

    # What tmux does with the pane: it may close it (it sees end-of-file or
    # an error on /dev/null) or keep it frozen. Either is fine; record it.
    try:
        w.wait_until(lambda: target not in pane_ids(), timeout=3,
                     what="tmux closing pane %s" % target)
        c.log("tmux closed pane %s (panes left: %s)" % (target, pane_ids()))
    except Failure:
        c.log("tmux keeps pane %s, frozen; it shows: %r"
              % (target, (pane(target) or "").rstrip()[-200:]))
        text = pane(target) or ""
        if "marker-42-after" in text:
            raise Failure("the tmux pane still shows the session's output: %r" % text)
        # What tmux types into the pane no longer reaches the session.
        type_in(target, "echo typed-in-tmux")
    c.run_on(C, "echo round-$((20+1))", r"round-21\r?\n", "round trip", [client])
    if "typed-in-tmux" in C.text():
        raise Failure("keys sent to the tmux pane reached the session: %r" % C.tail())

    # The shell got no SIGHUP: still the same process, answering on C.
    if not alive(shell):
        raise Failure("the pane's shell %d is gone" % shell)
    c.check_session_on(s, C, client)

    # The server keeps running (and serving its other window).
    r = tm("list-sessions", check=False)
    c.log("tmux list-sessions: exit %d %r, server %d state %s"
          % (r.returncode, (r.stdout + r.stderr).strip(), server, proc_state(server)))
    if other_window and (r.returncode != 0 or not alive(server)):
        raise Failure("the tmux server did not survive the takeover: list-sessions exited %d "
                      "(%s), server %s" % (r.returncode, r.stderr.strip(), proc_state(server)))
    if not other_window:
        # The session was all this server showed: it closes the pane as it
        # would when the pane's shell exits, and a server with nothing left
        # ends. That is tmux's own choice (documented in reptyrctl(1)); the
        # session itself must be unharmed, which the checks around prove.
        c.log("single pane: the tmux server %s"
              % ("still runs" if alive(server) and r.returncode == 0
                 else "ended after closing its only pane, as when a pane's shell exits"))
    if other_window:
        type_in(other, "echo other-$((3*3))")
        w.wait_until(lambda: re.search(r"^other-9$", pane(other) or "", re.M),
                     what="tmux's other window still works", detail=lambda: repr(pane(other)))
    for text in (pane(other) if other_window else "", pane(target) or ""):
        if "marker-42" in (text or "").replace("marker-$((6*7))", ""):
            raise Failure("a tmux pane shows the session's output after the takeover: %r" % text)
    mark = C.mark()
    w.send(C, "exit 4\n")
    w.wait_exit([client], what="reptyrctl ends with the shell")
    if client.exit_code() != 4:
        raise Failure("reptyrctl exited with %s, expected the shell's status 4; it said %r"
                      % (signal_name(client.exit_code()), C.tail(mark)))


# ---- no holder left ---------------------------------------------------------------------


def _no_holder(c):
    """A process whose terminal was hung up (the master closed): there is no
    session to take over; reptyrctl says so and points to process mode."""
    w = c.w
    A = w.pty("A")
    # Input through a pipe (a hung-up tty reads end-of-file, and the victim
    # would end), output on A, which is its controlling terminal.
    in_r, in_w = os.pipe()
    stdin = types.SimpleNamespace(fd=in_w, name="victim stdin")
    c.closers.append(lambda: os.close(in_w) if stdin.fd >= 0 else None)
    slave = A.slave

    def setup():
        import fcntl
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    popen = subprocess.Popen([c.args.victim, "sighup-ignore"], stdin=in_r, stdout=slave,
                             stderr=slave, preexec_fn=setup, close_fds=True, pass_fds=(slave,))
    victim = Proc("victim", popen)
    w.procs.append(victim)
    os.close(in_r)
    A.close_slave()
    w.wait_for(A, r"READY pid=(\d+)\r?\n", what="victim start", watch=[victim])
    w.send(stdin, "ping\n")
    w.wait_for(A, r"GOT ping\r?\n", what="victim answers", watch=[victim])
    a_tty = fd_link(victim.pid, 1)

    # Hang up: close the master (the window or ssh connection went away).
    A.close()
    w.wait_until(lambda: int(proc_stat(victim.pid)[4]) == 0,
                 what="the victim loses its controlling terminal to the hangup")
    if not victim.alive():
        raise Failure("the victim did not survive the hangup (%s)"
                      % signal_name(victim.exit_code()))
    before = w.settled_snapshot(victim.pid)
    c.log("victim %d on hung-up %s (no holder left)" % (victim.pid, a_tty))

    C = w.pty("C")
    c_modes = C.termios()
    client = c.start_reptyrctl(victim.pid, C, "reptyrctl on C")
    w.wait_exit([client], what="reptyrctl refusing")
    w.pump(0.05)
    msg = C.text()
    c.log("reptyrctl said: %s" % msg.strip().replace("\r\n", " | "))
    if client.exit_code() != EXIT_NOT_A_TERMINAL:
        raise Failure("reptyrctl exited with %s, expected %d; it said %r"
                      % (signal_name(client.exit_code()), EXIT_NOT_A_TERMINAL, msg))
    for rx, what in ((r"(?i)master", "the master"),
                     (r"(?i)\bgone\b|no longer|any more|closed", "that it is gone"),
                     (r"(?i)process mode|without --session", "process mode")):
        if not re.search(rx, msg):
            raise Failure("reptyrctl's message does not mention %s (/%s/): %r" % (what, rx, msg))
    if a_tty and a_tty.split()[0] not in msg:
        raise Failure("reptyrctl's message does not name the terminal %s: %r" % (a_tty, msg))
    diff = termios_diff(c_modes, C.termios())
    if diff:
        raise Failure("reptyrctl changed its terminal's modes while refusing: %s" % diff)

    last = []

    def same():
        last[:] = compare_snapshots(before, snapshot(victim.pid))
        return not last
    w.wait_until(same, timeout=5, what="victim unchanged", detail=lambda: "; ".join(last))
    # Still alive and reading: it answers "quit" by exiting 0.
    w.send(stdin, "quit\n")
    w.wait_exit([victim], what="the victim still reads its input and quits")
    if victim.exit_code() != 0:
        raise Failure("the victim exited with %s" % signal_name(victim.exit_code()))


def _names_a_job(c):
    """PID may be any process of the session (here a background job): the
    whole session moves, and reptyrctl follows the session's leader."""
    w = c.w
    holder, s, hstdin, close_hstdin, master_fd = shell_in_holder(c)
    mark = s.out.mark()
    s.send_line("sleep 1000 &")
    m = w.wait_for(s.out, r"\[1\] (\d+)\r?\n", since=mark, what="background job", watch=[holder])
    job = int(m.group(1))
    w.forget_pid_later(job)
    w.wait_for(s.out, PROMPT_RX, since=mark, what="prompt", watch=[holder])
    C = w.pty("C", rows=30, cols=90)
    client = c.start_reptyrctl(job, C, "reptyrctl on C")
    c.wait_taken_over(s, C, client)
    w.wait_for(s.out, r"HOLDER: terminal gone\r?\n", what="the holder loses the terminal",
               watch=[holder])
    c.check_session_on(s, C, client)
    c.run_on(C, "jobs", r"\[1\]\+?\s+Running\s+sleep 1000", "the job is listed", [client])
    mark = C.mark()
    w.send(C, "exit 6\n")
    w.wait_exit([client], what="reptyrctl ends with the session's leader")
    if client.exit_code() != 6:
        raise Failure("reptyrctl (named the job %d) exited with %s, expected the shell's "
                      "status 6; it said %r" % (job, signal_name(client.exit_code()),
                                                C.tail(mark)))
    if not alive(job):
        raise Failure("the job %d that reptyrctl named is gone" % job)
    close_hstdin()


CASES = {
    "takeover-from-holder": _holder,
    "takeover-names-a-job": _names_a_job,
    "takeover-from-tmux": _tmux,
    "takeover-from-tmux-single-pane": lambda c: _tmux(c, other_window=False),
    "no-holder-says-master-gone": _no_holder,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reptyrctl")
    ap.add_argument("--holder")
    ap.add_argument("--victim")
    ap.add_argument("--list", action="store_true", help="print the cases and exit")
    ap.add_argument("case", nargs="?")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if args.case not in CASES:
        ap.error("unknown case %r (see --list)" % args.case)
    for what in ("reptyrctl", "holder", "victim"):
        path = getattr(args, what)
        if not path or not os.access(path, os.X_OK):
            print("FAIL: %s: %s not built or not executable: %r" % (args.case, what, path))
            return 1

    def terminated(signum, frame):
        raise Failure("terminated by signal %d (test timeout?)" % signum)
    signal.signal(signal.SIGTERM, terminated)

    world = World()
    c = Case(args, world)
    try:
        CASES[args.case](c)
        print("PASS: %s" % args.case)
        return 0
    except Skip as e:
        print("SKIP: %s: %s" % (args.case, e))
        return 77
    except Failure as e:
        print("FAIL: %s: %s" % (args.case, e))
        for s in world.streams:
            if s.data:
                print("  --- %s (%s) output tail:\n  %r" % (s.name, getattr(s, "path", "pipe"),
                                                          s.tail()))
        return 1
    except Exception:
        print("FAIL: %s: harness error:" % args.case)
        traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        for close in reversed(c.closers):
            try:
                close()
            except Exception as e:
                print("  cleanup: %s" % e)
        world.cleanup()


if __name__ == "__main__":
    sys.exit(main())
