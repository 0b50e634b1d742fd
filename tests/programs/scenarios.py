#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Real programs behave as if they had been started here: one scenario per
run, in tmux (window A: where the program runs, window B: where reptyrctl
adopts it), with `reptyrctl adopt --direct` as root (--mode direct) or
through reptyrd on a private bus with real polkitd as the unprivileged
user reptyr-prog, whose own tmux server runs with TMUX_TMPDIR in a
directory it owns (--mode helper).

    scenarios.py --list
    scenarios.py --mode direct|helper --reptyrctl R [--reptyrd D --bus-policy ..
                 --polkit-policy .. --rules ..] CASE

Exit 0 pass, 1 fail (a FAIL line says what, and whose part: the engine or
the client), 77 skip (program or helper missing). Every wait polls a
condition against a deadline; everything started is ended by pid."""

import argparse
import os
import pwd
import re
import shlex
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import progtest as pt  # noqa: E402
from progtest import until  # noqa: E402
from testlib import Failure, Skip  # noqa: E402

FILE_TEXT = "line-one of the test file\nline-two\n"
ESC = "Escape"


def setup(c, shell="bash", user=True):
    """tmux with a shell in A and bash in B; in helper mode also the rig."""
    if c.mode == "helper":
        c.start_helper(user=user)
    if shell != "bash":
        pt.need(shell)
    t = pt.Tmux(c)
    t.start(pt.shell_cmd(shell, "A$ "))
    t.wait_text("A", r"A\$", "A's prompt", 10)
    t.window("B", pt.shell_cmd("bash", "B$ "))
    t.wait_text("B", r"B\$", "B's prompt")
    return t


def user_file(c, name, text):
    path = os.path.join(c.home(), name)
    with open(path, "w") as f:
        f.write(text)
    if c.user:
        pw = pwd.getpwnam(c.user)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def child_named(parent, name, what, timeout=5.0):
    def named(p):
        n = pt.comm(p) or ""
        return n == name or n.startswith(name + ":")  # tmux names itself "tmux: client"
    return until(lambda: next((p for p in pt.descendants(parent) if named(p)), None),
                 what, timeout)


def start_vim(c, t, window="A"):
    pt.need("vim")
    f = user_file(c, "file.txt", FILE_TEXT)
    t.type(window, "vim -u NONE -i NONE -N %s" % shlex.quote(f))
    shell = t.pane_pid(window)
    vim = c.own(child_named(shell, "vim", "vim started"))
    t.wait_text(window, "line-one", "vim drawn in " + window)
    return vim, f


def exit_code(t, w="B", timeout=10.0):
    m = t.wait_text(w, r"^EXIT=(\d+)", "reptyrctl's exit status in " + w, timeout)
    return int(m.group(1))


def stat(pid):
    f = pt.stat_fields(pid)
    return {"state": f[0], "ppid": int(f[1]), "pgrp": int(f[2]), "session": int(f[3]),
            "tpgid": int(f[5])} if f else None


def adopt(c, t, pid, *extra):
    t.type("B", c.adopt_cmd(pid, *extra))


def banner_check(t, mark):
    """reptyrctl's banner must not stay inside the program's screen."""
    screen = t.capture("B")
    after = screen.split(mark, 1)[-1] if mark in screen else screen
    before = screen.split(mark, 1)[0] if mark in screen else ""
    if "reptyrctl" in after or "reptyrctl" in before.split("\n", 1)[-1]:
        raise Failure("(client) reptyrctl's banner is inside the adopted program's screen in B:"
                      "\n%s" % screen.rstrip())


# ---- scenarios ----

def case_vim(c):
    """vim redraws in B without a keypress, with no banner inside its
    screen, and takes keys there."""
    t = setup(c)
    vim, path = start_vim(c, t)
    t0 = time.monotonic()
    adopt(c, t, vim)
    t.wait_text("B", "line-one", "vim redrawn in B without a keypress")
    c.log("vim redrawn in B %.0f ms after reptyrctl was typed" % ((time.monotonic() - t0) * 1000))
    t.wait_text("B", r"^~", "vim's empty-line markers in B")
    t.keys("B", "O", "typed-in-B", ESC)
    t.wait_text("B", "typed-in-B", "a key typed in B reaching vim")
    t.type("B", ":wq")
    code = exit_code(t)
    with open(path) as f:
        if "typed-in-B" not in f.read():
            raise Failure("vim's :wq in B did not write the file")
    if code != 0:
        raise Failure("reptyrctl exited %d after :wq" % code)
    # Checked last: the banner is the client's; the engine's part passed.
    banner_check(t, "line-one")


def case_prompt_back(c):
    """A's shell reports its job stopped, prompts again at once, in its own
    modes, with its own foreground group, and answers."""
    t = setup(c)
    tty_a = t.pane_tty("A")
    stty = lambda: subprocess.run("stty -g < " + tty_a, shell=True, capture_output=True,
                                  text=True).stdout
    modes = stty()
    shell = t.pane_pid("A")
    vim, _ = start_vim(c, t)
    adopt(c, t, vim)
    t.wait_text("B", "line-one", "vim redrawn in B")
    t.wait_text("A", r"Stopped.*\n(.*\n)*A\$", "A's shell reporting the job and prompting again")
    if stat(shell)["tpgid"] == stat(vim)["pgrp"]:
        raise Failure("A's foreground group is still vim's")
    until(lambda: stat(vim)["state"] in "SR", "vim running, not stopped",
          detail=lambda: stat(vim))
    until(lambda: stty() == modes, "A's terminal back in its shell's own modes",
          detail=lambda: "%r vs %r" % (stty(), modes))
    t.type("A", "echo alive$((40+2))")
    t.wait_text("A", r"^alive42", "A's shell answering")
    t.type("A", "jobs; echo JOBS-DONE")
    t.wait_text("A", r"^JOBS-DONE", "jobs in A")
    t.keys("B", ESC)
    t.type("B", ":q!")
    exit_code(t)


def case_python(c):
    """An interactive Python REPL adopted: typing works in B."""
    pt.need("python3")
    t = setup(c)
    t.type("A", "python3 -q")
    py = c.own(child_named(t.pane_pid("A"), "python3", "python3 started"))
    t.wait_text("A", r"^>>>", "python's prompt in A")
    adopt(c, t, py)
    t.wait_text("B", r"moved here from|^>>>", "reptyrctl done in B", 10)
    t.type("B", "print(6*7, 'from-B')")
    t.wait_text("B", r"^42 from-B", "python answering in B")
    t.type("B", "import sys; sys.exit(9)")
    code = exit_code(t)
    if code != 9:
        raise Failure("reptyrctl exited %d, expected python's 9" % code)
    t.type("A", "echo alive$((40+2))")
    t.wait_text("A", r"^alive42", "A's shell answering")


def job_case(shell):
    def case(c):
        """A job of SHELL: the old shell gets its prompt back, the job runs
        in B."""
        t = setup(c, shell)
        t.type("A", "sed -u s/^/JOB-/")
        job = c.own(child_named(t.pane_pid("A"), "sed", "the job started"))
        adopt(c, t, job)
        t.wait_text("B", r"moved here from|JOB-", "reptyrctl done in B", 10)
        t.type("B", "x1")
        t.wait_text("B", r"^JOB-x1", "the job answering in B")
        t.type("A", 'echo back""2')  # quoting every one of these shells reads alike
        t.wait_text("A", r"^back2", "A's shell (%s) answering" % shell)
        lines = [ln for ln in t.capture("A").splitlines() if ln.strip()]
        c.log("A (%s) shows: %r" % (shell, lines[-4:]))
        t.keys("B", "C-d")
        code = exit_code(t)
        if code != 0:
            raise Failure("reptyrctl exited %d after end-of-file, expected sed's 0" % code)
    case.__doc__ = "A %s job adopted: %s gets its prompt back, the job runs in B." % (shell, shell)
    return case


def case_pipeline_session(c):
    """A pipeline (cat | sed) in A, its whole session taken over: the
    pipeline runs in B, then the shell, and reptyrctl ends with it."""
    t = setup(c)
    shell = t.pane_pid("A")
    t.type("A", "cat | sed -u s/^/PIPE-/")
    child_named(shell, "sed", "the pipeline started")
    adopt(c, t, shell, "--session")
    t.wait_text("B", r"is now on this terminal", "the session taken over", 10)
    t.type("B", "p1")
    t.wait_text("B", r"^PIPE-p1", "the pipeline answering in B")
    t.keys("B", "C-d")
    t.wait_text("B", r"^A\$", "the session's shell prompting in B")
    t.type("B", "exit 3")
    code = exit_code(t)
    if code != 3:
        raise Failure("reptyrctl exited %d, expected the shell's 3" % code)


def ssh_login(c, t, sshd):
    t.type("A", sshd.client_cmd("env PS1='R$ ' bash --norc --noprofile -i"))
    t.wait_text("A", r"^R\$", "the remote prompt over ssh", 15)
    return c.own(until(lambda: next((p for p in pt.descendants(sshd.proc.pid)
                                     if pt.comm(p) == "bash"), None), "the remote shell"))


def ssh_session_taken_over(c, t):
    """An ssh login in A, taken over with --session into B: the remote
    shell answers there, and its exit status is reptyrctl's."""
    s = pt.Sshd(c)
    s.start()
    rsh = ssh_login(c, t, s)
    adopt(c, t, rsh, "--session")
    t.wait_text("B", r"is now on this terminal", "the session taken over", 10)
    t.type("B", "echo hi$((40+2))")
    t.wait_text("B", r"^hi42", "the remote shell answering in B")
    t.type("B", "exit 5")
    code = exit_code(t)
    if code != 5:
        raise Failure("reptyrctl exited %d, expected the shell's 5" % code)


