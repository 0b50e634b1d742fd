# SPDX-License-Identifier: MIT
"""What the real-program scenarios share: a tmux server (as root, or as an
unprivileged user with its own TMUX_TMPDIR), windows A and B running
shells, a real sshd on 127.0.0.1, waiting for conditions with deadlines,
and cleanup by pid.

Everything is started by the scenario and ended by pid (pidfds), never by
name: other tests run on the same machine."""

import os
import pwd
import re
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

# Imported by scenarios.py, which has put tests/lib on sys.path.
import rig
from errors import EXIT
from testlib import Failure, Skip  # noqa: F401 (for scenarios.py)

# A user with a real login shell, for ssh logins and for the helper path:
# the password field is "*" (no password, but not a locked account, which
# sshd without PAM would refuse).
PROG_USER = "reptyr-prog"
PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
EXIT_HAS_CHILDREN = EXIT["HAS_CHILDREN"]
EXIT_BUSY = EXIT["BUSY"]
EXIT_PERMISSION = EXIT["PERMISSION"]
EXIT_INTERACTIVE_AUTH = EXIT["INTERACTIVE_AUTH"]


def until(cond, what, timeout=5.0, detail=None):
    """Poll COND until it returns something true, or fail at the deadline
    (a bounded poll of a condition, never a pass gate by itself)."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            extra = ""
            if detail:
                try:
                    extra = "\n" + str(detail())
                except Exception as e:  # the detail is only for the message
                    extra = "\n(detail failed: %s)" % e
            raise Failure("%s not reached within %.1f s%s" % (what, timeout, extra))
        time.sleep(0.01)


def need(*tools):
    for t in tools:
        if not shutil.which(t) and not os.access(t, os.X_OK):
            raise Skip("%s is not installed (CI installs it: tests/run-all.sh DEB_PACKAGES)" % t)


def stat_fields(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2:].decode().split()


def state(pid):
    f = stat_fields(pid)
    return f[0] if f else None


def alive(pid):
    s = state(pid)
    return s is not None and s not in "ZX"


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return
    try:
        signal.pidfd_send_signal(fd, sig)
        if sig == signal.SIGKILL:
            select.select([fd], [], [], 3)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def ensure_prog_user():
    def make():
        try:
            pw = pwd.getpwnam(PROG_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/bin/bash", "-p", "*", PROG_USER], check=True)
            pw = pwd.getpwnam(PROG_USER)
        return pw

    return rig._locked(make)


class Ctx:
    """One scenario's processes, files and closers."""

    def __init__(self, args):
        self.args = args
        self.mode = args.mode  # "direct" or "helper"
        self.tmp = tempfile.mkdtemp(prefix="reptyr-prog-")
        os.chmod(self.tmp, 0o755)
        self.closers = []
        self.pids = []  # killed at the end, by pid
        self.rig = None
        self.user = None  # None: root
        self.reptyrctl = args.reptyrctl
        self.logs = []

    def log(self, msg):
        print("# " + msg, flush=True)

    def own(self, pid):
        if pid and pid not in self.pids:
            self.pids.append(pid)
        return pid

    def close(self):
        for fn in reversed(self.closers):
            try:
                fn()
            except Exception as e:
                print("# cleanup: %s" % e)
        for pid in reversed(self.pids):
            kill_pid(pid)
        if self.rig:
            self.rig.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_helper(self, user=True):
        """The private bus with real polkitd and the build's reptyrd; the
        scenario then runs as PROG_USER (user=True) or root."""
        a = self.args
        if not a.reptyrd:
            raise Skip("this build has no reptyrd (no libsystemd for its word size)")
        with open(a.rules) as f:
            rules = {"50-reptyr.rules": f.read()}
        self.rig = rig.Rig(bus_policy=a.bus_policy, polkit_policy=a.polkit_policy,
                           reptyrd=a.reptyrd, rules=rules, ptrace_scope="0")
        self.rig.start()
        self.reptyrctl = self.rig.install_binary(a.reptyrctl)
        if user:
            self.user = ensure_prog_user().pw_name

    def home(self):
        """A home directory the scenario's user owns (vim's viminfo, the
        shells' history, tmux's socket directory)."""
        h = os.path.join(self.tmp, "home")
        if not os.path.isdir(h):
            os.mkdir(h, 0o700)
            if self.user:
                pw = pwd.getpwnam(self.user)
                os.chown(h, pw.pw_uid, pw.pw_gid)
        return h

    def env(self):
        e = {"PATH": PATH, "HOME": self.home(), "LANG": "C.UTF-8", "TERM": "xterm-256color",
             "TMUX_TMPDIR": self.home(), "HISTFILE": "/dev/null"}
        if self.rig:
            e["DBUS_SYSTEM_BUS_ADDRESS"] = self.rig.address
        return e

    def as_user(self, argv):
        return rig.Rig.as_user(argv, self.user) if self.user else list(argv)

    def adopt_cmd(self, pid, *extra):
        """The reptyrctl command line typed into B."""
        base = [self.reptyrctl, "adopt"]
        if self.mode == "direct":
            base.append("--direct")
        else:
            base.append("--no-ask-password")
        return " ".join(shlex.quote(x) for x in base + list(extra) + [str(pid)]) + \
            "; echo EXIT=$?"


