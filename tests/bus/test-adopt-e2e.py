# SPDX-License-Identifier: MIT
"""An unprivileged user adopts its own process through reptyrd, end to end.

Private bus with the project's policy, the built reptyrd activated on
demand, real polkitd with the shipped default rule, Yama simulated at 0 (the
kernel would let the user ptrace its own process, so the rule allows it
without a password). The user is `nobody`; its victim runs on pty A; the
client runs on pty C:

- the raw client (bus-client: Adopt with a pidfd, AdoptPID) relays the
  master that came over D-Bus: typed lines, ^C and a resize of C reach the
  victim, its output comes back, A gets nothing any more, the victim's
  state is unchanged but for its terminal, and its exit is seen;
- `reptyrctl adopt PID` (what users run) does the same and exits with the
  victim's status; `reptyrctl inspect PID --json` reports the action;
- the options work over the bus (rows/cols as q and u), dry-run changes
  nothing, Inspect shows what adoption would do;
- each decision is logged once by the helper.
"""

import json
import os
import re
import sys
import termios

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import bustest  # noqa: E402
import harness  # noqa: E402
from bustest import ADOPT  # noqa: E402
from testlib import Failure, expect  # noqa: E402

ap = bustest.arg_parser(__doc__)
ap.add_argument("--victim-other", help="the victim built for the other word size")
args = ap.parse_args()
NOBODY = bustest.uid_of("nobody")
EXIT_CODE = 7  # the victim's own exit status, to be passed through


def check_on_new_terminal(env, v, C, client, new_tty, a_mark):
    """What a user relies on once the process is on C."""
    w, watch = env.w, [client, v.proc]
    env.ask(v, C, "hello-through-the-helper", watch=watch,
            what="a line typed on C reaches the victim and its answer comes back")

    # The old terminal is disconnected: input there is not read, and the
    # victim writes nothing to it.
    v.pty.set_echo(False)
    w.send(v.pty, ": typed-on-A\n")
    env.ask(v, C, "round-trip", watch=watch)
    expect("typed-on-A" not in C.text(), "a line typed on A reached the victim: %r" % C.tail())
    w.pump(0)
    expect(not v.pty.text(a_mark), "A got output after adoption: %r" % v.pty.text(a_mark))

    mark = C.mark()
    w.send(C, b"\x03")
    w.wait_for(C, r"INT\r?\n", since=mark, what="^C typed on C reaches the victim as SIGINT",
               watch=watch)

    mark = C.mark()
    C.set_winsize(40, 100)
    w.wait_for(C, r"WINCH 40 100\r?\n", since=mark, what="a resize of C reaches the victim",
               watch=watch)

    m = env.ask(v, C, "status?", bustest.STATUS_RX, "status on the new terminal", watch)
    tty, pgrp, mypgrp, sid = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    expect(tty == new_tty, "ttyname(0) is %s, expected %s" % (tty, new_tty))
    expect(pgrp == mypgrp, "victim not in the foreground of %s: tcgetpgrp %d, getpgrp %d"
           % (tty, pgrp, mypgrp))
    expect(sid == v.pid, "victim %d no longer leads its session (sid %d)" % (v.pid, sid))


def check_state_kept(env, v, new_tty):
    last = []

    def same():
        last[:] = harness.compare_snapshots(v.before, harness.snapshot(v.pid), v.pty.path,
                                            new_tty)
        return not last

    env.w.wait_until(same, timeout=5, what="victim state unchanged by adoption",
                     detail=lambda: "; ".join(last))


