# SPDX-License-Identifier: MIT
"""A raw D-Bus client of reptyrd for test-attack-disconnect.py and
test-attack-extra-fds.py, run as an unprivileged user: it speaks the wire
protocol itself (no sd-bus, no python3-dbus) so that it controls exactly
when it disconnects, whether it reads its replies, and how many fds ride
along with a call.

    attack3-client.py close-after PID UNTIL
        Adopt(pidfd of PID) with interactive authorization allowed, then
        disconnect once UNTIL holds, steps separated by commas: "sent"
        (at once), "ms:N" (N ms later), "file:PATH" (PATH exists) or
        "reply" (the reply has arrived; its master fd is closed unused).
    attack3-client.py extra-fds PID N [park]
        Adopt whose message carries N fds (the pidfd and N-1 more) while
        its signature names one; prints the answer as JSON; with "park",
        prints "PARKED" once sent and waits for stdin to close before
        reading the answer.
    attack3-client.py park-many PID N FDS
        N connections, each with one such Adopt carrying FDS fds, never
        read: prints "PARKED n", waits for stdin to close, then prints a
        JSON count of the answers by error name.
    attack3-client.py wrong-sig PID N
        Adopt with signature "hha{sv}"... (N 'h' args): the answer.
    attack3-client.py fds-to KIND MEMBER NFDS
        A method call (KIND "call") or unicast signal ("signal") of
        org.reptyr.Reptyr1.MEMBER, or of org.freedesktop.DBus.Peer.Ping
        for MEMBER "Ping", carrying NFDS fds of /dev/null (signature "h"
        if NFDS > 0): a call's answer as JSON; "SENT" for a signal.
    attack3-client.py linger MEMBER
        MEMBER (Adopt or Inspect) whose "pidfd" is a TCP socket told to
        linger an hour with its send queue full (its peer, kept open here,
        never reads), our own copy closed once sent: its last close would
        wait. Prints "SENT", then the answer as JSON, and waits for stdin
        to close (the peer lives until then).

Standard library only (os.pidfd_open, socket.send_fds: Python >= 3.9).
"""

import errno
import json
import resource
import os
import select
import socket
import struct
import sys
import time

BUS = "org.reptyr.Reptyr1"
PATH = "/org/reptyr/Reptyr1"


def align(buf, n):
    return buf + b"\0" * ((-len(buf)) % n)


def field(code, sig, value):
    out = struct.pack("<B", code) + struct.pack("<B", len(sig)) + sig.encode() + b"\0"
    if sig in ("s", "o"):
        v = value.encode()
        out = align(out, 4) + struct.pack("<I", len(v)) + v + b"\0"
    elif sig == "g":
        v = value.encode()
        out += struct.pack("<B", len(v)) + v + b"\0"
    elif sig == "u":
        out = align(out, 4) + struct.pack("<I", value)
    return out


def message(serial, dest, path, iface, member, sig="", body=b"", n_fds=0, flags=0):
    fields = []
    for code, s, v in ((1, "o", path), (2, "s", iface), (3, "s", member), (6, "s", dest)):
        fields.append(field(code, s, v))
    if sig:
        fields.append(field(8, "g", sig))
    if n_fds:
        fields.append(field(9, "u", n_fds))
    arr = b""
    for f in fields:
        arr = align(arr, 8) + f
    head = struct.pack("<cBBBII", b"l", 1, flags, 1, len(body), serial)
    head += struct.pack("<I", len(arr)) + arr
    return align(head, 8) + body


