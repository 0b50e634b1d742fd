# SPDX-License-Identifier: MIT
"""The test rig works: private bus up, real polkitd answering with our
actions, the project's bus policy in force (a non-root connection cannot own
org.reptyr.Reptyr1), clients as unprivileged users, and nothing left
running after teardown."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rig  # noqa: E402
from testlib import Failure, expect  # noqa: E402

args = rig.arg_parser(__doc__).parse_args()


def request_name(r, user):
    """RequestName(org.reptyr.Reptyr1) as USER with dbus-send: (ok, output)."""
    p = r.run(["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
               "/org/freedesktop/DBus", "org.freedesktop.DBus.RequestName",
               f"string:{rig.BUS_NAME}", "uint32:4"], user=user)
    return p.returncode == 0, (p.stdout + p.stderr).strip()


def check_polkitd_answers_for_root(r):
    ok, challenge, _ = r.check_authorization(os.getpid(), "org.reptyr.Reptyr1.adopt")
    expect(ok and not challenge,
           f"root subject: is_authorized={ok} is_challenge={challenge}\n{r.logs()}")


def check_polkitd_knows_our_actions(r):
    # A process of nobody, no rules for it: both actions fall to their
    # defaults, auth_self_keep / auth_admin_keep, i.e. a challenge (no agent).
    sleeper = r.spawn(["sleep", "60"], user="nobody")
    try:
        for action in ("org.reptyr.Reptyr1.adopt", "org.reptyr.Reptyr1.adopt-any"):
            ok, challenge, _ = r.check_authorization(sleeper.pid, action)
            expect(not ok and challenge,
                   f"{action} for nobody: is_authorized={ok} is_challenge={challenge}")
        try:
            r.check_authorization(sleeper.pid, "org.reptyr.Reptyr1.no-such-action")
        except rig.RigError:
            pass
        else:
            raise Failure("polkitd accepted an unknown action: is it using the test actions dir?")
    finally:
        sleeper.kill()
        sleeper.wait()


def check_polkitd_loaded_our_rules(r):
    log = r.polkitd_log()
    expect("Error" not in log and "error" not in log,
           f"polkitd reported errors loading the rules:\n{log}")


def check_non_root_cannot_own_name(r):
    for user in ("nobody", rig.SECOND_USER):
        ok, out = request_name(r, user)
        expect(not ok and "org.freedesktop.DBus.Error.AccessDenied" in out,
               f"RequestName as {user}: {out}")
    if args.name_holder:
        holder = r.install_binary(args.name_holder)
        p = r.run([holder, rig.BUS_NAME], user="nobody")
        expect(p.returncode == 3 and "AccessDenied" in p.stdout,
               f"name-holder as nobody: exit {p.returncode}: {p.stdout}{p.stderr}")
    expect(not r.has_owner(rig.BUS_NAME), "org.reptyr.Reptyr1 has an owner after the attempts")


def check_root_can_own_name(r):
    ok, out = request_name(r, None)
    expect(ok and "uint32 1" in out, f"RequestName as root: {out}")


def check_clients_run_as_users(r):
    for user, uid in (("nobody", 65534), (rig.SECOND_USER, rig.user_ids(rig.SECOND_USER)[0])):
        p = r.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                     "org.freedesktop.DBus", "GetConnectionUnixUser", "s",
                     "org.freedesktop.DBus", user=user)
        expect(p.returncode == 0, f"busctl as {user}: {p.stderr.strip()}")
        p = r.run(["id", "-u"], user=user)
        expect(p.stdout.strip() == str(uid), f"id -u as {user}: {p.stdout.strip()}")
        p = r.run(["id", "-G"], user=user)
        expect(p.stdout.split() == [str(rig.user_ids(user)[1])],
               f"supplementary groups as {user}: {p.stdout.strip()}")


def check_rules_reload(r):
    # A rule that says NO to nobody's adopt-any; then remove it again.
    sleeper = r.spawn(["sleep", "60"], user="nobody")
    try:
        r.set_rules("10-smoke.rules", """
