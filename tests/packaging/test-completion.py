# SPDX-License-Identifier: MIT
"""The bash completion of reptyrctl, loaded in a non-interactive bash
(suite 'packaging').

  test-completion.py bash FILE

Sources FILE in `bash --norc --noprofile`, calls the completion function the
way readline would (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT) and checks
the candidates: the verbs, each verb's options, --fds values, and for adopt
and inspect the PID of a process this test starts on a pseudo-terminal of
its own (a process of this user with a terminal), alone when its PID is
typed in full and with its command name among several.

Exit status 0 = pass, 1 = fail, 77 = cannot run here (reason printed).
"""

import os
import pty
import shutil
import signal
import subprocess
import sys

failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures += 1


def complete(script, words, cword=None):
    """Candidates for the command line WORDS with the cursor at the end of
    word CWORD (default: the last). Words are split as readline splits
    them: '=' is a word of its own."""
    if cword is None:
        cword = len(words) - 1
    line = " ".join(words[: cword + 1])
    prog = (
        'source "$1"; shift\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$CW; COMP_LINE=$CL; COMP_POINT=${#CL}\n'
        "COMP_TYPE=9 COMP_KEY=9\n"
        "_reptyrctl reptyrctl \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = dict(os.environ, CW=str(cword), CL=line, LC_ALL="C")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog, "bash", script] + words,
                       capture_output=True, text=True, env=env, timeout=30)
    if r.returncode != 0 or r.stderr.strip():
        print(f"bash exited {r.returncode}: {r.stderr.strip()}")
        return None
    return [c for c in r.stdout.split("\n") if c]


def start_on_pty():
    """A `sleep` of ours on a new pty, as its controlling terminal (ps shows
    it with a tty). Returns (pid, master fd)."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp("sleep", ["sleep", "300"])
        finally:
            os._exit(127)
    return pid, master


def wait_for_exec(pid, comm, deadline_s=10):
    """Until /proc/PID/comm is COMM (the child has exec'd), polling a
    condition under a deadline."""
    import time
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == comm:
                    return True
        except OSError:
            return False
        time.sleep(0.01)
    return False


def cmd_bash(script):
    if not shutil.which("bash"):
        print("SKIP: no bash")
        sys.exit(77)
    if not shutil.which("ps"):
        print("SKIP: no ps (Debian package: procps); the completion lists processes with it")
        sys.exit(77)

    c = complete(script, ["reptyrctl", ""])
    check(c == ["adopt", "inspect", "pty", "list"], f"verbs: {c}")
    c = complete(script, ["reptyrctl", "in"])
    check(c == ["inspect"], f"'in' -> inspect: {c}")
    c = complete(script, ["reptyrctl", "-q", "a"])
    check(c == ["adopt"], f"verb after a global option: {c}")

    c = complete(script, ["reptyrctl", "adopt", "--"]) or []
    for o in ["--direct", "--session", "--no-ask-password", "--fds=", "--dry-run", "--tmux",
              "--tmux=", "--help", "--quiet"]:
        check(o in c, f"adopt option {o} offered")
    check("--json" not in c, "adopt: no --json")
    c = complete(script, ["reptyrctl", "inspect", "--j"])
    check(c == ["--json"], f"inspect --j -> --json: {c}")
    c = complete(script, ["reptyrctl", "list", "--"]) or []
    check("--json" in c and "--all" in c, f"list options: {c}")
    c = complete(script, ["reptyrctl", "pty", "--s"])
    check(c == ["--stdio"], f"pty --s -> --stdio: {c}")
    c = complete(script, ["reptyrctl", "pty", "--", "bas"]) or []
    check("bash" in c, f"pty -- bas -> a command (bash among {len(c)})")
    c = complete(script, ["reptyrctl", "adopt", "--fds", "=", ""])
    check(c == ["terminal", "stdio"], f"--fds= values: {c}")
    c = complete(script, ["reptyrctl", "adopt", "--fds", "=", "st"])
    check(c == ["stdio"], f"--fds=st -> stdio: {c}")

    # Two processes on terminals of their own: so at least two candidates,
    # which are then listed with their command names.
    procs = [start_on_pty() for _ in range(2)]
    pid, pid2 = procs[0][0], procs[1][0]
    try:
        if not all(wait_for_exec(p, "sleep") for p, _ in procs):
            check(False, "the test's sleeps did not start")
            return
        c = complete(script, ["reptyrctl", "adopt", str(pid)])
        check(c == [str(pid)] or (c and all(x.startswith(str(pid)) for x in c)
                                  and f"{pid} sleep" in c),
              f"adopt {pid} -> that pid: {c}")
        c = complete(script, ["reptyrctl", "inspect", "--json", str(pid2)])
        check(c == [str(pid2)] or (c and f"{pid2} sleep" in c),
              f"inspect --json {pid2} -> that pid: {c}")
        c = complete(script, ["reptyrctl", "adopt", ""]) or []
        check(f"{pid} sleep" in c and f"{pid2} sleep" in c,
              f"adopt <TAB>: '{pid} sleep' and '{pid2} sleep' among {len(c)} candidates")
        check(all(x.split(" ", 1)[0].isdigit() for x in c), "every candidate starts with a pid")
        check(str(os.getpid()) not in [x.split(" ", 1)[0] for x in c] or os.isatty(0),
              "a process without a terminal (this test) is not offered")
        c = complete(script, ["reptyrctl", "adopt", str(pid), ""])
        check(c == [], f"nothing after the pid: {c}")
    finally:
        for p, master in procs:
            os.kill(p, signal.SIGKILL)
            os.waitpid(p, 0)
            os.close(master)


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "bash":
        print(__doc__)
        sys.exit(2)
    cmd_bash(sys.argv[2])
    if failures:
        print(f"FAIL: {failures} check(s) failed")
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