def case_ssh_session(c):
    """An ssh session (sshd holds its master) taken over with --session."""
    if c.mode == "direct":
        # direct: root takes it over.
        ssh_session_taken_over(c, setup(c))
        return
    # helper: the user's own shell, but sshd's monitor is root's: adopt-any,
    # refused without a password; --direct: the kernel's refusal, named.
    t = setup(c)
    s = pt.Sshd(c)
    s.start()
    rsh = ssh_login(c, t, s)
    adopt(c, t, rsh, "--session")
    code = exit_code(t)
    screen = t.capture("B")
    if code != pt.EXIT_INTERACTIVE_AUTH or "held by" not in screen:
        raise Failure("the user's takeover of its own ssh session (sshd is root's) through the "
                      "helper: expected exit %d, a password needed because of the holder; got "
                      "%d:\n%s" % (pt.EXIT_INTERACTIVE_AUTH, code, screen.rstrip()))
    t.type("B", "clear")
    t.type("B", "%s adopt --direct --session %d; echo EXIT=$?" % (c.reptyrctl, rsh))
    code = exit_code(t)
    screen = t.capture("B")
    if code != pt.EXIT_PERMISSION or "sshd" not in screen or "look at" not in screen:
        raise Failure("--direct by the user: expected exit %d naming sshd as the holder it may "
                      "not look at; got %d:\n%s" % (pt.EXIT_PERMISSION, code, screen.rstrip()))
    c.log("--direct refusal: %s" % " ".join(screen.split()))
    t.type("A", "echo still$((1+1))")
    t.wait_text("A", r"^still2", "the ssh session untouched in A")


