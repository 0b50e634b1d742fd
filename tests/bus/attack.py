# SPDX-License-Identifier: MIT
"""Shared plumbing of the adversarial bus tests (test-attack-*.py): the
attacker's programs (attack-prog, attack-client) reachable by unprivileged
users, processes whose output the test reads line by line, and bounded
calls of Properties.Get.

Standard library only, run as root by Debian's /usr/bin/python3. Every
process a test starts is killed by pid at cleanup (harness.World), also when
the test fails.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

# Imported by the test-attack-*.py scripts, which have put tests/lib on
# sys.path (bustest, harness, rig, errors, testlib).
import bustest
import harness
import rig
from errors import ACCESS_DENIED, ERR, INTERACTIVE, LIMITS  # noqa: F401 (for the tests)
from testlib import Failure, Skip, expect  # noqa: F401 (for the tests)


def arg_parser(doc):
    ap = bustest.arg_parser(doc)
    ap.add_argument("--attack-prog", help="tests/bus/attack-prog (built)")
    ap.add_argument("--attack-client", help="tests/bus/attack-client (built)")
    ap.add_argument("--attack2-client", help="tests/bus/attack2-client (built)")
    ap.add_argument("--attack5-client", help="tests/bus/attack5-client (built)")
    return ap


# Lets the second test user adopt its own processes without a password.
SECOND_USER_RULE = """
polkit.addRule(function(action, subject) {
    if (action.id == "org.reptyr.Reptyr1.adopt" && subject.user == "%s" &&
        action.lookup("same_user") == "true")
        return polkit.Result.YES;
    return undefined;
});
""" % rig.SECOND_USER


class AttackEnv(bustest.Env):
    """bustest.Env plus the attacker's programs in a world-reachable place."""

    def __init__(self, args, rig_kw=None):
        for what in ("attack_prog", "attack_client"):
            if not getattr(args, what):
                raise Skip("--%s not given" % what.replace("_", "-"))
        super().__init__(args, rig_kw)
        self.attack_prog = self.attack_client = None

    def __enter__(self):
        super().__enter__()
        try:
            self.attack_prog, self.attack_client = self.w.private_copy(
                self.args.attack_prog, self.args.attack_client)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def piped(self, name, argv, user=None, extra_env=None):
        """ARGV (as USER) in its own session, stdin a pipe (the returned
        Proc's popen.stdin), stdout+stderr a Stream: (proc, stream)."""
        out, w = self.w.pipe_reader(name + " output")
        full = rig.Rig.as_user(argv, user) if user is not None else list(argv)
        try:
            proc = self.w.spawn(name, full, subprocess.PIPE, w, w, session=True,
                                env=self.rig.env(**(extra_env or {})), pdeathsig=False)
        finally:
            os.close(w)
        return proc, out

    @staticmethod
    def tell(proc, line):
        proc.popen.stdin.write((line + "\n").encode())
        proc.popen.stdin.flush()

    def json_lines(self, stream, since=0):
        out = []
        for line in stream.text(since).splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def get_version(self, user, timeout=1.0):
        """org.freedesktop.DBus.Properties.Get of Version as USER with a
        TIMEOUT second method call timeout: (ok, seconds, output)."""
        t0 = time.monotonic()
        try:
            r = self.rig.busctl("--timeout=%g" % timeout, "call", rig.BUS_NAME, rig.BUS_PATH,
                                "org.freedesktop.DBus.Properties", "Get", "ss", rig.BUS_NAME,
                                "Version", user=user, timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            return False, time.monotonic() - t0, "busctl did not return"
        return r.returncode == 0, time.monotonic() - t0, (r.stdout + r.stderr).strip()


class Attack2Env(AttackEnv):
    """AttackEnv plus attack2-client in the same place."""

    def __enter__(self):
        if not self.args.attack2_client:
            raise Skip("--attack2-client not given")
        super().__enter__()
        try:
            (self.attack2_client,) = self.w.private_copy(self.args.attack2_client)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self


def setuid_copy(env, src, name):
    """A setuid-root copy of SRC, named NAME, where any user can exec it
    (the build tree may sit under a mode-700 home; /tmp is not nosuid)."""
    d = tempfile.mkdtemp(prefix="reptyr-suid-", dir="/tmp")
    env.w.tmpdirs.append(d)
    os.chmod(d, 0o755)
    path = os.path.join(d, name)
    shutil.copy(src, path)
    os.chown(path, 0, 0)
    os.chmod(path, 0o4755)
    return path


def status_field(pid, key, tid=None):
    try:
        return harness.proc_status(pid, tid).get(key)
    except (FileNotFoundError, ProcessLookupError):
        return None


def fd_link(pid, fd):
    try:
        return os.readlink("/proc/%d/fd/%d" % (pid, fd))
    except OSError:
        return None


def wait_json(env, stream, pred, what, timeout=20, since=0, watch=()):
    """The first JSON line on STREAM for which PRED is true."""
    return env.w.wait_until(lambda: next((d for d in env.json_lines(stream, since) if pred(d)),
                                         None),
                            timeout=timeout, what=what,
                            detail=lambda: "output: %r\n%s" % (stream.tail(since),
                                                              env.log_text()[-3000:]))


def line_match(stream, rx, since=0):
    return re.search(rx, stream.text(since))


def json_lines_text(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def ensure_group(name):
    """A system group NAME (created if missing) with no members: a gid no
    test user belongs to."""
    import grp

    def make():
        try:
            return grp.getgrnam(name)
        except KeyError:
            subprocess.run(["groupadd", "--system", name], check=True)
            return grp.getgrnam(name)

    return rig._locked(make)