class Conn:
    def __init__(self):
        addr = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/system_bus_socket")
        path = dict(kv.split("=", 1) for kv in addr.split(":", 1)[1].split(","))["path"]
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        self.expect(b"OK")
        self.s.sendall(b"NEGOTIATE_UNIX_FD\r\n")
        self.expect(b"AGREE_UNIX_FD")
        self.s.sendall(b"BEGIN\r\n")
        self.serial = 0
        self.buf = b""
        self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "Hello")

    def expect(self, what):
        line = b""
        while not line.endswith(b"\r\n"):
            c = self.s.recv(1)
            if not c:
                raise SystemExit("the bus closed during authentication")
            line += c
        if not line.startswith(what):
            raise SystemExit("authentication: %r" % line)

    def send(self, *a, fds=(), **kw):
        self.serial += 1
        data = message(self.serial, *a, n_fds=len(fds), **kw)
        while fds:
            try:
                socket.send_fds(self.s, [data], list(fds))
                break
            except OSError as e:
                # Our user's fds in flight (not yet received by the bus)
                # are bounded by RLIMIT_NOFILE: wait for the bus to read.
                if e.errno != errno.ETOOMANYREFS:
                    raise
                time.sleep(0.001)
        else:
            self.s.sendall(data)
        return self.serial

    def read_message(self):
        """(type, reply_serial, error_name, signature, body) of the next
        message; fds that come with it are closed."""
        while True:
            if len(self.buf) >= 16:
                body_len, _, fields_len = struct.unpack_from("<III", self.buf, 4)
                total = ((16 + fields_len + 7) & ~7) + body_len
                if len(self.buf) >= total:
                    break
            data, fds, _, _ = socket.recv_fds(self.s, 65536, 64)
            for fd in fds:
                os.close(fd)
            if not data:
                raise EOFError
            self.buf += data
        mtype = self.buf[1]
        body_len, _, fields_len = struct.unpack_from("<III", self.buf, 4)
        start = (16 + fields_len + 7) & ~7
        fields = self.buf[16:16 + fields_len]
        body = self.buf[start:start + body_len]
        self.buf = self.buf[start + body_len:]
        info = {}
        i = 0
        while i < len(fields):
            i = (i + 7) & ~7
            code = fields[i]
            slen = fields[i + 1]
            sig = fields[i + 2:i + 2 + slen].decode()
            i += 3 + slen
            if sig in ("s", "o"):
                i = (i + 3) & ~3
                (n,) = struct.unpack_from("<I", fields, i)
                info[code] = fields[i + 4:i + 4 + n].decode()
                i += 5 + n
            elif sig == "g":
                n = fields[i]
                info[code] = fields[i + 1:i + 1 + n].decode()
                i += 2 + n
            elif sig == "u":
                i = (i + 3) & ~3
                (info[code],) = struct.unpack_from("<I", fields, i)
                i += 4
            else:
                break
        return mtype, info.get(5), info.get(4), info.get(8, ""), body

    def wait_reply(self, serial):
        while True:
            mtype, rs, err, sig, body = self.read_message()
            if rs != serial:
                continue
            if mtype == 3:
                msg = ""
                if sig.startswith("s"):
                    (n,) = struct.unpack_from("<I", body, 0)
                    msg = body[4:4 + n].decode(errors="replace")
                return {"ok": False, "error": err, "message": msg}
            return {"ok": True, "signature": sig}

    def call(self, *a, **kw):
        return self.wait_reply(self.send(*a, **kw))


def adopt_body(n_h=1):
    # n_h fd indexes (u32 each), then an empty a{sv}: length 0, padded to 8.
    body = b"".join(struct.pack("<I", i) for i in range(n_h))
    body = align(body, 4) + struct.pack("<I", 0)
    return align(body, 8)


def send_adopt(c, pidfd, extra=(), n_h=1, interactive=True):
    return c.send(BUS, PATH, BUS, "Adopt", sig="h" * n_h + "a{sv}", body=adopt_body(n_h),
                  fds=[pidfd] + list(extra), flags=4 if interactive else 0)


