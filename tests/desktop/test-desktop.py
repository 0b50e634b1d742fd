# SPDX-License-Identifier: MIT
"""reptyr-terminal in a real display, as a user sees it.

Xvfb (no window manager), a session bus (dbus-run-session), the private
system bus with real polkitd and the built reptyrd (tests/lib/rig.py) with
a test rule that allows every adoption. The user is `nobody`; its victims
(victim.py) run in sessions of their own on ptys this test holds.

- adopt: `reptyr-terminal PID`; xdotool finds the window by its title and
  types a line (the victim reads it), resizes the window (the victim gets
  SIGWINCH with the size the window's terminal shows), ends the victim (the
  window reports "process N exited with status 3").
- picker: `reptyr-terminal` lists a victim whose terminal's master was
  closed (orphaned) first, a victim on a live terminal after it, the same
  processes in the same order as `reptyrctl list --json`; typing filters.
- close: Ctrl+Shift+W while the victim runs asks first (a dialog); "Close
  Terminal" ends the window, whose master's close hangs the victim's
  terminal up.
- refusal: polkit says no; the window says "Not authorized" with the
  helper's message.

The window's text comes from its test hook (REPTYR_TERMINAL_DUMP, written
on SIGUSR1). Each check saves a screenshot (import -window root) in the
directory given by --shots.
"""

import argparse
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rig as riglib  # noqa: E402
from rig import Rig  # noqa: E402
from testlib import Failure, Skip  # noqa: E402