def adopt_with_raw_client(env, verb):
    since = len(env.log_entries())
    v = env.start_victim("nobody", "exit-code", EXIT_CODE)
    env.baseline(v)
    a_mark = v.pty.mark()
    C, client = env.start_relay(v, verb=verb)
    data, new_tty = env.wait_adopted(v, C, client)
    res = data["result"]
    expect(data["master"] == "tty", "the fd that came over D-Bus is not a terminal: %s" % data)
    expect(res.get("pid") == v.pid, "result pid %s, expected %d" % (res.get("pid"), v.pid))
    expect(res.get("old-tty") == v.pty.path, "old-tty %r, expected %s"
           % (res.get("old-tty"), v.pty.path))
    expect(res.get("replaced-fds") == [0, 1, 2], "replaced-fds %s" % res.get("replaced-fds"))
    expect(res.get("mode") == "process", "mode %r" % res.get("mode"))
    expect(res.get("personality") in ("x86_64", "i386"), "personality %r"
           % res.get("personality"))
    expect(res.get("was-stopped") is False, "was-stopped %r" % res.get("was-stopped"))
    check_state_kept(env, v, new_tty)
    check_on_new_terminal(env, v, C, client, new_tty, a_mark)

    mark = C.mark()
    env.w.send(C, "quit\n")
    env.w.wait_for(C, r"BYE \d+\r?\n", since=mark, what="the victim's last words relayed",
                   watch=[client])
    env.w.wait_exit([v.proc, client], what="victim and client exit")
    expect(v.proc.exit_code() == EXIT_CODE, "victim exited with %s, expected %d"
           % (harness.signal_name(v.proc.exit_code()), EXIT_CODE))
    expect(client.exit_code() == 0, "the relay ended with %s" % client.exit_code())
    env.expect_logged_once(v.pid, r"^adopted: " + re.escape(new_tty), NOBODY, action=ADOPT,
                           uid=NOBODY, comm="victim-native", since=since, caller_pid=client.pid)


def check_adopt_pidfd(env):
    adopt_with_raw_client(env, "adopt")


def check_adopt_pid(env):
    adopt_with_raw_client(env, "adopt-pid")


def check_window_size_options(env):
    for opts, want in (([], [24, 80]),
                       (["-o", "rows=q:33", "-o", "cols=u:101"], [33, 101]),
                       (["-o", "rows=u:65535", "-o", "cols=q:1"], [65535, 1])):
        v = env.start_victim("nobody", "read", name="size")
        data = env.call("adopt", v.pid, *opts)
        expect(data.get("ok"), "Adopt %s failed: %s" % (opts, data))
        expect(data.get("size") == want, "Adopt %s: new terminal is %s, expected %s"
               % (opts, data.get("size"), want))
        # The client has exited: the new terminal hung up, the victim goes.
        env.w.wait_exit([v.proc], what="victim of a closed terminal exits")


def check_dry_run(env):
    since = len(env.log_entries())
    v = env.start_victim("nobody", "read", name="dry-run")
    env.baseline(v)
    data = env.call("adopt", v.pid, "-o", "dry-run=b:true")
    expect(data.get("ok"), "dry run failed: %s" % data)
    expect(data["master"] == "not-a-tty", "dry run handed over a terminal: %s" % data)
    expect(data["result"].get("replaced-fds") == [0, 1, 2], "dry run result %s" % data)
    env.assert_untouched(v, "a dry run")
    env.expect_logged_once(v.pid, r"allowed \(dry run\)", NOBODY, kind="adopt (dry run)",
                           action=ADOPT, uid=NOBODY, since=since, caller_pid=data["caller_pid"])
    env.quit(v)


def check_inspect(env):
    since = len(env.log_entries())
    v = env.start_victim("nobody", "read", name="inspect")
    env.baseline(v)
    info = env.inspect(v)
    want = {"pid": v.pid, "uid": NOBODY, "comm": "victim-native", "tty": v.pty.path,
            "mode": "process", "fds": [0, 1, 2], "action": ADOPT, "authorized": "yes"}
    for k, val in want.items():
        expect(info.get(k) == val, "Inspect %s = %r, expected %r (all: %s)"
               % (k, info.get(k), val, info))
    expect(info.get("exe") == env.victim, "Inspect exe %r, expected %s"
           % (info.get("exe"), env.victim))
    expect(info.get("personality") in ("x86_64", "i386"), "Inspect personality %r"
           % info.get("personality"))
    expect(info.get("reason"), "Inspect gives no reason: %s" % info)
    env.assert_untouched(v, "Inspect")
    env.expect_logged_once(v.pid, r"^inspected: yes", NOBODY, kind="inspect", action=ADOPT,
                           uid=NOBODY, since=since, caller_pid=info["_caller_pid"])
    env.quit(v)


