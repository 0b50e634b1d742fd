#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""(Re)make the seed corpus of the fuzz targets in tests/fuzz/corpus/.

  make-seeds.py options   option programs (the format fuzz-options.c reads)
  make-seeds.py proc      samples of this machine's /proc: stat with odd
                          comm names, status of a normal, a setuid-like, a
                          seccomp and a kernel thread, fdinfo of a ptmx, an
                          epoll fd and others, auxv of a 64- and a 32-bit
                          program (needs gcc -m32 for the latter)

The /proc part forks helpers, so run it as root for the setuid-like one.
"""
import ctypes
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# Indexes into fuzz-options.c's tables.
KEYS = ["mode", "fds", "rows", "cols", "dry-run", "", "Mode", "rows ", "dry_run", "m"]
SIGS = ["s", "q", "u", "b", "i", "y", "n", "x", "t", "d", "o", "g", "h", "v", "as", "ay", "aq",
        "au", "av", "(q)", "(s)", "(ss)", "(qq)", "a{sv}", "a{ss}", "a(sv)", "aav", "a{sa{sv}}",
        "((((s))))", "aaaaas", "(sv)", "a{qq}", "(bb)", "vv"]
VALUES = ["process", "session", "terminal", "stdio", "", "Process", "session\n", "stdio "]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# -- option programs --

def key(k):
    return bytes([KEYS.index(k)])


def raw_key(s):
    return b"\xf0" + string(s)


def sig(s):
    return bytes([SIGS.index(s)])


def string(s):
    b = s.encode() if isinstance(s, str) else s
    assert len(b) < 0xff
    return bytes([len(b)]) + b


def sval(v):
    """An 's' value: a known one, or any bytes."""
    if v in VALUES:
        return bytes([VALUES.index(v)])
    return b"\x80" + string(v)


def u16(v):
    return v.to_bytes(2, "little")


def u32(v):
    return v.to_bytes(4, "little")


def options():
    pid = b"\x01"  # "u" 4242 first, as AdoptPID
    seeds = {
        "empty": pid,
        "empty-no-pid": b"\x00",
        "mode-session": pid + key("mode") + sig("s") + sval("session"),
        "mode-process": pid + key("mode") + sig("s") + sval("process"),
        "all-valid": pid + key("mode") + sig("s") + sval("session") + key("fds") + sig("s")
        + sval("stdio") + key("rows") + sig("q") + u16(24) + key("cols") + sig("u") + u32(80)
        + key("dry-run") + sig("b") + u32(1),
        "mode-wrong-type": pid + key("mode") + sig("u") + u32(1),
        "mode-bad-value": pid + key("mode") + sig("s") + sval("group"),
        "fds-bad-value": pid + key("fds") + sig("s") + sval("all"),
        "rows-zero": pid + key("rows") + sig("q") + u16(0),
        "cols-too-big": pid + key("cols") + sig("u") + u32(70000),
        "rows-as-int": pid + key("rows") + sig("i") + u32(0xffffffff),
        "dry-run-as-string": pid + key("dry-run") + sig("s") + sval("true"),
        "unknown-key": pid + raw_key("hello") + sig("v") + sig("s") + sval("abc"),
        "nested-variant": pid + key("mode") + sig("v") + sig("v") + sig("s") + sval("session"),
        "nested-dict": pid + key("mode") + sig("a{sv}") + b"\x02"
        + sval("mode") + sig("s") + sval("session") + sval("x") + sig("av") + b"\x01" + sig("q")
        + u16(3),
        # 0xff: a 16-bit length of one repeated byte.
        "huge-key": pid + b"\xf0\xff" + u16(0xfff0) + b"k" + sig("s") + sval("x"),
        "huge-value": pid + key("fds") + sig("s") + b"\x80\xff" + u16(0xfff0) + b"s",
        "huge-array": pid + key("mode") + sig("ay") + b"\xff" + u16(0xffff),
        "many-entries": pid + (key("dry-run") + sig("b") + u32(0)) * 200,
        "duplicate-keys": pid + (key("mode") + sig("s") + sval("session")
                                 + key("mode") + sig("s") + sval("process")),
        "object-path": pid + key("fds") + sig("o") + b"\x01" + string("org/x"),
        "signature-value": pid + key("fds") + sig("g") + b"\x80" + string("a{sv}"),
        "raw-variant-sig": pid + key("rows") + b"\xe0" + string("(qu)") + u16(1) + u32(2),
        "top-level-as": b"\x03" + sig("as") + b"\x02" + sval("mode") + sval("session"),
        "top-level-u": b"\x02" + sig("u") + u32(7),
        "top-level-dict-ss": b"\x03" + sig("a{ss}") + b"\x01" + sval("mode")
        + sval("session"),
    }
    for name, data in seeds.items():
        write("options", name, data)


# -- /proc samples --

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
SECCOMP_MODE_STRICT = 1


def read(path):
    with open(path, "rb") as f:
        return f.read()


def child(setup):
    """Fork a child that runs setup() and then waits on a pipe; returns
    (pid, write end). Closing the write end lets it exit."""
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.close(ready_r)
            setup()
            os.write(ready_w, b"x")
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(r)
    os.close(ready_w)
    os.read(ready_r, 1)
    os.close(ready_r)
    return pid, w


def done(pid, w):
    os.close(w)
    os.waitpid(pid, 0)


def stat_and_status():
    # Odd comm names (at most 15 bytes): ')' and fields inside, a newline.
    for i, name in enumerate([b"a) R 1 2 3 (b", b"x\n) S 9 9", b")", b"((", b"  ) Z 0 0  "]):
        pid, w = child(lambda n=name: libc.prctl(PR_SET_NAME, ctypes.c_char_p(n), 0, 0, 0))
        write("proc-stat", f"odd-comm-{i}", read(f"/proc/{pid}/stat"))
        if i == 0:
            write("proc-status", "odd-comm", read(f"/proc/{pid}/status"))
        done(pid, w)
    write("proc-stat", "self", read("/proc/self/stat"))
    write("proc-status", "normal", read("/proc/self/status"))
    # A kernel thread: kthreadd is pid 2 outside containers.
    if os.path.exists("/proc/2/stat") and b"(kthreadd)" in read("/proc/2/stat"):
        write("proc-stat", "kthread", read("/proc/2/stat"))
        write("proc-status", "kthread", read("/proc/2/status"))
    # Uids as a setuid-root program run by nobody has them.
    if os.getuid() == 0:
        pid, w = child(lambda: os.setresuid(65534, 0, 0))
        write("proc-status", "setuid-like", read(f"/proc/{pid}/status"))
        done(pid, w)
    # Seccomp: 1. Strict mode allows read/write/exit only, which is all
    # child() does afterwards; its exit_group then kills it, as expected.
    pid, w = child(lambda: libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
    write("proc-status", "seccomp-strict", read(f"/proc/{pid}/status"))
    done(pid, w)


def fdinfo(fd):
    return read(f"/proc/self/fdinfo/{fd}")


def fdinfos():
    room = bytes([64])  # proc_parse_epoll's room, the first input byte
    master, slave = os.openpty()
    write("proc-fdinfo", "ptmx", room + fdinfo(master))
    write("proc-fdinfo", "pty-slave", room + fdinfo(slave))
    r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    a, b = socket.socketpair()
    ep = select.epoll()
    ep.register(slave, select.EPOLLIN | select.EPOLLET)
    ep.register(r, select.EPOLLIN)
    ep.register(a.fileno(), select.EPOLLOUT | select.EPOLLONESHOT)
    write("proc-fdinfo", "epoll-3", room + fdinfo(ep.fileno()))
    write("proc-fdinfo", "epoll-3-room-2", bytes([2]) + fdinfo(ep.fileno()))
    big = select.epoll()
    extra = [os.dup(r) for _ in range(70)]
    for fd in extra:
        big.register(fd, select.EPOLLIN)
    write("proc-fdinfo", "epoll-70", room + fdinfo(big.fileno()))
    if hasattr(os, "pidfd_open"):
        pidfd = os.pidfd_open(os.getpid())
        write("proc-fdinfo", "pidfd", room + fdinfo(pidfd))
        os.close(pidfd)
    with tempfile.TemporaryFile() as f:
        write("proc-fdinfo", "regular", room + fdinfo(f.fileno()))
    for fd in extra + [master, slave, r, w]:
        os.close(fd)
    ep.close()
    big.close()
    a.close()
    b.close()


def auxvs():
    write("auxv", "self-64", read("/proc/self/auxv"))
    gcc = shutil.which("gcc")
    if not gcc:
        return
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "w.c"), os.path.join(d, "w")
        with open(src, "w") as f:
            f.write("#include <unistd.h>\nint main(void){char c='x';write(1,&c,1);return read(0,&c,1)<0;}\n")
        if subprocess.run([gcc, "-m32", src, "-o", exe]).returncode != 0:
            print("no gcc -m32: no 32-bit auxv sample", file=sys.stderr)
            return
        p = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            p.stdout.read(1)  # it has exec'd
            write("auxv", "i386", read(f"/proc/{p.pid}/auxv"))
        finally:
            p.stdin.close()
            p.wait()


def main():
    what = sys.argv[1:] or ["options", "proc"]
    if "options" in what:
        options()
    if "proc" in what:
        stat_and_status()
        fdinfos()
        auxvs()


if __name__ == "__main__":
    main()