ALLOW = """polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.reptyr.Reptyr1.") === 0)
        return polkit.Result.YES;
});
"""
DENY = """polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.reptyr.Reptyr1.") === 0)
        return polkit.Result.NO;
});
"""
TIMEOUT = 15.0

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--bus-policy", required=True)
ap.add_argument("--polkit-policy", required=True)
ap.add_argument("--reptyrd", required=True)
ap.add_argument("--reptyr-terminal", required=True)
ap.add_argument("--reptyrctl", required=True)
ap.add_argument("--shots", required=True, help="directory for screenshots")
ap.add_argument("checks", nargs="*", help="run only these checks")
args = ap.parse_args()


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def wait_until(cond, what, timeout=TIMEOUT, detail=lambda: ""):
    """Poll COND until it is true or the deadline passes (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}. {detail()}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class Env:
    def __init__(self):
        for tool in ("Xvfb", "xdotool", "import", "dbus-run-session", "setpriv"):
            if not shutil.which(tool):
                raise Skip(f"{tool} is not installed (apt-get install xvfb xdotool imagemagick "
                           "dbus)")
        if not os.path.exists(args.reptyr_terminal):
            raise Skip("reptyr-terminal was not built (GTK 4 or VTE for GTK 4 missing)")
        riglib.require_root()
        self.rig = None
        self.xvfb = None
        self.procs = []
        self.masters = []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def start(self):
        self.rig = Rig(args.bus_policy, args.polkit_policy, args.reptyrd, ptrace_scope="0",
                       rules={"50-test-allow.rules": ALLOW})
        self.rig.start()
        self.nobody = pwd.getpwnam("nobody")
        self.term_bin = self.rig.install_binary(args.reptyr_terminal)
        self.ctl_bin = self.rig.install_binary(args.reptyrctl)
        self.victim = self.rig.install_binary(os.path.join(HERE, "victim.py"))
        # A home and runtime directory for nobody (GTK and fontconfig want
        # them), and a place for logs it writes.
        self.home = tempfile.mkdtemp(prefix="reptyr-desktop-")
        os.chmod(self.home, 0o755)
        for d in ("home", "run", "out"):
            p = os.path.join(self.home, d)
            os.mkdir(p, 0o700)
            os.chown(p, self.nobody.pw_uid, self.nobody.pw_gid)
        os.makedirs(args.shots, exist_ok=True)
        r, w = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "1024x700x24", "-ac", "-nolisten",
             "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=riglib._die_with_parent)
        os.close(w)
        with os.fdopen(r) as f:
            num = f.readline().strip()
        if not num:
            raise Skip("Xvfb did not start")
        self.display = ":" + num

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for m in self.masters:
            try:
                os.close(m)
            except OSError:
                pass
        if self.xvfb:
            self.xvfb.kill()
            self.xvfb.wait()
        if self.rig:
            self.rig.close()
        if getattr(self, "home", None):
            shutil.rmtree(self.home, ignore_errors=True)
        return False

    def out(self, name):
        return os.path.join(self.home, "out", name)

    # -- victims --

    def start_victim(self, name, *extra, keep_master=True):
        """A victim in a session of its own on a new pty. Returns (Popen,
        log path). With keep_master=False the pty's master is closed once
        the victim runs: its terminal is orphaned."""
        log = self.out(name + ".log")
        master, slave = os.openpty()
        p = self.rig.spawn(["/usr/bin/python3", self.victim, log] + list(extra), user="nobody",
                           stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.procs.append(p)
        wait_until(lambda: "READY" in self.read(log), f"victim {name} to start")
        if keep_master:
            self.masters.append(master)
        else:
            os.close(master)
            wait_until(lambda: os.readlink(f"/proc/{p.pid}/fd/0").endswith("(deleted)"),
                       "the victim's terminal to be gone")
        return p, log

    @staticmethod
    def read(path):
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- the window --

    def x_env(self):
        return {"DISPLAY": self.display, "GSK_RENDERER": "cairo", "GDK_BACKEND": "x11",
                "NO_AT_BRIDGE": "1", "HOME": os.path.join(self.home, "home"),
                "XDG_RUNTIME_DIR": os.path.join(self.home, "run"),
                "REPTYR_TERMINAL_DUMP": self.out("dump.txt")}

    def start_terminal(self, *argv):
        p = self.rig.popen(["dbus-run-session", "--", self.term_bin] + list(argv),
                           user="nobody", env=self.x_env(), stdin=subprocess.DEVNULL,
                           stdout=open(self.out("terminal.log"), "a"), stderr=subprocess.STDOUT,
                           start_new_session=True)
        self.procs.append(p)
        return p

    def terminal_pid(self, session_runner):
        """reptyr-terminal under dbus-run-session."""
        def find():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        st = f.read()
                    exe = os.readlink(f"/proc/{pid}/exe")
                except OSError:
                    continue
                ppid = int(st.rsplit(")", 1)[1].split()[1])
                if ppid == session_runner.pid and exe == self.term_bin:
                    return int(pid)
            return None
        return wait_until(find, "reptyr-terminal to start")

    def xdotool(self, *argv, check=True):
        r = subprocess.run(["timeout", str(TIMEOUT), "xdotool"] + list(argv), capture_output=True,
                           text=True, env=dict(os.environ, DISPLAY=self.display))
        if check and r.returncode != 0:
            raise Failure(f"xdotool {' '.join(argv)} failed: {r.stderr.strip()}")
        return r.stdout

    def find_window(self, title_regex):
        out = self.xdotool("search", "--sync", "--onlyvisible", "--name", title_regex)
        return out.split()[0]

    def dump(self, term_pid):
        path = self.out("dump.txt")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.kill(term_pid, signal.SIGUSR1)
        return wait_until(lambda: self.read(path), "the window's text dump")

    def screenshot(self, name):
        path = os.path.join(args.shots, name + ".png")
        subprocess.run(["import", "-display", self.display, "-window", "root", path],
                       check=True, timeout=TIMEOUT, capture_output=True)
        print(f"# screenshot: {path}", flush=True)

    def logs(self):
        return f"\n--- terminal.log ---\n{self.read(self.out('terminal.log'))}\n{self.rig.logs()}"


def field(dump, key):
    m = re.search(rf"^{key}: (.*)$", dump, re.M)
    return m.group(1) if m else None


def check_adopt(env):
    victim, log = env.start_victim("adopt")
    old_tty = os.readlink(f"/proc/{victim.pid}/fd/0")
    runner = env.start_terminal(str(victim.pid))
    term = env.terminal_pid(runner)
    wid = env.find_window(rf"\({victim.pid}\) from ")
    wait_until(lambda: os.readlink(f"/proc/{victim.pid}/fd/0") != old_tty,
               "the victim to be on the window's terminal", detail=env.logs)
    d = env.dump(term)
    expect(field(d, "page") == "terminal", f"the window does not show the terminal:\n{d}")
    expect(old_tty in field(d, "title"), f"the title does not name the old tty {old_tty}:\n{d}")

    env.xdotool("windowfocus", "--sync", wid, check=False)
    env.xdotool("type", "--window", wid, "hello from the desktop")
    env.xdotool("key", "--window", wid, "Return")
    wait_until(lambda: "LINE hello from the desktop" in env.read(log),
               "the typed line to reach the victim", detail=lambda: env.read(log) + env.logs())

    before = field(env.dump(term), "size")
    env.xdotool("windowsize", "--sync", wid, "700", "420", check=False)

    def resized():
        size = field(env.dump(term), "size")
        rows, cols = size.split()
        return size != before and f"WINCH {rows} {cols}" in env.read(log)

    wait_until(resized, "SIGWINCH with the window's new size",
               detail=lambda: f"window size was {before}; victim log: {env.read(log)}")
    env.screenshot("reptyr-terminal-adopted")

    env.xdotool("type", "--window", wid, "exit 3")
    env.xdotool("key", "--window", wid, "Return")
    want = f"process {victim.pid} exited with status 3"
    # The victim is our child and stays a zombie until we reap it: the
    # window reads its status from there.
    wait_until(lambda: field(env.dump(term), "status") == want, f"the window to say {want!r}",
               detail=lambda: env.dump(term) + env.logs())
    env.screenshot("reptyr-terminal-exited")
    d = env.dump(term)
    expect("hello from the desktop" in d.split("terminal:", 1)[1],
           f"the last screen is not kept:\n{d}")
    expect(victim.wait(timeout=TIMEOUT) == 3, "the victim's status is not 3")
    os.kill(term, signal.SIGTERM)
    runner.wait(timeout=TIMEOUT)


def check_close(env):
    victim, log = env.start_victim("close")
    old_tty = os.readlink(f"/proc/{victim.pid}/fd/0")
    runner = env.start_terminal(str(victim.pid))
    term = env.terminal_pid(runner)
    wid = env.find_window(rf"\({victim.pid}\) from ")
    wait_until(lambda: os.readlink(f"/proc/{victim.pid}/fd/0") != old_tty,
               "the victim to be on the window's terminal", detail=env.logs)
    env.xdotool("windowfocus", "--sync", wid, check=False)
    env.xdotool("key", "--window", wid, "ctrl+shift+w")
    dialog = env.find_window("^Close terminal")
    env.screenshot("reptyr-terminal-close")
    expect(victim.poll() is None and "HUP" not in env.read(log),
           "the victim was hung up before the question was answered")
    env.xdotool("windowfocus", "--sync", dialog, check=False)
    env.xdotool("key", "--window", dialog, "alt+l")
    runner.wait(timeout=TIMEOUT)
    # The window's end closed the master: the kernel hung the terminal up
    # and removed its node, which the victim's fds show.
    wait_until(lambda: os.readlink(f"/proc/{victim.pid}/fd/0").endswith("(deleted)"),
               "the victim's terminal to be hung up when the window closes",
               detail=lambda: env.read(log))
    print(f"# victim after the close: {'got SIGHUP' if 'HUP' in env.read(log) else 'no SIGHUP'}"
          f", {'ended' if victim.poll() is not None else 'running'}", flush=True)
    victim.kill()
    victim.wait()


def list_json(env):
    r = env.rig.run([env.ctl_bin, "list", "--json"], user="nobody")
    expect(r.returncode == 0, f"reptyrctl list --json failed: {r.stderr}")
    return [json.loads(line) for line in r.stdout.splitlines()]


def check_picker(env):
    live, _ = env.start_victim("live", "marker-live")
    orphan, _ = env.start_victim("orphan", "nohup", "marker-orphan", keep_master=False)
    runner = env.start_terminal()
    term = env.terminal_pid(runner)
    wid = env.find_window("^Adopt a process")
    before = list_json(env)
    d = env.dump(term)
    after = list_json(env)
    rows = [line.split("\t") for line in re.findall(r"^row: (.*)$", d, re.M)]
    pids = [int(r[0]) for r in rows]
    expect(orphan.pid in pids and live.pid in pids,
           f"the picker misses the victims {orphan.pid}, {live.pid}:\n{d}")
    # Other tests' orphaned processes of nobody may share the top.
    flags = [r[2] for r in rows]
    expect(rows[pids.index(orphan.pid)][2] == "orphaned"
           and flags == sorted(flags, key=lambda f: f != "orphaned"),
           f"the orphaned victim {orphan.pid} is not listed with the orphaned, first:\n{d}")
    expect(rows[pids.index(live.pid)][2] == "-", f"the live victim is marked orphaned:\n{d}")
    # Other tests on this machine may start or end processes of nobody in
    # between: compare on those present in both command-line lists.
    # (processes of other tests move between terminals all the time): compare
    # the processes whose terminal and state did not change meanwhile.
    key = {e["pid"]: (e["tty"], "orphaned" if e["orphaned"] else "-") for e in before}
    stable = {e["pid"] for e in after
              if key.get(e["pid"]) == (e["tty"], "orphaned" if e["orphaned"] else "-")}
    stable &= {int(r[0]) for r in rows if key.get(int(r[0])) == (r[1], r[2])}
    cli = [e["pid"] for e in after if e["pid"] in stable]
    gui = [p for p in pids if p in stable]
    expect(orphan.pid in stable and live.pid in stable, "the victims changed meanwhile")
    expect(cli == gui, f"reptyrctl list and the picker disagree: {cli} vs {gui}")
    o = [e["orphaned"] for e in after]
    expect(o == sorted(o, reverse=True) and any(e["pid"] == orphan.pid and e["orphaned"]
                                                for e in after),
           f"reptyrctl list --json does not put the orphaned victim first: {after}")
    env.screenshot("reptyr-terminal-picker")

    env.xdotool("windowfocus", "--sync", wid, check=False)
    env.xdotool("type", "--window", wid, "marker-live")
    wait_until(lambda: [int(p) for p in re.findall(r"^row: (\d+)", env.dump(term), re.M)]
               == [live.pid], "the search to leave only the live victim",
               detail=lambda: env.dump(term))
    os.kill(term, signal.SIGTERM)
    runner.wait(timeout=TIMEOUT)


def check_refusal(env):
    env.rig.set_rules("10-test-deny.rules", DENY)
    try:
        victim, log = env.start_victim("refused")
        runner = env.start_terminal(str(victim.pid))
        term = env.terminal_pid(runner)
        env.find_window(rf"\({victim.pid}\)")
        wait_until(lambda: field(env.dump(term), "status") == "Not authorized",
                   "the window to say 'Not authorized'", detail=lambda: env.dump(term)
                   + env.logs())
        d = env.dump(term)
        text = d.split("status-text: ", 1)[-1].split("\nsize: ", 1)[0]
        expect(f"not authorized to adopt process {victim.pid}" in text and "AccessDenied" in text
               and "administrator" in text,
               f"the refusal does not name the process and the reason:\n{d}")
        env.screenshot("reptyr-terminal-refused")
        expect(victim.poll() is None, "the refused victim died")
        os.kill(term, signal.SIGTERM)
        runner.wait(timeout=TIMEOUT)
    finally:
        env.rig.remove_rules("10-test-deny.rules")


CHECKS = [
    ("adopt: typed line, resize, exit status in the window", check_adopt),
    ("close: asks first, then hangs the terminal up", check_close),
    ("picker: orphaned first, same as reptyrctl list, search", check_picker),
    ("refusal: the window says why", check_refusal),
]
if args.checks:
    CHECKS = [c for c in CHECKS if c[1].__name__.removeprefix("check_") in args.checks]
riglib.run_checks(CHECKS, Env)
