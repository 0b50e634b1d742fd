# SPDX-License-Identifier: MIT
"""Attack: learn about, or touch, another user's processes before polkit
has said yes.

nobody's own victim runs on a pty whose master is held by ROOT's process
(attack-prog holder, started by root: the smallest terminal emulator). The
victim is nobody's to adopt in process mode; the holder is not nobody's.

- Inspect of the victim by nobody must not reveal root's pids: no "holders"
  or "session-processes" entry naming a process of another user (nobody is
  not authorized for org.reptyr.Reptyr1.adopt-any).
- A session-mode Adopt by nobody, refused for lack of a password, must do
  nothing privileged before polkit answered: no fd copied out of root's
  holder, no slave opened. Observed with inotify IN_OPEN on /dev/pts/N: the
  helper's TIOCGPTPEER on a master it copied out of the holder opens the
  slave (the watch sees that today).
"""

import ctypes
import os
import select
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
from attack import ACCESS_DENIED, INTERACTIVE  # noqa: E402
from testlib import Failure, expect  # noqa: E402

args = attack.arg_parser(__doc__).parse_args()
IN_OPEN = 0x20
_libc = ctypes.CDLL(None, use_errno=True)


class OpenWatch:
    """inotify IN_OPEN on one path, counted."""

    def __init__(self, path):
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or _libc.inotify_add_watch(self.fd, path.encode(), IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), "inotify on %s" % path)

    def drain(self):
        n = 0
        while select.select([self.fd], [], [], 0)[0]:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            off = 0
            while off + 16 <= len(data):
                _, mask, _, length = struct.unpack_from("iIII", data, off)
                if mask & IN_OPEN:
                    n += 1
                off += 16 + length
        return n

    def close(self):
        os.close(self.fd)


def start_root_holder(env):
    nobody = bustest.uid_of("nobody")
    argv = [env.attack_prog, "holder", "10", "0", "-", "--"] + \
        attack.rig.Rig.as_user([env.victim, "read"], "nobody")
    holder, out = env.piped("root holder", argv, user=None)
    m = env.w.wait_for(out, r"HOLDER pid=(\d+) child=(\d+) pts=(\S+) twin=\d+\n",
                       watch=[holder], what="root's holder")
    hpid, child, pts = int(m.group(1)), int(m.group(2)), m.group(3)
    env.w.wait_until(lambda: os.stat("/proc/%d" % child).st_uid == nobody
                     and os.readlink("/proc/%d/exe" % child).endswith("victim-native")
                     and attack.harness.proc_state(child) == "S",
                     what="nobody's victim %d on %s" % (child, pts))
    return holder, hpid, child, pts


def foreign(pids, uid):
    out = []
    for p in pids:
        try:
            if os.stat("/proc/%d" % p).st_uid != uid:
                out.append(p)
        except FileNotFoundError:
            pass
    return out


def check_inspect_hides_other_users_pids(env):
    holder, hpid, child, pts = start_root_holder(env)
    nobody = bustest.uid_of("nobody")
    v = bustest.Victim(None, child, None, "nobody")
    info = env.inspect(v)
    env.w.log("Inspect of %d (on %s, master held by root's %d) as nobody: %s" % (
        child, pts, hpid, {k: info.get(k) for k in ("action", "authorized", "holders",
                                                    "session-processes")}))
    leaked = {k: foreign(info.get(k) or [], nobody) for k in ("holders", "session-processes")}
    leaked = {k: v for k, v in leaked.items() if v}
    if leaked:
        raise Failure("Inspect by nobody names other users' processes: %s (root's holder is "
                      "%d)" % (leaked, hpid))


def check_refused_session_adopt_touches_nothing(env):
    holder, hpid, child, pts = start_root_holder(env)
    watch = OpenWatch(pts)
    try:
        # The watch works: an open of the slave is seen.
        os.close(os.open(pts, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK))
        expect(watch.drain() == 1, "inotify does not see an open of %s" % pts)
        before = attack.harness.fd_table(hpid)
        data = env.call("adopt", child, "-o", "mode=s:session")
        opens = watch.drain()
    finally:
        watch.close()
    env.w.log("session Adopt of %d as nobody: %s; opens of %s meanwhile: %d" % (
        child, {k: data.get(k) for k in ("ok", "error", "message")}, pts, opens))
    problems = []
    if data.get("ok") or data.get("error") not in (INTERACTIVE, ACCESS_DENIED):
        problems.append("session Adopt by nobody: %s, expected %s or %s" % (
            data.get("result") if data.get("ok") else data.get("error"), INTERACTIVE,
            ACCESS_DENIED))
    if opens:
        problems.append("%s was opened %d time(s) while an unauthorized session Adopt was "
                        "refused (a master was copied out of root's holder %d and its peer "
                        "opened before polkit said yes)" % (pts, opens, hpid))
    after = attack.harness.fd_table(hpid)
    if after != before:
        problems.append("root's holder's fds changed: %s -> %s" % (before, after))
    if problems:
        raise Failure("; ".join(problems))


def setup():
    return attack.AttackEnv(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([
    ("Inspect does not name another user's holder to an unauthorized caller",
     check_inspect_hides_other_users_pids),
    ("a refused session Adopt opens no slave and copies no master of another user",
     check_refused_session_adopt_touches_nothing),
], setup)