polkit.addRule(function(action, subject) {
    if (action.id == "org.reptyr.Reptyr1.adopt-any" && subject.user == "nobody")
        return polkit.Result.NO;
});
""")
        ok, challenge, _ = r.check_authorization(sleeper.pid, "org.reptyr.Reptyr1.adopt-any")
        expect(not ok and not challenge, f"after adding a NO rule: {ok} {challenge}")
        r.remove_rules("10-smoke.rules")
        ok, challenge, _ = r.check_authorization(sleeper.pid, "org.reptyr.Reptyr1.adopt-any")
        expect(not ok and challenge, f"after removing the NO rule: {ok} {challenge}")
    finally:
        sleeper.kill()
        sleeper.wait()


def check_polkitd_restart(r):
    r.stop_polkitd()
    expect(not r.has_owner(rig.POLKIT_NAME), "polkitd's name still owned after stop")
    r.start_polkitd()
    check_polkitd_answers_for_root(r)


def check_shipped_activation_file(r):
    if not args.activation_file:
        raise Failure("--activation-file not given")
    expect(rig.BUS_NAME not in r.activatable_names(), "activatable before the file is there")
    r.install_activation_file(args.activation_file)
    try:
        expect(rig.BUS_NAME in r.activatable_names(),
               f"dbus-daemon does not list {rig.BUS_NAME} as activatable with the shipped "
               f"activation file:\n{r.logs()}")
    finally:
        os.unlink(r.path("services", f"{rig.BUS_NAME}.service"))
        r.reload_bus_config()


def setup():
    rig.ensure_user(rig.SECOND_USER)
    rules = {}
    if args.default_rules:
        with open(args.default_rules) as f:
            rules["50-reptyr.rules"] = f.read()
    return rig.Rig(bus_policy=args.bus_policy, polkit_policy=args.polkit_policy, rules=rules)


def check_teardown_leaves_nothing():
    r = rig.Rig(bus_policy=args.bus_policy, polkit_policy=args.polkit_policy)
    with r:
        pids = [r.bus.pid, r.polkitd.pid]
        d = r.dir
        # A process the bus started and that outlives it, like an activated
        # reptyrd: teardown must find it through the bus and stop it.
        r.write_activation_file(reptyrd="/bin/sleep", args=["600"])
        # sleep never takes the name, so the start never completes: ask
        # without waiting for the answer, wait for the spawn itself.
        p = r.busctl("--expect-reply=no", "call", "org.freedesktop.DBus",
                     "/org/freedesktop/DBus", "org.freedesktop.DBus", "StartServiceByName",
                     "su", rig.BUS_NAME, "0")
        expect(p.returncode == 0, f"StartServiceByName: {p.stderr.strip()}")

        def spawned():
            return [c for c in r.bus_started_pids() if rig.comm(c) == "sleep"]

        r.wait_for(spawned, "the bus to spawn the fake helper")
        spawned = spawned()
        pids += spawned
    for pid in pids:
        expect(not os.path.exists(f"/proc/{pid}") or rig.proc_stat(pid)[0] == "Z",
               f"pid {pid} still running after teardown")
    expect(not os.path.exists(d), f"{d} still exists after teardown")


checks = [
    ("polkitd answers CheckAuthorization for a root subject", check_polkitd_answers_for_root),
    ("polkitd knows our actions and only the test actions", check_polkitd_knows_our_actions),
    ("polkitd loaded the shipped rules without errors", check_polkitd_loaded_our_rules),
    ("a non-root connection cannot own org.reptyr.Reptyr1", check_non_root_cannot_own_name),
    ("root can own org.reptyr.Reptyr1", check_root_can_own_name),
    ("clients run as nobody and reptyr-test2, no extra groups", check_clients_run_as_users),
    ("changed rules are live when set_rules returns", check_rules_reload),
    ("polkitd can be stopped and started again", check_polkitd_restart),
    ("dbus-daemon accepts the shipped activation file", check_shipped_activation_file),
    ("teardown stops the bus, polkitd and bus-started services",
     lambda _r: check_teardown_leaves_nothing()),
]

rig.run_checks(checks, setup=setup)