def lingering_socket():
    """A connected TCP socket whose close() would wait an hour, and its
    peer (which never reads)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(srv.getsockname())
    peer, _ = srv.accept()
    srv.close()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    try:
        while True:
            s.send(b"x" * 65536)
    except BlockingIOError:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 3600))
    return s, peer


def linger(member):
    c = Conn()
    s, peer = lingering_socket()
    if member == "Adopt":
        serial = c.send(BUS, PATH, BUS, "Adopt", sig="ha{sv}", body=adopt_body(),
                        fds=[s.fileno()])
    else:
        serial = c.send(BUS, PATH, BUS, member, sig="h", body=struct.pack("<I", 0),
                        fds=[s.fileno()])
    s.close()
    print("SENT", flush=True)
    print(json.dumps(c.wait_reply(serial)), flush=True)
    sys.stdin.read()
    peer.close()
    return 0


def fds_to(kind, member, nfds):
    c = Conn()
    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(nfds)]
    iface = "org.freedesktop.DBus.Peer" if member == "Ping" else BUS
    sig, body = ("h", struct.pack("<I", 0)) if nfds else ("", b"")
    if kind == "signal":
        c.serial += 1
        data = message(c.serial, BUS, PATH, iface, member, sig=sig, body=body, n_fds=nfds)
        data = data[:1] + bytes([4]) + data[2:]  # message type 4: a signal
        if fds:
            socket.send_fds(c.s, [data], fds)
        else:
            c.s.sendall(data)
        # A call to the bus after it: once answered, the signal was handled.
        c.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId")
        print("SENT", flush=True)
    else:
        print(json.dumps(c.wait_reply(c.send(BUS, PATH, iface, member, sig=sig, body=body,
                                             fds=fds))), flush=True)
    return 0


def main(argv):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if argv[1] == "linger":
        return linger(argv[2])
    if argv[1] == "fds-to":
        return fds_to(argv[2], argv[3], int(argv[4]))
    verb, pid = argv[1], int(argv[2])
    c = Conn()
    pidfd = os.pidfd_open(pid)
    if verb == "close-after":
        until = argv[3]
        serial = send_adopt(c, pidfd)
        for step in until.split(","):
            if step.startswith("ms:"):
                time.sleep(int(step[3:]) / 1000)
            elif step.startswith("file:"):
                deadline = time.monotonic() + 30
                while not os.path.exists(step[5:]) and time.monotonic() < deadline:
                    time.sleep(0.002)
            elif step == "reply":
                # The reply (with its master fd) has reached our socket:
                # exit without using it, as a client that died just then.
                # Other messages come first (the bus's NameAcquired), so
                # the socket turning readable is not enough.
                c.s.settimeout(30)
                while c.read_message()[1] != serial:
                    pass
        print(json.dumps({"closed": until}), flush=True)
        os._exit(0)  # the kernel closes the connection
    if verb in ("extra-fds", "wrong-sig"):
        n = int(argv[3])
        extra = [os.open("/dev/null", os.O_RDONLY) for _ in range(n - 1)]
        if verb == "extra-fds":
            serial = send_adopt(c, pidfd, extra)
        else:
            serial = send_adopt(c, pidfd, extra, n_h=n)
        if len(argv) > 4 and argv[4] == "park":
            print("PARKED", flush=True)
            sys.stdin.read()
        print(json.dumps(c.wait_reply(serial)), flush=True)
        return 0
    if verb == "park-many":
        # N connections, each with one Adopt carrying FDS fds, none read
        # until stdin closes; then a count of the answers.
        n, nfds = int(argv[3]), int(argv[4])
        conns = [(c, send_adopt(c, pidfd, [os.open("/dev/null", os.O_RDONLY)
                                          for _ in range(nfds - 1)]))]
        for _ in range(n - 1):
            try:
                cc = Conn()
            except (OSError, SystemExit) as e:
                print(json.dumps({"connect": str(e)}), flush=True)
                break
            conns.append((cc, send_adopt(cc, pidfd, [os.open("/dev/null", os.O_RDONLY)
                                                       for _ in range(nfds - 1)])))
        print("PARKED %d" % len(conns), flush=True)
        sys.stdin.read()
        counts = {}
        for cc, serial in conns:
            try:
                a = cc.wait_reply(serial)
            except (EOFError, OSError):
                a = {"error": "disconnected"}
            key = a.get("error") or "ok"
            counts[key] = counts.get(key, 0) + 1
        print(json.dumps(counts), flush=True)
        return 0
    if verb == "flood":
        # C connections, each keeping W Adopt calls (with NFDS fds, the
        # pidfd first) in flight for SECONDS: every answer is followed by
        # a new call.
        nconn, w, secs = int(argv[3]), int(argv[4]), float(argv[5])
        nfds = int(argv[6]) if len(argv) > 6 else 1
        extra = [os.open("/dev/null", os.O_RDONLY) for _ in range(nfds - 1)]
        conns = [c] + [Conn() for _ in range(nconn - 1)]
        for cc in conns:
            for _ in range(w):
                send_adopt(cc, pidfd, extra, interactive=False)
        print("FLOODING", flush=True)
        counts = {}
        end = time.monotonic() + secs
        while time.monotonic() < end:
            ready, _, _ = select.select([cc.s for cc in conns], [], [], 0.5)
            for cc in conns:
                if cc.s not in ready:
                    continue
                data, fds, _, _ = socket.recv_fds(cc.s, 1 << 20, 64)
                for fd in fds:
                    os.close(fd)
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
                        send_adopt(cc, pidfd, extra, interactive=False)
        print(json.dumps({"answers_by_type": counts}), flush=True)
        return 0
    raise SystemExit("unknown verb " + verb)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
