# SPDX-License-Identifier: MIT
"""The pty world of the tests: ptys, processes, /proc snapshots.

Standard library only (run by Debian's /usr/bin/python3). Nothing here
sleeps for a fixed time: every wait is "until this appears, or fail at the
deadline", pumping every pty meanwhile so no writer ever blocks on a full
buffer.
"""

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time

from testlib import Failure, Skip  # noqa: F401 (raised by and for its users)

DEFAULT_TIMEOUT = 10.0

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


# ---- byte streams (pty masters, pipes) -------------------------------------


class Stream:
    """Everything read so far from one fd; positions into it are "marks"."""

    def __init__(self, name, fd):
        self.name = name
        self.fd = fd
        os.set_blocking(fd, False)
        self.data = bytearray()
        self.eof = False

    def mark(self):
        return len(self.data)

    def text(self, since=0):
        return self.data[since:].decode("utf-8", "replace")

    def fill(self):
        """Read whatever is available now."""
        while not self.eof:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EIO:  # pty: no slave open any more
                    self.eof = True
                    return
                raise
            if not chunk:
                self.eof = True
                return
            self.data += chunk

    def tail(self, since=0, limit=1500):
        t = self.text(since)
        if len(t) > limit:
            t = "..." + t[-limit:]
        return t

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            self.eof = True


class Pty(Stream):
    """A pty pair; the harness keeps the master, processes get the slave."""

    def __init__(self, name, rows=24, cols=80):
        master, slave = os.openpty()
        super().__init__(name, master)
        self.slave = slave
        self.path = os.ttyname(slave)
        self.rdev = os.fstat(slave).st_rdev
        self.set_winsize(rows, cols)

    def set_winsize(self, rows, cols):
        # On the master, TIOCSWINSZ sets the pair's size and sends SIGWINCH
        # to the slave's foreground process group.
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def termios(self):
        # Termios requests on a master act on the slave side.
        return termios.tcgetattr(self.fd)

    def set_echo(self, on):
        attrs = termios.tcgetattr(self.fd)
        if on:
            attrs[3] |= termios.ECHO
        else:
            attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def close_slave(self):
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    def close(self):
        self.close_slave()
        super().close()


# ---- processes ---------------------------------------------------------------


