#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A real full-screen program in tmux window A, adopted from window B with
`reptyrctl adopt --direct`: B must show the program's screen without a
keypress (latency printed), A's shell must report the job stopped and
prompt again with sane modes, A's foreground group must not be the
program's, and the program must run (not stopped). Cleans up by pid."""
import os, select, shutil, subprocess, sys, tempfile, time

REPTYRCTL, PROG = sys.argv[1], sys.argv[2]
# The editors open a private copy of /etc/passwd, never the real one: a vim
# killed by an earlier run leaves a swap file beside what it edited, and the
# next vim on that file waits at its E325 prompt instead of drawing the file
# (seen in CI). vim also runs without a swap file (-n) or viminfo (-i NONE).
ARGV = {"vim": "vim -u NONE -i NONE -n FILE", "nano": "nano FILE", "htop": "htop",
        "less": "less FILE", "top": "top", "mc": "mc", "emacs": "emacs -nw -Q FILE"}
MARK = {"vim": "root:x:0", "nano": "passwd", "htop": "Tasks:", "less": "root:x:0",
        "top": "Tasks:", "mc": "Left", "emacs": "root:x:0"}
if os.geteuid() != 0:
    print("SKIP: needs root for --direct on a tmux-started program"); sys.exit(77)
for tool in ("tmux", ARGV[PROG].split()[0]):
    if not shutil.which(tool):
        print("SKIP: %s is not installed" % tool); sys.exit(77)
SOCK = "rp-test-%d" % os.getpid()
WORK = tempfile.mkdtemp(prefix="rp-redraw-")
shutil.copyfile("/etc/passwd", os.path.join(WORK, "passwd"))
COMMAND = ARGV[PROG].replace("FILE", os.path.join(WORK, "passwd"))


def tm(*a):
    return subprocess.run(["tmux", "-L", SOCK] + list(a), capture_output=True, text=True).stdout


def until(cond, what, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.01)
    for w in ("t:0", "t:1"):  # what the windows showed, for the log
        sys.stderr.write("--- window %s ---\n%s" % (w, tm("capture-pane", "-p", "-t", w)))
    raise SystemExit("FAIL: %s not reached within %.1fs" % (what, timeout))


pid = None
try:
    tm("-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "-s", "t",
       "env PS1='PROMPT$ ' bash --norc --noprofile -i")
    until(lambda: "PROMPT$" in tm("capture-pane", "-p", "-t", "t:0"), "bash prompt in A")
    tty_a = tm("display", "-p", "-t", "t:0", "#{pane_tty}").strip()
    stty = lambda: subprocess.run("stty -g < " + tty_a, shell=True, capture_output=True,
                                  text=True).stdout
    modes_before = stty()  # bash's own modes at its prompt
    tm("send-keys", "-t", "t:0", "TERM=xterm-256color " + COMMAND, "Enter")
    shell = int(tm("display", "-p", "-t", "t:0", "#{pane_pid}"))
    tty_a = tm("display", "-p", "-t", "t:0", "#{pane_tty}").strip()
    pid = until(lambda: (subprocess.run(["pgrep", "-P", str(shell)], capture_output=True,
                                        text=True).stdout.split() or [None])[0], "program started")
    pid = int(pid)
    # Before adoption, nothing of ours runs yet: a program slow to start on
    # a loaded machine (mc starts a subshell first) gets longer.
    until(lambda: MARK[PROG] in tm("capture-pane", "-p", "-t", "t:0"), "program drawn in A", 20.0)
    tm("new-window", "-t", "t:1", "env PS1='B$ ' bash --norc --noprofile -i")
    until(lambda: "B$" in tm("capture-pane", "-p", "-t", "t:1"), "bash prompt in B")
    t0 = time.monotonic()
    tm("send-keys", "-t", "t:1", "%s adopt --direct %d; echo EXIT=$?" % (REPTYRCTL, pid), "Enter")
    until(lambda: MARK[PROG] in tm("capture-pane", "-p", "-t", "t:1"), "program redrawn in B")
    print("redraw in B after %.0f ms (reptyrctl start included)" % ((time.monotonic() - t0) * 1000))
    until(lambda: "Stopped" in tm("capture-pane", "-p", "-t", "t:0"), "A's shell reporting the job")
    stat = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    tpgid_a = int(open("/proc/%d/stat" % shell).read().rsplit(")", 1)[1].split()[5])
    if tpgid_a == int(stat[2]):
        raise SystemExit("FAIL: A's foreground group is still the program's")
    until(lambda: open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] in "SR",
          "program running (not stopped)")
    until(lambda: stty() == modes_before, "A back in its shell's own modes")
    tm("send-keys", "-t", "t:0", "echo alive$((40+2))", "Enter")
    until(lambda: "alive42" in tm("capture-pane", "-p", "-t", "t:0"), "A's shell answering")
    screen_b = tm("capture-pane", "-p", "-t", "t:1")
    if "reptyrctl" in screen_b.split(MARK[PROG], 1)[-1]:
        print("NOTE (client): reptyrctl's banner is inside the program's screen")
    print("PASS")
finally:
    tm("kill-server")
    if pid:
        try:  # gone before the next run starts, and before WORK goes
            fd = os.pidfd_open(pid)
            os.kill(pid, 9)
            select.select([fd], [], [], 5.0)
            os.close(fd)
        except ProcessLookupError:
            pass
    shutil.rmtree(WORK, ignore_errors=True)