def case_ssh_session_root(c):
    """Root takes an ssh session over through the helper (polkit: root)."""
    if c.mode == "direct":
        raise Skip("covered by ssh-session (direct)")
    ssh_session_taken_over(c, setup(c, user=False))


def multiplexer_case(kind):
    def case(c):
        t = setup(c)
        pt.need(kind)
        inner = os.path.join(c.home(), "inner")
        if kind == "tmux":
            t.type("A", "env -u TMUX tmux -S %s -f /dev/null new-session -s inner %s"
                   % (inner, shlex.quote(pt.shell_cmd("bash", "IN$ "))))
            advice = "tmux attach"
        else:
            sdir = os.path.join(c.home(), "screens")
            name = "inner%d" % os.getpid()
            t.type("A", "mkdir -m 700 %s; SCREENDIR=%s screen -S %s %s"
                   % (sdir, sdir, name, pt.shell_cmd("bash", "IN$ ")))
            advice = "screen -x"
        shell = t.pane_pid("A")
        client = child_named(shell, kind if kind == "tmux" else "screen",
                             "the %s client started" % kind)
        # its server: tmux tells; screen's backend is the SCREEN process
        # that carries our unique session name
        if kind == "tmux":
            server = until(lambda: _tmux_server(inner, c), "the tmux server")
        else:
            server = until(lambda: _screen_backend(name), "the SCREEN backend")
        c.own(server)
        c.own(client)
        t.wait_text("A", r"^IN\$", "the %s client drawn" % kind, 10)
        adopt(c, t, client)
        code = exit_code(t)
        screen = t.capture("B")
        if code != pt.EXIT_HAS_CHILDREN or advice not in screen or str(server) not in screen:
            raise Failure("adopting the %s client: expected exit %d, naming server %d and "
                          "advising `%s`; got %d:\n%s"
                          % (kind, pt.EXIT_HAS_CHILDREN, server, advice, code, screen.rstrip()))
        c.log("refusal: %s" % " ".join(screen.split()))
        if not pt.alive(client) or stat(client)["state"] not in "SR":
            raise Failure("the %s client is not as it was: %s" % (kind, stat(client)))
        # Untouched: the inner session still answers in A.
        t.type("A", "echo inner$((2+3))")
        t.wait_text("A", r"^inner5", "the %s session still answering in A" % kind)
    case.__doc__ = ("A %s client is refused (exit 67) with advice to attach instead, and "
                    "left as it was." % kind)
    return case


