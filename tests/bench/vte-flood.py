# SPDX-License-Identifier: MIT
"""The flood of the VTE benchmark: vte-flood.py now|winch BYTES RESULT.

Puts its terminal in raw mode, writes BYTES of text lines to it, then asks
the terminal for the cursor position (DSR, ESC [ 6 n) and waits for the
answer: a terminal answers only once it has processed everything before
the question, so the time until the answer is the time the widget took to
take in the flood, not just the time to fill the pty's buffer. Writes
"BYTES SECONDS" to RESULT.

"now" starts at once (a child of the terminal); "winch" waits for the
SIGWINCH that adoption sends, so that the flood goes to the new terminal.
"""

import os
import signal
import sys
import termios
import time
import tty

when, total, result = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if when == "winch":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
    signal.sigwait({signal.SIGWINCH})
saved = termios.tcgetattr(0)
tty.setraw(0)
line = b"".join(b"%06d flood of the desktop benchmark: the quick brown fox jumps\r\n" % i
                for i in range(1024))
start = time.monotonic()
sent = 0
while sent < total:
    chunk = line[:min(len(line), total - sent)]
    sent += os.write(1, chunk)
os.write(1, b"\x1b[6n")
answer = b""
while not answer.endswith(b"R"):
    answer += os.read(0, 32)
elapsed = time.monotonic() - start
termios.tcsetattr(0, termios.TCSANOW, saved)
with open(result + ".tmp", "w") as f:
    f.write(f"{sent} {elapsed:.6f}\n")
os.rename(result + ".tmp", result)