def need_reptyrctl(env):
    if not env.reptyrctl:
        raise Failure("--reptyrctl not given")


def check_reptyrctl_adopt(env):
    need_reptyrctl(env)
    since = len(env.log_entries())
    v = env.start_victim("nobody", "exit-code", EXIT_CODE, name="reptyrctl")
    env.baseline(v)
    a_mark = v.pty.mark()
    C = env.w.pty("C-reptyrctl", rows=30, cols=90)
    argv = bustest.rig.Rig.as_user([env.reptyrctl, "adopt", "--no-ask-password", str(v.pid)],
                                   "nobody")
    client = env.w.spawn_on_pty("reptyrctl", argv, C, ctty=True, env=env.rig.env(),
                                pdeathsig=False)
    C.close_slave()

    def adopted():
        if not client.alive():
            raise Failure("reptyrctl exited with %s before adopting; it said %r\n%s" % (
                harness.signal_name(client.exit_code()), C.tail(), env.log_text()))
        link = os.readlink("/proc/%d/fd/0" % v.pid)
        if link == v.pty.path or C.termios()[3] & termios.ICANON:
            return None
        return link

    new_tty = env.w.wait_until(adopted, timeout=20, what="reptyrctl adopts %d" % v.pid,
                               detail=lambda: "reptyrctl says %r" % C.tail())
    check_state_kept(env, v, new_tty)
    check_on_new_terminal(env, v, C, client, new_tty, a_mark)
    mark = C.mark()
    env.w.send(C, "quit\n")
    env.w.wait_for(C, r"BYE \d+\r?\n", since=mark, what="the victim's last words relayed",
                   watch=[client])
    env.w.wait_exit([v.proc, client], what="victim and reptyrctl exit")
    expect(client.exit_code() == EXIT_CODE,
           "reptyrctl exited with %s, expected the victim's status %d; it said %r"
           % (harness.signal_name(client.exit_code()), EXIT_CODE, C.tail(mark)))
    env.expect_logged_once(v.pid, r"^adopted", NOBODY, action=ADOPT, uid=NOBODY, since=since,
                           caller_pid=client.pid)


def check_reptyrctl_inspect(env):
    need_reptyrctl(env)
    v = env.start_victim("nobody", "read", name="reptyrctl-inspect")
    env.baseline(v)
    r = env.rig.run([env.reptyrctl, "inspect", "--json", str(v.pid)], user="nobody")
    expect(r.returncode == 0, "reptyrctl inspect --json exited %d: %s%s"
           % (r.returncode, r.stdout, r.stderr))
    try:
        info = json.loads(r.stdout)
    except ValueError as e:
        raise Failure("reptyrctl inspect --json printed no JSON (%s): %r" % (e, r.stdout))
    text = json.dumps(info)
    expect(ADOPT in text and str(v.pid) in text,
           "reptyrctl inspect --json does not name the action %s and pid %d: %s"
           % (ADOPT, v.pid, text))
    env.assert_untouched(v, "reptyrctl inspect")
    env.quit(v)


def reptyrctl_refused(env, v, expect_code, what, rx=None):
    """reptyrctl adopt on a terminal, as nobody, refused: exit code, a
    message, the victim as it was."""
    since = len(env.log_entries())
    C = env.w.pty("C-refused")
    argv = bustest.rig.Rig.as_user([env.reptyrctl, "adopt", "--no-ask-password", str(v.pid)],
                                   "nobody")
    client = env.w.spawn_on_pty("reptyrctl", argv, C, ctty=True, env=env.rig.env(),
                                pdeathsig=False)
    C.close_slave()
    env.w.wait_exit([client], what="reptyrctl refusing (%s)" % what, timeout=20)
    env.w.pump(0.05)
    msg = C.text()
    expect(client.exit_code() == expect_code, "reptyrctl (%s) exited with %s, expected %d; "
           "it said %r" % (what, harness.signal_name(client.exit_code()), expect_code, msg))
    expect(msg.strip(), "reptyrctl refused (%s) without a message" % what)
    if rx:
        expect(re.search(rx, msg), "reptyrctl's message (%s) does not match /%s/: %r"
               % (what, rx, msg))
    expect(C.termios()[3] & termios.ICANON,
           "reptyrctl left its terminal in raw mode after refusing (%s)" % what)
    env.assert_untouched(v, what)
    return since, client.pid