def _screen_backend(name):
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d) as f:
                    argv = f.read().split("\0")
            except OSError:
                continue
            if argv[0] == "SCREEN" and name in argv:
                return int(d)
    return None


def _tmux_server(sock, c):
    def find():
        r = subprocess.run(c.as_user(["tmux", "-S", sock, "display", "-p", "#{pid}"]),
                           env=c.env(), capture_output=True, text=True)
        return int(r.stdout) if r.stdout.strip().isdigit() else None
    return find()


def case_ctrl_z_vim(c):
    """vim in B: ^Z suspends it and gives B's shell back; fg resumes it and
    it redraws."""
    t = setup(c)
    vim, _ = start_vim(c, t)
    adopt(c, t, vim)
    t.wait_text("B", "line-one", "vim redrawn in B")
    t.wait_text("B", r"^~", "vim's screen in B")
    t.keys("B", "C-z")
    try:
        t.wait_text("B", r"^B\$ *$", "(client) B's shell prompting after ^Z")
        t.type("B", "clear; echo CLEARED")
        t.wait_text("B", r"^CLEARED", "(client) B's shell answering while vim is suspended")
        # The ^Z ended the command list the adoption was typed in (bash
        # goes on with the rest of a list when a job in it stops), so the
        # status is fg's now.
        t.type("B", "fg; echo EXIT=$?")
        t.wait_text("B", "line-one", "(client) vim redrawn after fg")
        t.keys("B", "O", "after-fg", ESC)
        t.wait_text("B", "after-fg", "(client) keys reaching vim after fg")
    except Failure as e:
        raise Failure("the client's ^Z/fg (reptyrctl's relay suspends itself): %s" % e)
    t.type("B", ":q!")
    exit_code(t)