class Proc:
    """A process the harness started (and will kill at cleanup)."""

    def __init__(self, name, popen):
        self.name = name
        self.popen = popen
        self.pid = popen.pid

    def poll(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def exit_code(self):
        """Shell convention: 128+N when killed by signal N; None if running."""
        rc = self.popen.poll()
        if rc is None:
            return None
        return 128 - rc if rc < 0 else rc

    def kill(self):
        if self.popen.poll() is None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    pass
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def signal_name(code):
    if code is not None and code > 128:
        try:
            return "%d (%s)" % (code, signal.Signals(code - 128).name)
        except ValueError:
            pass
    return str(code)


class World:
    """All streams and processes of one test, and their cleanup."""

    def __init__(self):
        self.streams = []
        self.procs = []
        self.extra_pids = []
        self.tmpdirs = []

    def log(self, msg):
        line = "  [%7.3f] %s" % (time.monotonic() - _T0, msg)
        print(line, flush=True)

    # -- streams

    def pty(self, name, rows=24, cols=80):
        p = Pty(name, rows, cols)
        self.streams.append(p)
        return p

    def pipe_reader(self, name):
        r, w = os.pipe()
        s = Stream(name, r)
        self.streams.append(s)
        return s, w

    def pump(self, timeout):
        fds = [s.fd for s in self.streams if not s.eof and s.fd >= 0]
        if not fds:
            if timeout > 0:
                select.select([], [], [], timeout)
            return
        ready, _, _ = select.select(fds, [], [], max(timeout, 0))
        for s in self.streams:
            if s.fd in ready:
                s.fill()

    def send(self, stream, data, timeout=DEFAULT_TIMEOUT):
        if isinstance(data, str):
            data = data.encode()
        deadline = time.monotonic() + timeout
        while data:
            try:
                n = os.write(stream.fd, data)
                data = data[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Failure("could not write to %s within %.0fs" % (stream.name, timeout))
                self.pump(0.01)

    def wait_for(self, stream, pattern, since=0, timeout=DEFAULT_TIMEOUT, what=None, watch=()):
        """Wait until `pattern` (a regex) appears in stream's output after
        mark `since`; fail at the deadline or when a watched process exits."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            self.pump(0)
            m = rx.search(stream.text(since))
            if m:
                return m
            for p in watch:
                if not p.alive():
                    self.pump(0.05)
                    m = rx.search(stream.text(since))
                    if m:
                        return m
                    raise Failure(
                        "%s: %s exited with %s while waiting for /%s/ on %s; %s output since: %r"
                        % (what or "wait", p.name, signal_name(p.exit_code()), pattern,
                           stream.name, stream.name, stream.tail(since)))
            now = time.monotonic()
            if now > deadline:
                raise Failure("%s: /%s/ did not appear on %s within %.0fs; output since: %r"
                              % (what or "wait", pattern, stream.name, timeout,
                                 stream.tail(since)))
            self.pump(min(0.05, deadline - now))

    def wait_until(self, cond, timeout=DEFAULT_TIMEOUT, what="condition", detail=None):
        """Poll cond() (pumping streams) until it returns a true value."""
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if time.monotonic() > deadline:
                extra = (": " + detail()) if detail else ""
                raise Failure("%s not reached within %.0fs%s" % (what, timeout, extra))
            self.pump(0.01)

    def wait_exit(self, procs, timeout=DEFAULT_TIMEOUT, what="exit"):
        """Wait for all of procs to exit (reaping each as it goes)."""
        # Poll (reap) every one each round: reptyrctl waits for its target
        # to be reaped, so stopping at the first still running would stall.
        self.wait_until(lambda: None not in [p.poll() for p in procs], timeout, what,
                        detail=lambda: ", ".join("%s %s" % (p.name, "running" if p.alive()
                                                            else "exited") for p in procs))

    # -- processes

    def spawn(self, name, argv, stdin, stdout, stderr, session=True, ctty=False, env=None,
              pdeathsig=True, extra_fds=None):
        """Start argv with the given fds. session: in a new session;
        ctty: make its fd 0 (a pty slave) the controlling terminal;
        extra_fds: {fd number in the child: fd in the harness}."""
        extra_fds = extra_fds or {}
        for target, source in extra_fds.items():
            try:
                os.fstat(target)
                raise Failure("harness: fd %d is already in use" % target)
            except OSError:
                pass
            os.dup2(source, target, inheritable=True)

        def child_setup():
            if ctty:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            if pdeathsig:
                _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

        try:
            popen = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                                     start_new_session=session, preexec_fn=child_setup,
                                     close_fds=True, pass_fds=tuple(extra_fds), env=env)
        finally:
            for target in extra_fds:
                os.close(target)
        p = Proc(name, popen)
        self.procs.append(p)
        return p

    def spawn_on_pty(self, name, argv, pty, ctty=True, env=None, pdeathsig=True, extra_fds=None):
        return self.spawn(name, argv, pty.slave, pty.slave, pty.slave, session=True, ctty=ctty,
                          env=env, pdeathsig=pdeathsig, extra_fds=extra_fds)

    def settled_snapshot(self, pid, state="S", timeout=DEFAULT_TIMEOUT):
        """snapshot(pid) once every thread is in `state`: right after it
        answered a line a thread is still running on its way back into the
        blocking call."""
        last = {}

        def settled():
            snap = snapshot(pid)
            last["states"] = {tid: t["State"] for tid, t in snap["tasks"].items()}
            return all(t["State"] == state for t in snap["tasks"].values()) and snap

        return self.wait_until(settled, timeout, "all threads of %d in state %s" % (pid, state),
                               detail=lambda: "states %s" % last.get("states"))

    def forget_pid_later(self, pid):
        self.extra_pids.append(pid)

    def private_copy(self, *paths):
        """Copy binaries into a fresh mode-755 directory an unprivileged
        user can reach (the build tree may sit under a mode-700 home)."""
        d = tempfile.mkdtemp(prefix="reptyr-it-")
        self.tmpdirs.append(d)
        os.chmod(d, 0o755)
        out = []
        for p in paths:
            dst = os.path.join(d, os.path.basename(p))
            shutil.copy(p, dst)
            os.chmod(dst, 0o755)
            out.append(dst)
        return out

    def cleanup(self):
        # Processes our processes started (reptyrctl under bash, a shell
        # job) first: they may not die with their parent.
        for pid in descendants([p.pid for p in self.procs if p.alive()]):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            try:
                p.kill()
            except Exception as e:  # keep cleaning up the rest
                print("  cleanup of %s: %s" % (p.name, e))
        for pid in self.extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for s in self.streams:
            s.close()
        for d in self.tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


_T0 = time.monotonic()


# ---- /proc -------------------------------------------------------------------


def descendants(pids):
    """All live descendants of pids (not pids themselves)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(proc_stat(int(name))[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], list(pids)
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def fd_count(pid):
    """How many fds pid holds; None once it is gone."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def proc_status(pid, tid=None):
    path = "/proc/%d/task/%d/status" % (pid, tid) if tid else "/proc/%d/status" % pid
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_stat(pid):
    """Fields after the command name (comm may contain ')' and spaces):
    index 0 = state (field 3), 1 = ppid, 2 = pgrp, 3 = session, 4 = tty_nr,
    5 = tpgid, ..."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def proc_state(pid):
    try:
        return proc_stat(pid)[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def tty_nr_of(rdev):
    """Encode a device number the way /proc/PID/stat's tty_nr does."""
    major, minor = os.major(rdev), os.minor(rdev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def fd_table(pid):
    """{fd: (link, flags)} for every open fd of pid."""
    out = {}
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            link = os.readlink("%s/%s" % (base, name))
            flags = None
            with open("/proc/%d/fdinfo/%s" % (pid, name)) as f:
                for line in f:
                    if line.startswith("flags:"):
                        flags = int(line.split()[1], 8)
            out[int(name)] = (link, flags)
        except FileNotFoundError:
            continue
    return out


def fdinfo(pid, fd):
    with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
        return f.read()


def maps(pid):
    with open("/proc/%d/maps" % pid) as f:
        return [line.rstrip("\n") for line in f]


def text_hashes(pid):
    """SHA-256 of every executable mapping's bytes: an engine that writes
    code into the target must put the original bytes back."""
    out = {}
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for line in maps(pid):
            fields = line.split()
            if len(fields) < 2 or "x" not in fields[1] or line.endswith("[vsyscall]"):
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(lo)
                out[fields[0] + " " + (fields[5] if len(fields) > 5 else "")] = \
                    hashlib.sha256(mem.read(hi - lo)).hexdigest()[:16]
            except OSError:
                continue
    return out


TASK_FIELDS = ("State", "SigBlk", "SigPnd")
PROCESS_FIELDS = ("PPid", "Uid", "Gid", "Groups", "Threads", "SigIgn", "SigCgt", "ShdPnd",
                  "NoNewPrivs", "Seccomp", "Seccomp_filters")
# What of a terminal fd may legitimately differ once it points to the new pty
# (O_LARGEFILE depends on who opened it); the rest must be kept.
TTY_FD_FLAG_MASK = os.O_ACCMODE | os.O_NONBLOCK | os.O_APPEND | 0o2000000  # O_CLOEXEC


def snapshot(pid):
    """The state that adoption must not change (besides the terminal)."""
    snap = {"tasks": {}, "process": {}, "fds": fd_table(pid), "maps": maps(pid),
            "text": text_hashes(pid)}
    st = proc_status(pid)
    for k in PROCESS_FIELDS:
        snap["process"][k] = st.get(k)
    for tid in sorted(int(t) for t in os.listdir("/proc/%d/task" % pid)):
        try:
            tst = proc_status(pid, tid)
        except FileNotFoundError:
            continue
        snap["tasks"][tid] = {k: tst.get(k, "")[:1] if k == "State" else tst.get(k)
                              for k in TASK_FIELDS}
    return snap


def compare_snapshots(before, after, old_tty=None, new_tty=None, moved=None):
    """Differences as readable strings. Terminal fds (old_tty before,
    new_tty after) must now be on new_tty -- all of them, or only those in
    `moved` when given; everything else must be identical."""
    diffs = []
    for k in PROCESS_FIELDS:
        if before["process"][k] != after["process"][k]:
            diffs.append("%s: %r -> %r" % (k, before["process"][k], after["process"][k]))
    if before["tasks"].keys() != after["tasks"].keys():
        diffs.append("threads: %s -> %s" % (sorted(before["tasks"]), sorted(after["tasks"])))
    for tid in before["tasks"].keys() & after["tasks"].keys():
        for k in TASK_FIELDS:
            b, a = before["tasks"][tid][k], after["tasks"][tid][k]
            if b != a:
                diffs.append("task %d %s: %r -> %r" % (tid, k, b, a))
    bf, af = before["fds"], after["fds"]
    if bf.keys() != af.keys():
        diffs.append("fd set: %s -> %s" % (sorted(bf), sorted(af)))
    for fd in sorted(bf.keys() & af.keys()):
        (bl, bflags), (al, aflags) = bf[fd], af[fd]
        if old_tty is not None and bl == old_tty and (moved is None or fd in moved):
            if al != new_tty:
                diffs.append("fd %d: %s should now be %s but is %s" % (fd, bl, new_tty, al))
            elif (bflags & TTY_FD_FLAG_MASK) != (aflags & TTY_FD_FLAG_MASK):
                diffs.append("fd %d (terminal) flags: 0%o -> 0%o" % (fd, bflags, aflags))
        elif (bl, bflags) != (al, aflags):
            diffs.append("fd %d: %s flags 0%o -> %s flags 0%o" % (fd, bl, bflags or 0, al,
                                                                 aflags or 0))
    if before["maps"] != after["maps"]:
        gone = [m for m in before["maps"] if m not in after["maps"]]
        new = [m for m in after["maps"] if m not in before["maps"]]
        diffs.append("memory maps changed: removed %s added %s" % (gone, new))
    for k in before["text"].keys() & after["text"].keys():
        if before["text"][k] != after["text"][k]:
            diffs.append("executable mapping %s: bytes changed" % k)
    return diffs


def elf_bits(path):
    with open(path, "rb") as f:
        head = f.read(5)
    if head[:4] != b"\x7fELF":
        return None
    return {1: "32", 2: "64"}.get(head[4])