def check_reptyrctl_refusals(env):
    need_reptyrctl(env)
    v = env.start_victim("nobody", "read", name="reptyrctl-refused")
    env.baseline(v)
    try:
        # Yama 1 and no way to ask for a password: 75.
        env.rig.set_ptrace_scope("1")
        since, caller = reptyrctl_refused(env, v, 75, "a password needed, --no-ask-password")
        env.expect_logged_once(v.pid, r"^refused", NOBODY, action=ADOPT, since=since,
                               caller_pid=caller)
        # A rule says no: 72.
        env.rig.set_ptrace_scope("0")
        env.rig.set_rules("05-no.rules", """
polkit.addRule(function(action, subject) {
    if (action.id == "org.reptyr.Reptyr1.adopt" && subject.user == "nobody")
        return polkit.Result.NO;
});
""")
        since, caller = reptyrctl_refused(env, v, 72, "a rule says no")
        env.expect_logged_once(v.pid, r"^refused", NOBODY, action=ADOPT, since=since,
                               caller_pid=caller)
        env.rig.remove_rules("05-no.rules")
        # No helper on the bus: 74, and a message that says so.
        env.rig.stop_helper()
        os.unlink(env.rig.path("services", "%s.service" % bustest.rig.BUS_NAME))
        env.rig.reload_bus_config()
        reptyrctl_refused(env, v, 74, "no helper", rx=r"(?i)reptyrd|helper")
    finally:
        env.rig.set_ptrace_scope("0")
        env.rig.remove_rules("05-no.rules")
        env.rig.write_activation_file()
    env.quit(v)


def check_other_personality(env):
    other, = env.w.private_copy(args.victim_other)
    bits = harness.elf_bits(other)
    v = env.start_victim("nobody", argv=[other, "read"], name="victim%s" % bits)
    C, client = env.start_relay(v)
    data, new_tty = env.wait_adopted(v, C, client)
    want = {"32": "i386", "64": "x86_64"}.get(bits)
    expect(data["result"].get("personality") == want, "a %s-bit victim adopted as %r"
           % (bits, data["result"].get("personality")))
    env.ask(v, C, "hello-%s-bit" % bits, watch=[client])
    env.w.send(C, "quit\n")
    env.w.wait_exit([v.proc, client], what="victim and client exit")


def setup():
    return bustest.Env(args, dict(rules=bustest.shipped_rules(args), ptrace_scope="0"))


checks = [
    ("nobody adopts its own process with Adopt(pidfd): typing, output, ^C, resize, exit",
     check_adopt_pidfd),
    ("nobody adopts its own process with AdoptPID: the same", check_adopt_pid),
    ("rows/cols options (q and u) size the new terminal; default: the old size",
     check_window_size_options),
    ("dry-run is allowed, hands over no terminal and changes nothing", check_dry_run),
    ("Inspect reports what adoption would do, changes nothing", check_inspect),
    ("reptyrctl adopt goes through the helper and exits with the victim's status",
     check_reptyrctl_adopt),
    ("reptyrctl inspect --json reports the action", check_reptyrctl_inspect),
    ("reptyrctl adopt refused: exit 75 (password needed), 72 (denied), 74 (no helper)",
     check_reptyrctl_refusals),
]
if args.victim_other:
    checks.append(("a 32-bit process through the helper", check_other_personality))
else:
    print("note: no --victim-other (no -m32 victim in this build): the 32-bit case is not run",
          flush=True)

bustest.run_checks(checks, setup)
