# SPDX-License-Identifier: MIT
"""Targets in containers.

(a) A victim in its own mount and pid namespace with a private devpts
    instance (unshare --fork --pid --mount-proc --mount; devpts mounted with
    newinstance on /dev/pts and its ptmx bound over /dev/ptmx), on a pty of
    that instance, adopted by root through the helper (polkit authorizes
    root): it must work, and the new terminal must be in the target's own
    devpts: the result's tty name resolves inside the container to the
    target's new fd 0, and the target answers through the returned master.
(b) A victim in a user namespace that the caller (nobody) owns (unshare
    --user --map-root-user, run by nobody; and plain unshare --user, where
    the victim keeps no capabilities). The kernel lets nobody trace it
    (it owns the namespace), but the helper's model wants
    org.reptyr.Reptyr1.adopt-any for a process in another user namespace: a
    non-interactive Adopt by nobody is refused (InteractiveAuthorizationRequired
    or AccessDenied) with the target untouched; root's Adopt works.
"""

import os
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import attack  # noqa: E402
import bustest  # noqa: E402
from attack import ACCESS_DENIED, INTERACTIVE  # noqa: E402
from testlib import Failure, Skip, expect  # noqa: E402

args = attack.arg_parser(__doc__).parse_args()


def check_private_devpts(env):
    if not shutil.which("unshare"):
        raise Skip("unshare is not installed")
    script = ('mount -t devpts -o newinstance,ptmxmode=666,mode=620 devpts /dev/pts && '
              'mount --bind /dev/pts/ptmx /dev/ptmx && exec "$@"')
    argv = ["unshare", "--fork", "--pid", "--mount-proc", "--mount", "--propagation", "private",
            "sh", "-c", script, "sh", env.attack_prog, "holder", "10", "0", "-", "--"] + \
        attack.rig.Rig.as_user([env.victim, "read"], "nobody")
    outer, out = env.piped("container", argv)
    m = env.w.wait_for(out, r"HOLDER pid=(\d+) child=(\d+) pts=(\S+) twin=\d+\n",
                       watch=[outer], what="the container's holder")
    inner_pts = m.group(3)

    def victim_pid():
        for p in attack.harness.descendants([outer.pid]):
            try:
                if os.readlink("/proc/%d/exe" % p).endswith("victim-native") \
                        and attack.harness.proc_state(p) == "S":
                    return p
            except OSError:
                continue
        return None

    vpid = env.w.wait_until(victim_pid, what="the victim in the container")
    for p in attack.harness.descendants([outer.pid]):
        env.w.forget_pid_later(p)
    root = "/proc/%d/root" % vpid
    cont_devpts = os.stat(root + "/dev/pts/ptmx").st_dev
    old = os.stat("/proc/%d/fd/0" % vpid)
    env.w.log("victim %d (in the container: %s on its devpts dev %s; host devpts dev %s)" % (
        vpid, inner_pts, cont_devpts, os.stat("/dev/pts/ptmx").st_dev))
    expect(old.st_dev == cont_devpts, "the victim's terminal is not on the container's devpts")
    v = bustest.Victim(None, vpid, None, "nobody")
    C, client = env.start_relay(v, user=None, name="root's client")
    mm = env.w.wait_for(C, r"(\{\"ok\":.*\})\r?\n", what="root's Adopt of %d" % vpid,
                        watch=[client], timeout=20)
    data = attack.json.loads(mm.group(1))
    env.w.log("root's Adopt: %s" % data)
    if not data.get("ok"):
        raise Failure("root's Adopt of %d in the container failed: %s: %s\n%s" % (
            vpid, data.get("error"), data.get("message"), env.log_text()[-2000:]))
    tty = data["result"]["tty"]
    new = env.w.wait_until(lambda: (lambda s: s.st_rdev != old.st_rdev and s)(
        os.stat("/proc/%d/fd/0" % vpid)), what="the victim's fd 0 on its new terminal")
    problems = []
    if new.st_dev != cont_devpts:
        problems.append("the new terminal (dev %d) is not on the container's devpts (dev %d)"
                        % (new.st_dev, cont_devpts))
    try:
        inside = os.stat(root + tty)
        if (inside.st_dev, inside.st_rdev) != (new.st_dev, new.st_rdev):
            problems.append("%s inside the container is another device than the victim's "
                            "new fd 0" % tty)
    except OSError as e:
        problems.append("the result's tty %s does not resolve inside the container: %s"
                        % (tty, e))
    try:
        env.w.send(C, "ping-container\n")
        env.w.wait_for(C, r"GOT ping-container", watch=[client],
                       what="the victim answers through the returned master")
    except Failure as e:
        problems.append(str(e))
    if problems:
        raise Failure("; ".join(problems))
    env.w.send(C, "quit\n")
    env.w.wait_exit([client], what="client exits when the victim quits")


def check_userns_owned_by_caller(env, map_root=True):
    if not shutil.which("unshare"):
        raise Skip("unshare is not installed")
    v = env.start_victim("nobody", argv=["unshare", "--user"]
                         + (["--map-root-user"] if map_root else []) + [env.victim, "read"],
                         name="userns")
    env.w.log("victim %d: CapEff %s" % (v.pid, attack.status_field(v.pid, "CapEff")))
    own = os.readlink("/proc/self/ns/user")
    theirs = os.readlink("/proc/%d/ns/user" % v.pid)
    expect(own != theirs, "the victim is not in its own user namespace")
    r = env.rig.run([env.attack_prog, "seize", str(v.pid)], user="nobody")
    env.w.log("victim %d in %s; PTRACE_SEIZE by nobody: %s" % (v.pid, theirs, r.stdout.strip()))
    env.baseline(v)
    data = env.call("adopt", v.pid)
    env.w.log("non-interactive Adopt by nobody: %s" % data)
    problems = []
    if data.get("ok"):
        problems.append("nobody adopted its process in another user namespace without a "
                        "password: %s" % data.get("result"))
    else:
        if data.get("error") not in (INTERACTIVE, ACCESS_DENIED):
            problems.append("Adopt by nobody: %s (%s), expected %s or %s" % (
                data.get("error"), data.get("message"), INTERACTIVE, ACCESS_DENIED))
        try:
            env.assert_untouched(v, "the refused Adopt")
        except Failure as e:
            problems.append(str(e))
    if problems:
        raise Failure("; ".join(problems))
    C, client = env.start_relay(v, user=None, name="root's client")
    env.wait_adopted(v, C, client)
    env.ask(v, C, "ping-userns", watch=[client])
    env.w.send(C, "quit\n")
    env.w.wait_exit([v.proc, client], what="victim and client exit")


def setup():
    return attack.AttackEnv(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


bustest.run_checks([
    ("root adopts a target with a private devpts; the new pty is in the target's devpts",
     check_private_devpts),
    ("a target in a user namespace the caller owns (root in it) needs adopt-any; root "
     "adopts it", check_userns_owned_by_caller),
    ("a target without capabilities in a user namespace the caller owns needs adopt-any; "
     "root adopts it", lambda env: check_userns_owned_by_caller(env, map_root=False)),
], setup)
