# SPDX-License-Identifier: MIT
"""A victim for the desktop tests: python3 victim.py LOG [nohup] [MARKER].

Makes its stdin terminal its controlling terminal (it is started in a new
session on a pty the test holds), then logs to LOG, one line each, flushed:

    READY <tty>             at start
    LINE <text>             each line read from stdin
    WINCH <rows> <cols>     each SIGWINCH, with the size its terminal has then
    HUP                     SIGHUP (ignored with 'nohup')

"exit N" read from stdin exits with status N. MARKER only makes the command
line findable.
"""

import fcntl
import os
import signal
import struct
import sys
import termios

log = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
nohup = "nohup" in sys.argv[2:]


def say(text):
    os.write(log, (text + "\n").encode())


def on_winch(sig, frame):
    rows, cols = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    say(f"WINCH {rows} {cols}")


def on_hup(sig, frame):
    say("HUP")
    if not nohup:
        os._exit(129)


try:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
except OSError:
    pass
signal.signal(signal.SIGWINCH, on_winch)
signal.signal(signal.SIGHUP, signal.SIG_IGN if nohup else on_hup)
say(f"READY {os.ttyname(0)}")
while True:
    try:
        line = sys.stdin.readline()
    except OSError:  # a hung-up terminal: wait to be adopted
        signal.pause()
        continue
    if not line:
        signal.pause()
        continue
    line = line.rstrip("\n")
    say(f"LINE {line}")
    if line.startswith("exit "):
        sys.exit(int(line.split()[1]))
