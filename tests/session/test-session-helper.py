#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Session mode through reptyrd: `reptyrctl adopt --session` as nobody.

Private bus with the project's policy, the built reptyrd activated on
demand, real polkitd with the shipped default rule, Yama simulated at 0.
The session is an interactive bash (as nobody) on a pty whose master the
tiny terminal emulator of this directory (holder.c) keeps:

- the holder runs as root (like sshd or a root tmux): nobody's takeover
  needs adopt-any and is refused without a password (exit 72 or 75), with
  a reason that names the holder; nothing changed: the holder still has
  its master and shows the session, the shell is alive;
- holder and shell are nobody's own: nobody takes the session over through
  the helper; Inspect reports holders and session processes; input and
  output flow on the new terminal, the holder keeps running without the
  session; a second takeover (the holder now nobody's first reptyrctl)
  works, the first reptyrctl ends, and the second ends with the shell's
  status.
"""

import os
import re
import sys
import termios
import types

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import harness  # noqa: E402
import rig  # noqa: E402
from bustest import ADOPT, ADOPT_ANY  # noqa: E402
from testlib import Skip, expect  # noqa: E402

ap = bustest.arg_parser(__doc__)
ap.add_argument("--holder", help="tests/session/holder (built)")
args = ap.parse_args()
NOBODY = bustest.uid_of("nobody")

PROMPT = "SH-PROMPT$ "
PROMPT_RX = re.escape(PROMPT)
SHELL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/",
             "LANG": "C.UTF-8", "TERM": "dumb", "PS1": PROMPT, "HISTFILE": "/dev/null",
             "PROMPT_COMMAND": ""}
SHELL_ARGV = ["bash", "--norc", "--noprofile", "-i"]
EXIT_PERMISSION = bustest.EXIT["PERMISSION"]
EXIT_INTERACTIVE_AUTH = bustest.EXIT["INTERACTIVE_AUTH"]


def fd_link(pid, fd):
    try:
        return os.readlink("/proc/%d/fd/%d" % (pid, fd))
    except FileNotFoundError:
        return None


def ptmx_fds(pid):
    return [int(n) for n in os.listdir("/proc/%d/fd" % pid)
            if fd_link(pid, int(n)) == "/dev/ptmx"]


class Held:
    """A shell on a pty kept by a holder; what the holder shows, and a way
    to type into it."""

    def __init__(self, env, holder_user, shell_user):
        w = env.w
        if not getattr(env, "holder", None):
            env.holder, = w.private_copy(args.holder)
        argv = [env.holder]
        if shell_user is not None and shell_user != holder_user:
            argv += rig.Rig.as_user([], shell_user)
        argv += SHELL_ARGV
        if holder_user is not None:
            argv = rig.Rig.as_user(argv, holder_user)
        self.out, out_w = w.pipe_reader("holder stdout")
        in_r, in_w = os.pipe()
        self.proc = w.spawn("holder", argv, in_r, out_w, out_w, session=True, env=SHELL_ENV,
                            pdeathsig=False)
        os.close(in_r)
        os.close(out_w)
        self.stdin = types.SimpleNamespace(fd=in_w, name="holder stdin")
        m = w.wait_for(self.out, r"HOLDER: pid (\d+) child (\d+)\r?\n", what="holder start",
                       watch=[self.proc])
        expect(int(m.group(1)) == self.proc.pid, "holder pid %s, started %d"
               % (m.group(1), self.proc.pid))
        self.shell = int(m.group(2))
        w.forget_pid_later(self.shell)
        w.wait_for(self.out, PROMPT_RX, what="the shell's prompt in the holder",
                   watch=[self.proc])
        self.tty = fd_link(self.shell, 0)
        masters = ptmx_fds(self.proc.pid)
        expect(len(masters) == 1, "holder holds masters %s, expected one" % masters)
        self.master_fd = masters[0]
        uid = os.stat("/proc/%d" % self.shell).st_uid
        want = bustest.uid_of(shell_user) if shell_user is not None else 0
        expect(uid == want, "the shell %d runs as uid %d, expected %d" % (self.shell, uid, want))
        self.env = env

    def close(self):
        if self.stdin.fd >= 0:
            os.close(self.stdin.fd)
            self.stdin.fd = -1

    def type(self, line, rx, what):
        mark = self.out.mark()
        self.env.w.send(self.stdin, line + "\n")
        return self.env.w.wait_for(self.out, rx, since=mark, what=what, watch=[self.proc])

    def wait_foreground(self, name):
        """Until NAME leads the terminal's foreground group: a line typed
        before that would be read by the shell."""
        def fg():
            pg = int(harness.proc_stat(self.shell)[5])
            try:
                with open("/proc/%d/comm" % pg) as f:
                    return pg != self.shell and f.read().strip() == name
            except OSError:
                return False
        self.env.w.wait_until(fg, what="%s in the foreground of %s" % (name, self.tty))

    def __repr__(self):
        return "session of shell %d (holder %d)" % (self.shell, self.proc.pid)


def start_reptyrctl(env, h, *extra, name="C"):
    C = env.w.pty("%s-%d" % (name, h.shell), rows=30, cols=90)
    C.modes_before = C.termios()
    argv = rig.Rig.as_user([env.reptyrctl, "adopt", "--session", "--no-ask-password"]
                           + list(extra) + [str(h.shell)], "nobody")
    client = env.w.spawn_on_pty("reptyrctl", argv, C, ctty=True, env=env.rig.env(),
                                pdeathsig=False)
    C.close_slave()
    return C, client


def check_refused_root_holder(env):
    """Holder root, shell nobody's, caller nobody: adopt-any, refused."""
    expect(env.reptyrctl, "--reptyrctl not given")
    h = Held(env, holder_user=None, shell_user="nobody")
    try:
        h.type("echo before-$((1+1))", r"before-2\r?\n", "the session works in the holder")
        since = len(env.log_entries())
        C, client = start_reptyrctl(env, h)
        env.w.wait_exit([client], what="reptyrctl refusing", timeout=20)
        env.w.pump(0.05)
        msg = C.text()
        env.w.log("reptyrctl said: %s" % msg.strip().replace("\r\n", " | "))
        expect(client.exit_code() in (EXIT_PERMISSION, EXIT_INTERACTIVE_AUTH),
               "reptyrctl exited with %s, expected %d or %d; it said %r\n%s"
               % (harness.signal_name(client.exit_code()), EXIT_PERMISSION,
                  EXIT_INTERACTIVE_AUTH, msg, env.log_text()))
        expect(re.search(r"(?i)another user|holds? the terminal|held by|holder", msg),
               "reptyrctl's refusal does not say that another user's process holds the "
               "terminal: %r" % msg)
        expect(C.termios()[3] & termios.ICANON, "reptyrctl left C in raw mode after refusing")
        e = env.expect_logged_once(h.shell, r"^refused", NOBODY, action=ADOPT_ANY, since=since,
                                   caller_pid=client.pid, what="the refused session takeover")
        expect(e["mode"] == "session", "logged mode %r, expected session" % e["mode"])

        # Nothing changed: the holder has its master and shows the session.
        expect(h.proc.alive(), "the holder exited: %s" % h.proc.exit_code())
        expect(fd_link(h.proc.pid, h.master_fd) == "/dev/ptmx",
               "the holder's master fd %d is now %s" % (h.master_fd,
                                                        fd_link(h.proc.pid, h.master_fd)))
        expect(harness.proc_state(h.shell) not in (None, "Z"), "the shell %d is gone" % h.shell)
        expect(fd_link(h.shell, 0) == h.tty, "the shell's fd 0 is %s, was %s"
               % (fd_link(h.shell, 0), h.tty))
        h.type("echo after-$((2+2))", r"after-4\r?\n", "the session still works in the holder")
        expect("terminal gone" not in h.out.text(), "the holder lost its terminal: %r"
               % h.out.tail())
    finally:
        h.close()


def check_own_session_taken_over(env):
    """Holder and shell nobody's: nobody takes the session over."""
    expect(env.reptyrctl, "--reptyrctl not given")
    h = Held(env, holder_user="nobody", shell_user="nobody")
    try:
        # Inspect reports the holders and the session's processes. Their
        # values (type au) are beyond what bus-client prints and busctl
        # here cannot pass the pidfd Inspect takes: the keys are checked.
        # Inspect describes process mode: a helper of another word size than
        # the shell's (the -m32 tree's, with the system's 64-bit bash)
        # refuses that and says why, while session mode, which never
        # ptraces the shell, still works below.
        info = env.inspect(types.SimpleNamespace(pid=h.shell))
        ours, theirs = harness.elf_bits(args.reptyrd), harness.elf_bits("/proc/%d/exe" % h.shell)
        if ours == theirs:
            for key in ("holders", "session-processes"):
                expect(key in info, "Inspect reports no %r: %s" % (key, info))
        else:
            want = r"is a %s-bit program this \S+ build cannot adopt" % theirs
            expect(info.get("authorized") == "no" and re.search(want, info.get("reason", "")),
                   "a %s-bit helper's Inspect of the %s-bit shell: %s, expected a refusal "
                   "matching %r" % (ours, theirs, info, want))
        env.w.send(h.stdin, "cat | sed -u 's/^/PIPE /'\n")
        h.wait_foreground("cat")
        h.type("before", r"PIPE before\r?\n", "the pipeline works in the holder")
        since = len(env.log_entries())
        C, client = start_reptyrctl(env, h)
        env.w.wait_for(C, r"now on this terminal", what="reptyrctl's takeover message",
                       watch=[client], timeout=20)
        env.w.wait_until(lambda: not C.termios()[3] & termios.ICANON, what="C in raw mode")
        env.w.wait_for(h.out, r"HOLDER: terminal gone\r?\n", what="the holder loses the terminal",
                       watch=[h.proc])
        gone = h.out.mark()
        expect(fd_link(h.proc.pid, h.master_fd) == "/dev/null",
               "the holder's master fd is %s, expected /dev/null"
               % fd_link(h.proc.pid, h.master_fd))

        mark = C.mark()
        env.w.send(C, "from-C\n")
        env.w.wait_for(C, r"PIPE from-C\r?\n", since=mark, what="input on C reaches the pipeline",
                       watch=[client])
        mark = C.mark()
        env.w.send(C, b"\x03")
        env.w.wait_for(C, PROMPT_RX, since=mark, what="^C ends the pipeline, prompt on C",
                       watch=[client])
        mark = C.mark()
        env.w.send(C, "echo shell=$$ tty=$(tty)\n")
        m = env.w.wait_for(C, r"shell=(\d+) tty=(\S+)\r?\n", since=mark,
                           what="the shell answers on C", watch=[client])
        expect((int(m.group(1)), m.group(2)) == (h.shell, h.tty),
               "the shell is %s on %s, expected %d on %s" % (m.group(1), m.group(2), h.shell,
                                                             h.tty))
        env.expect_logged_once(h.shell, r"^adopted", NOBODY, action=ADOPT, since=since,
                               caller_pid=client.pid, what="the session takeover")

        # Again from D: the holder is now nobody's first reptyrctl, which
        # ends and gives C back as it was.
        since = len(env.log_entries())
        D, client2 = start_reptyrctl(env, h, name="D")
        env.w.wait_for(D, r"now on this terminal", what="the second takeover",
                       watch=[client2], timeout=20)
        env.w.wait_exit([client], what="the first reptyrctl ends after the second takeover")
        expect(client.exit_code() == 0, "the first reptyrctl exited with %s; it said %r"
               % (harness.signal_name(client.exit_code()), C.tail()))
        expect(C.termios() == C.modes_before,
               "C's modes not restored after the first reptyrctl ended")
        env.expect_logged_once(h.shell, r"^adopted", NOBODY, action=ADOPT, since=since,
                               caller_pid=client2.pid, what="the second session takeover")
        mark = D.mark()
        env.w.send(D, "echo on-D-$((2+3))\n")
        env.w.wait_for(D, r"on-D-5\r?\n", since=mark, what="the shell answers on D",
                       watch=[client2])

        mark = D.mark()
        env.w.send(D, "exit 5\n")
        env.w.wait_exit([client2], what="reptyrctl on D ends with the shell")
        expect(client2.exit_code() == 5, "reptyrctl exited with %s, expected the shell's 5; "
               "it said %r" % (harness.signal_name(client2.exit_code()), D.tail(mark)))
        expect(h.proc.alive(), "the holder exited: %s" % h.proc.exit_code())
        leaked = [l for l in h.out.text(gone).splitlines() if not l.startswith("HOLDER:")]
        expect(not leaked, "the holder showed session output after the takeover: %r" % leaked)
    finally:
        h.close()


def check_session_into_tmux(env):
    """reptyrctl adopt --session --tmux as nobody through the helper, with no
    terminal of its own (as from a script): the session moves into a new
    detached tmux session (nobody's own tmux server), the shell answers
    there, and reptyrctl exits 0 at once saying how to attach."""
    import shutil
    import subprocess
    import tempfile
    expect(env.reptyrctl, "--reptyrctl not given")
    if not shutil.which("tmux"):
        raise Skip("tmux is not installed")
    tmpdir = tempfile.mkdtemp(prefix="reptyr-tmux-")
    os.chown(tmpdir, NOBODY, -1)
    os.chmod(tmpdir, 0o700)
    tenv = {"TMUX_TMPDIR": tmpdir, "HOME": "/"}

    def tmux(*a):
        return env.rig.run(["tmux"] + list(a), user="nobody", env=tenv)

    h = Held(env, holder_user="nobody", shell_user="nobody")
    try:
        r = env.rig.run([env.reptyrctl, "adopt", "--session", "--tmux", "--no-ask-password",
                         str(h.shell)], user="nobody", env=tenv, timeout=30)
        expect(r.returncode == 0 and "tmux attach -t reptyr-%d" % h.shell in r.stdout,
               "reptyrctl adopt --session --tmux exited %d: %r %r\n%s"
               % (r.returncode, r.stdout, r.stderr, env.log_text()))
        target = re.search(r"tmux window (\S+?);", r.stdout).group(1)

        def pane():
            return tmux("capture-pane", "-p", "-t", target).stdout

        env.w.wait_for(h.out, r"HOLDER: terminal gone\r?\n", what="the holder loses the terminal",
                       watch=[h.proc])
        tmux("send-keys", "-t", target, "echo in-tmux-$((6*7))", "Enter")
        env.w.wait_until(lambda: "in-tmux-42" in pane(), what="the shell answers in tmux",
                         detail=pane)
        tmux("send-keys", "-t", target, "exit", "Enter")
    finally:
        h.close()
        tmux("kill-server")
        shutil.rmtree(tmpdir, ignore_errors=True)


def setup():
    if not args.holder:
        raise Skip("--holder not given")
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


checks = [
    ("a root holder (sshd, root tmux): nobody's session takeover needs adopt-any, refused "
     "without a password, nothing changed", check_refused_root_holder),
    ("nobody takes over its own session through the helper: Inspect reports holders, "
     "input flows, a second takeover works, reptyrctl ends with the shell's status",
     check_own_session_taken_over),
    ("nobody moves its session into a new tmux session through the helper (--session "
     "--tmux), with no terminal of its own", check_session_into_tmux),
]

bustest.run_checks(checks, setup)
