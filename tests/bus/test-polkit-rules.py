# SPDX-License-Identifier: MIT
"""The polkit rules we ship and document, run by real polkitd.

  test-polkit-rules.py default ...   polkit/50-reptyr.rules allows adopt
      without a prompt exactly when the details say the kernel would allow
      it (same user, kernel_allows, Yama absent or 0), and has no opinion
      otherwise (the action's defaults then ask for a password)
  test-polkit-rules.py example --readme dbus/README.md ...
      the administrator's example rule of the documentation does what the
      documentation says

The subjects are real processes of unprivileged users; polkitd is asked as
root with the details reptyrd passes (see polkit/org.reptyr.Reptyr1.policy).
"""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rig  # noqa: E402
from testlib import Failure, expect  # noqa: E402

ADOPT = "org.reptyr.Reptyr1.adopt"
ADOPT_ANY = "org.reptyr.Reptyr1.adopt-any"
TEST_GROUP = "reptyr-test-adopters"

ap = rig.arg_parser(__doc__)
ap.add_argument("which", choices=["default", "example"])
ap.add_argument("--readme")
args = ap.parse_args()

YES, CHALLENGE, NO = "yes", "challenge", "no"


def answer(r, pid, action, details):
    ok, challenge, _ = r.check_authorization(pid, action, details)
    if ok and not challenge:
        return YES
    if not ok and challenge:
        return CHALLENGE
    if not ok and not challenge:
        return NO
    raise Failure(f"polkit answered authorized and challenge at once for {details}")


def own_details(pid, uid, changes):
    """What reptyrd passes for a same-user target that the kernel would let
    the caller ptrace (Yama absent), with CHANGES; a value None drops the
    key."""
    d = {
        "pid": str(pid),
        "uid": str(uid),
        "comm": "sleep",
        "exe": "/usr/bin/sleep",
        "mode": "process",
        "ptrace_scope": "absent",
        "same_user": "true",
        "kernel_allows": "true",
        "caller_uid": str(uid),
    }
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


class Subjects:
    """A rig plus a sleeping process of each test user (the subjects)."""

    def __init__(self, rules):
        self.rig = rig.Rig(bus_policy=args.bus_policy, polkit_policy=args.polkit_policy,
                           rules=rules)
        self.procs = []

    def __enter__(self):
        self.rig.__enter__()
        try:
            for user in ("nobody", rig.SECOND_USER):
                p = self.rig.spawn(["sleep", "600"], user=user)
                self.procs.append(p)
                setattr(self, user.replace("-", "_"), (p.pid, rig.user_ids(user)[0]))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()
        self.rig.__exit__(*exc)


def shipped_rules():
    with open(args.default_rules) as f:
        return f.read()


def case(expected, action, subject_attr, **changes):
    """A check: polkit's answer for ACTION about the subject, with the
    details of own_details() changed by CHANGES, is EXPECTED."""

    def check(s):
        pid, uid = getattr(s, subject_attr)
        d = own_details(pid, uid, changes)
        got = answer(s.rig, pid, action, d)
        expect(got == expected, f"expected {expected}, polkit said {got} for {d}\n"
               f"{s.rig.polkitd_log()}")

    what = ", ".join(f"{k}={v}" for k, v in changes.items()) or "kernel allows it"
    return (f"{action.split('.')[-1]} by {subject_attr} ({what}): {expected}", check)


def default_checks():
    n = "nobody"
    return [
        case(YES, ADOPT, n),
        case(YES, ADOPT, n, ptrace_scope="0"),
        case(CHALLENGE, ADOPT, n, ptrace_scope="1", kernel_allows="false"),
        # Inconsistent details are no reason to say yes.
        case(CHALLENGE, ADOPT, n, ptrace_scope="1"),
        case(CHALLENGE, ADOPT, n, ptrace_scope="2"),
        case(CHALLENGE, ADOPT, n, ptrace_scope="3"),
        case(CHALLENGE, ADOPT, n, ptrace_scope=None),
        case(CHALLENGE, ADOPT, n, ptrace_scope="00"),
        case(CHALLENGE, ADOPT, n, kernel_allows="false"),
        case(CHALLENGE, ADOPT, n, kernel_allows=None),
        case(CHALLENGE, ADOPT, n, kernel_allows="TRUE"),
        case(CHALLENGE, ADOPT, n, same_user="false"),
        case(CHALLENGE, ADOPT, n, same_user=None),
        case(CHALLENGE, ADOPT, n, caller_uid="0"),
        case(CHALLENGE, ADOPT, n, caller_uid=None),
        case(CHALLENGE, ADOPT, n, uid=None, caller_uid=None),
        case(CHALLENGE, ADOPT, n, uid="", caller_uid=""),
        # The shipped rule never grants the other action.
        case(CHALLENGE, ADOPT_ANY, n),
        case(CHALLENGE, ADOPT_ANY, n, same_user="false", kernel_allows="false"),
        case(CHALLENGE, ADOPT, "reptyr_test2", ptrace_scope="1", kernel_allows="false"),
        case(YES, ADOPT, "reptyr_test2"),
    ]


def example_rule():
    with open(args.readme) as f:
        text = f.read()
    m = re.search(r"<!-- BEGIN example-rule.*?-->\s*```js\n(.*?)```\s*<!-- END example-rule -->",
                  text, re.S)
    if not m:
        raise Failure(f"{args.readme}: no example rule between the BEGIN/END example-rule markers")
    rule = m.group(1)
    if '"adopters"' not in rule:
        raise Failure("the example rule no longer names the group \"adopters\"")
    # The machine's group database is not ours to add "adopters" to.
    return rule.replace('"adopters"', f'"{TEST_GROUP}"')


def example_checks():
    member, other = "reptyr_test2", "nobody"
    agent = dict(comm="ssh-agent", exe="/usr/bin/ssh-agent")
    return [
        # Group members: their own processes without a password, even under
        # Yama scope 1; other users' processes still need an administrator.
        case(YES, ADOPT, member, ptrace_scope="1", kernel_allows="false"),
        case(YES, ADOPT, member),
        case(CHALLENGE, ADOPT_ANY, member, same_user="false", kernel_allows="false"),
        # Nobody adopts ssh-agent, not even where the kernel would allow it,
        # not even renamed.
        case(NO, ADOPT, member, **agent),
        case(NO, ADOPT, member, comm="ssh-agent"),
        case(NO, ADOPT, member, comm="innocent", exe="/usr/bin/ssh-agent"),
        case(NO, ADOPT_ANY, member, same_user="false", **agent),
        case(NO, ADOPT, other, **agent),
        case(NO, ADOPT_ANY, other, **agent),
        # Everybody else: as without the example rule.
        case(CHALLENGE, ADOPT, other, ptrace_scope="1", kernel_allows="false"),
        case(YES, ADOPT, other),
        case(CHALLENGE, ADOPT_ANY, other),
    ]


def setup():
    rig.ensure_user(rig.SECOND_USER)
    if not args.default_rules:
        raise Failure("--default-rules is required")
    rules = {"50-reptyr.rules": shipped_rules()}
    if args.which == "example":
        rig.ensure_group_member(TEST_GROUP, rig.SECOND_USER)
        rules["40-reptyr-local.rules"] = example_rule()
    return Subjects(rules)


def check_no_rule_errors(s):
    log = s.rig.polkitd_log()
    expect(not re.search(r"error", log, re.I), f"polkitd reported errors:\n{log}")


checks = default_checks() if args.which == "default" else example_checks()
checks.append(("polkitd ran the rules without errors", check_no_rule_errors))
rig.run_checks(checks, setup=setup)