def hup_case(how):
    def case(c):
        if how == "ssh-drop":
            t = setup(c)
            s = pt.Sshd(c)
            s.start()
            ssh_login(c, t, s)
            # the ssh login's user owns the file and its directory (the swap
            # file goes next to it)
            pw = pwd.getpwnam(pt.PROG_USER)
            d = os.path.join(c.tmp, "ssh-files")
            os.mkdir(d, 0o700)
            os.chown(d, pw.pw_uid, pw.pw_gid)
            f = os.path.join(d, "file.txt")
            with open(f, "w") as fh:
                fh.write(FILE_TEXT)
            os.chown(f, pw.pw_uid, pw.pw_gid)
            t.type("A", "vim -u NONE -i NONE -N %s" % shlex.quote(f))
            vim = c.own(until(lambda: next((p for p in pt.descendants(s.proc.pid)
                                            if pt.comm(p) == "vim"), None), "vim started"))
            t.wait_text("A", "line-one", "vim drawn in A over ssh")
        else:
            t = setup(c)
            vim, f = start_vim(c, t)
        old_shell = stat(vim)["ppid"]
        adopt(c, t, vim)
        t.wait_text("B", "line-one", "vim redrawn in B")
        t.wait_text("B", r"^~", "vim's screen in B")
        t.keys("B", "O", "unsaved-%s" % how, ESC)
        t.wait_text("B", "unsaved-%s" % how, "keys reaching vim in B")
        # A goes away
        if how == "kill-window":
            t.tm("kill-window", "-t", t.target("A"))
        elif how == "kill-shell":
            os.kill(old_shell, signal.SIGKILL)
        else:
            sess = [p for p in s.session_processes() if "@" in
                    open("/proc/%d/cmdline" % p).read()]
            if not sess:
                raise Failure("no sshd session process found")
            os.kill(sess[0], signal.SIGKILL)
        until(lambda: not pt.alive(old_shell), "A's shell gone", 10)
        # the adopted vim lives on in B
        t.keys("B", "o", "after-%s" % how, ESC)
        t.wait_text("B", "after-%s" % how, "vim still answering in B after A went away")
        if not pt.alive(vim):
            raise Failure("vim died when A went away")

        def sighup_ignored():
            with open("/proc/%d/status" % vim) as fh:
                ign = next(ln for ln in fh if ln.startswith("SigIgn:")).split()[1]
            return int(ign, 16) & (1 << (signal.SIGHUP - 1))
        # vim does not ignore SIGHUP itself: the adoption did, while A's
        # shell could still send it one; gone, it must have it back, so
        # that B's hangup reaches it as a hangup.
        until(lambda: not sighup_ignored(), "vim's own SIGHUP action given back once A's "
              "session is gone (the adopter's hangup watch)", 10)
        # B closes: vim must preserve its changes in its swap file
        swp = os.path.join(os.path.dirname(f), ".%s.swp" % os.path.basename(f))
        if not os.path.exists(swp):
            c.log("no swap file yet before B closes (vim writes it on idle or on hangup)")
        t.tm("kill-window", "-t", t.target("B"))
        until(lambda: not pt.alive(vim), "vim ending once B is closed", 10,
              detail=lambda: stat(vim))
        if not os.path.exists(swp):
            raise Failure("vim left no swap file %s when its terminal B hung up: its changes "
                          "are lost" % swp)
        with open(swp, "rb") as fh:
            data = fh.read()
        if ("unsaved-%s" % how).encode() not in data:
            raise Failure("vim's swap file %s lacks the unsaved change (%d bytes)"
                          % (swp, len(data)))
        c.log("vim preserved its change in %s (%d bytes)" % (swp, len(data)))
    case.__doc__ = ("vim adopted into B lives on when A goes away (%s), then preserves its "
                    "unsaved change in its swap file when B closes." % how)
    return case


CASES = {
    "vim": case_vim,
    "prompt-back": case_prompt_back,
    "python": case_python,
    "job-bash": job_case("bash"),
    "job-zsh": job_case("zsh"),
    "job-fish": job_case("fish"),
    "job-dash": job_case("dash"),
    "pipeline-session": case_pipeline_session,
    "ssh-session": case_ssh_session,
    "ssh-session-root": case_ssh_session_root,
    "tmux-client-refused": multiplexer_case("tmux"),
    "screen-client-refused": multiplexer_case("screen"),
    "ctrl-z-vim": case_ctrl_z_vim,
    "hup-kill-window": hup_case("kill-window"),
    "hup-kill-shell": hup_case("kill-shell"),
    "hup-ssh-drop": hup_case("ssh-drop"),
}
DIRECT_ONLY = set()
HELPER_ONLY = {"ssh-session-root"}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--mode", choices=("direct", "helper"), default="direct")
    ap.add_argument("--reptyrctl")
    ap.add_argument("--reptyrd")
    ap.add_argument("--bus-policy")
    ap.add_argument("--polkit-policy")
    ap.add_argument("--default-rules", dest="rules")
    ap.add_argument("case", nargs="?")
    args = ap.parse_args()
    if args.list:
        for name in CASES:
            for mode in ("direct", "helper"):
                if (mode == "direct" and name in HELPER_ONLY) or \
                        (mode == "helper" and name in DIRECT_ONLY):
                    continue
                print("%s %s" % (name, mode))
        return 0
    if args.case not in CASES:
        ap.error("unknown case %r (see --list)" % args.case)
    if os.geteuid() != 0:
        print("SKIP: needs root (tmux, sshd, users through setpriv, the rig)")
        return 77
    c = pt.Ctx(args)
    try:
        CASES[args.case](c)
        print("PASS %s (%s)" % (args.case, args.mode))
        return 0
    except Skip as e:
        print("SKIP: %s" % e)
        return 77
    except Failure as e:
        print("FAIL %s (%s): %s" % (args.case, args.mode, e))
        return 1
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(main())