class Tmux:
    """A tmux server of the scenario's user, on a socket in its home."""

    def __init__(self, ctx, name="t", cols=100, rows=30):
        need("tmux")
        self.ctx = ctx
        self.sock = os.path.join(ctx.home(), "tmux-sock")
        self.name = name
        self.server = None
        ctx.closers.append(self.kill)
        self.cols, self.rows = cols, rows

    def tm(self, *a, check=False):
        r = subprocess.run(self.ctx.as_user(["tmux", "-S", self.sock] + list(a)),
                           env=self.ctx.env(), capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise Failure("tmux %s: exit %d %s" % (" ".join(a), r.returncode, r.stderr.strip()))
        return r.stdout

    def start(self, cmd):
        """Session with window 0 (A) running CMD."""
        self.tm("-f", "/dev/null", "new-session", "-d", "-x", str(self.cols), "-y",
                str(self.rows), "-s", self.name, "-n", "A", cmd, check=True)
        self.server = int(self.tm("display", "-p", "#{pid}", check=True).strip())
        self.ctx.own(self.server)

    def window(self, name, cmd):
        self.tm("new-window", "-d", "-t", self.name + ":", "-n", name, cmd, check=True)
        self.ctx.own(self.pane_pid(name))

    def target(self, w):
        return "%s:%s" % (self.name, w)

    def capture(self, w):
        return self.tm("capture-pane", "-p", "-t", self.target(w))

    def pane_pid(self, w):
        out = self.tm("display", "-p", "-t", self.target(w), "#{pane_pid}").strip()
        return int(out) if out.isdigit() else None

    def pane_tty(self, w):
        return self.tm("display", "-p", "-t", self.target(w), "#{pane_tty}").strip()

    def windows(self):
        return self.tm("list-windows", "-t", self.name, "-F", "#{window_name}").split()

    def type(self, w, text, enter=True):
        self.tm("send-keys", "-t", self.target(w), "-l", text)
        if enter:
            self.tm("send-keys", "-t", self.target(w), "Enter")

    def keys(self, w, *keys):
        self.tm("send-keys", "-t", self.target(w), *keys)

    def wait_text(self, w, pattern, what, timeout=5.0):
        rx = re.compile(pattern, re.M)
        return until(lambda: rx.search(self.capture(w)), what, timeout,
                     detail=lambda: "window %s shows:\n%s" % (w, self.capture(w).rstrip()))

    def kill(self):
        if self.server:
            self.tm("kill-server")
            kill_pid(self.server)


def shell_cmd(shell, prompt):
    """An interactive SHELL with prompt PROMPT and no rc files."""
    if shell == "bash":
        return "env PS1=%s bash --norc --noprofile -i" % shlex.quote(prompt)
    if shell == "zsh":
        return "env PS1=%s zsh -f -i" % shlex.quote(prompt)
    if shell == "dash":
        return "env PS1=%s ENV= dash -i" % shlex.quote(prompt)
    if shell == "fish":
        # fish has no PS1: a function, no config, no greeting.
        return ("fish --no-config -i -C %s" %
                shlex.quote("function fish_prompt; echo -n %s; end; set -g fish_greeting" %
                            shlex.quote(prompt)))
    raise ValueError(shell)


class Sshd:
    """A real sshd on 127.0.0.1 with its own host key, no PAM, a private
    port, and a key login for PROG_USER."""

    def __init__(self, ctx):
        need("/usr/sbin/sshd", "ssh", "ssh-keygen")
        self.ctx = ctx
        d = os.path.join(ctx.tmp, "sshd")
        os.mkdir(d, 0o755)
        self.dir = d
        ensure_prog_user()
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(d, name)], check=True)
        pw = pwd.getpwnam(PROG_USER)
        os.chown(os.path.join(d, "client"), pw.pw_uid, pw.pw_gid)  # the client's own key
        shutil.copyfile(os.path.join(d, "client.pub"), os.path.join(d, "authorized_keys"))
        os.chmod(os.path.join(d, "authorized_keys"), 0o644)
        self.key = os.path.join(d, "client")
        # privilege separation wants its empty directory
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.port = None
        self.proc = None

    def start(self):
        import socket
        for _ in range(20):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            conf = os.path.join(self.dir, "sshd_config")
            with open(conf, "w") as f:
                f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nUsePAM no\n"
                        "StrictModes no\nPidFile none\nAuthorizedKeysFile %s\n"
                        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                        "PubkeyAuthentication yes\nPermitRootLogin no\nAllowUsers %s\n"
                        "PrintMotd no\nPrintLastLog no\nUseDNS no\nX11Forwarding no\n"
                        "Subsystem sftp internal-sftp\n"
                        % (port, os.path.join(self.dir, "host"),
                           os.path.join(self.dir, "authorized_keys"), PROG_USER))
            log = open(os.path.join(self.dir, "sshd.log"), "w")
            p = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", conf], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
            self.ctx.own(p.pid)

            def listening():
                if p.poll() is not None:
                    return "exited"
                with open("/proc/net/tcp") as f:
                    return any(":%04X 00000000:0000 0A" % port in line for line in f) and "ok"
            if until(listening, "sshd listening", 5) == "ok":
                self.port, self.proc = port, p
                return
        raise Failure("sshd did not start: %s" % self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "sshd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def client_cmd(self, remote=None):
        cmd = ("ssh -tt -i %s -p %d -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
               "-o LogLevel=ERROR -o BatchMode=yes %s@127.0.0.1"
               % (self.key, self.port, PROG_USER))
        if remote:
            cmd += " " + shlex.quote(remote)
        return cmd

    def session_processes(self):
        """sshd processes below the listener: (monitor, user's session)."""
        return [p for p in descendants(self.proc.pid) if (comm(p) or "").startswith("sshd")]
