# SPDX-License-Identifier: MIT
"""The bus policy dbus/org.reptyr.Reptyr1.conf lets everyone call our
interface plus Introspectable.Introspect, Properties.Get/GetAll and Peer,
and nothing else; root gets no more than other users.

A stand-in (name-holder) owns org.reptyr.Reptyr1 as root and answers every
call that reaches it with org.reptyr.Test.Reached: a call either reaches it
or is stopped by the bus with AccessDenied.

File descriptors: Adopt and Inspect may carry one (the pidfd), nothing
else any: not AdoptPID, not Peer.Ping, not a second fd, not a signal (the
stock policy lets anyone send signals; the holder prints those that reach
it). A raw client (attack3-client.py fds-to) sends them."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rig  # noqa: E402
from testlib import Skip, expect  # noqa: E402

args = rig.arg_parser(__doc__).parse_args()

DENIED = "org.freedesktop.DBus.Error.AccessDenied"
IFACE = rig.BUS_NAME

ALLOWED = [
    (f"{IFACE}.Adopt",),
    (f"{IFACE}.AdoptPID", "uint32:1"),
    (f"{IFACE}.Inspect",),
    # The whole interface, so that methods added later need no new policy.
    (f"{IFACE}.AMethodOfTomorrow",),
    ("org.freedesktop.DBus.Introspectable.Introspect",),
    ("org.freedesktop.DBus.Properties.Get", f"string:{IFACE}", "string:Version"),
    ("org.freedesktop.DBus.Properties.GetAll", f"string:{IFACE}"),
    ("org.freedesktop.DBus.Peer.Ping",),
]

REFUSED = [
    ("org.freedesktop.DBus.Properties.Set", f"string:{IFACE}", "string:PtraceScope",
     "variant:int32:0"),
    ("org.freedesktop.DBus.ObjectManager.GetManagedObjects",),
    ("org.freedesktop.DBus.Introspectable.NotIntrospect",),
    ("org.example.Other.Method",),
    (f"{IFACE}X.Adopt",),
]


CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attack3-client.py")
FD_CALLS = [("Adopt", 1, True), ("Inspect", 1, True), ("Adopt", 2, False),
            ("Inspect", 2, False), ("AdoptPID", 1, False), ("Ping", 1, False)]


class Holder:
    def __init__(self):
        self.rig = rig.Rig(bus_policy=args.bus_policy, polkit_policy=args.polkit_policy,
                           polkitd=False)

    def __enter__(self):
        rig.ensure_user(rig.SECOND_USER)
        self.rig.__enter__()
        try:
            if not args.name_holder:
                raise Skip("--name-holder not given")
            holder = self.rig.install_binary(args.name_holder)
            self.proc = self.rig.popen([holder, rig.BUS_NAME], stdout=subprocess.PIPE, text=True)
            line = self.proc.stdout.readline().strip()
            if line != "READY":
                raise rig.RigError(f"name-holder as root: {line!r}\n{self.rig.logs()}")
        except BaseException:
            self.rig.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        self.rig.__exit__(*exc)


def call(r, user, method, *margs):
    p = r.run(["dbus-send", "--system", "--print-reply", f"--dest={rig.BUS_NAME}", rig.BUS_PATH,
               method, *margs], user=user)
    return (p.stdout + p.stderr).strip()


def allowed(user, method, *margs):
    def check(h):
        out = call(h.rig, user, method, *margs)
        expect(DENIED not in out and ("org.reptyr.Test.Reached" in out or "method return" in out),
               f"{method} as {user or 'root'}: {out}")

    return (f"{user or 'root'} may call {method}", check)


def refused(user, method, *margs):
    def check(h):
        out = call(h.rig, user, method, *margs)
        expect(DENIED in out, f"{method} as {user or 'root'} was not refused by the bus: {out}")

    return (f"{user or 'root'} may not call {method}", check)


def fds(member, n, ok):
    def check(h):
        client = h.rig.install_binary(CLIENT)
        p = h.rig.run([sys.executable, client, "fds-to", "call", member, str(n)], user="nobody")
        out = (p.stdout + p.stderr).strip()
        if ok:
            expect("org.reptyr.Test.Reached" in out, f"{member} with {n} fd(s): {out}")
        else:
            expect(DENIED in out, f"{member} with {n} fd(s) was not refused by the bus: {out}")

    return (f"nobody's {member} with {n} fd(s) {'reaches it' if ok else 'is refused'}", check)


def signal_with_fd(h):
    client = h.rig.install_binary(CLIENT)
    for member, n in (("WithFd", 1), ("Marker", 0)):
        p = h.rig.run([sys.executable, client, "fds-to", "signal", member, str(n)],
                      user="nobody")
        expect("SENT" in p.stdout, f"signal {member}: {p.stdout + p.stderr}")
    # In order: the holder hears Marker after WithFd, had that come.
    seen = []
    while not seen or not seen[-1].endswith(".Marker"):
        line = h.proc.stdout.readline().strip()
        expect(line, f"the holder ended; it heard {seen}")
        seen.append(line)
    expect(not any(s.endswith(".WithFd") for s in seen),
           f"a signal carrying an fd reached the name's owner: {seen}")


checks = [fds(*c) for c in FD_CALLS]
checks.append(("nobody's signal carrying an fd is refused, one without reaches it",
               signal_with_fd))
for user in ("nobody", rig.SECOND_USER, None):
    checks += [allowed(user, *m) for m in ALLOWED]
    checks += [refused(user, *m) for m in REFUSED]

rig.run_checks(checks, setup=Holder)
