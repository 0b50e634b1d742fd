# SPDX-License-Identifier: MIT
"""A private system bus with real polkitd, for the reptyrd tests.

Standard library only (run by Debian's /usr/bin/python3), as root. Nothing
of the machine's configuration is touched:

- dbus-daemon runs with a generated configuration: bus type "system", a
  socket in a temporary directory, EXTERNAL authentication, the default
  policy of the stock system.conf, the project's own bus policy
  (dbus/org.reptyr.Reptyr1.conf) and polkit's, and a private service
  directory holding an activation file whose Exec= is the build tree's
  reptyrd. Activated services get DBUS_SYSTEM_BUS_ADDRESS from the bus, so
  reptyrd's sd_bus_open_system() needs no test-only code.
- polkitd runs in a private mount namespace in which the rig's rules and
  actions directories are bind-mounted over /etc/polkit-1/rules.d,
  /usr/share/polkit-1/rules.d (empty) and /usr/share/polkit-1/actions.
- Clients run as unprivileged users through setpriv.

No fixed sleeps: every wait is "until this is true, or fail at the
deadline" (bus address on a pipe, a name on the bus, a line in polkitd's
log).

    with Rig(bus_policy=..., polkit_policy=..., reptyrd=...) as rig:
        r = rig.run(["busctl", "--system", "call", ...], user="nobody")

Also a command-line tool, to poke at the rig by hand:

    rig.py --bus-policy dbus/org.reptyr.Reptyr1.conf \\
           --polkit-policy polkit/org.reptyr.Reptyr1.policy \\
           --rules polkit/50-reptyr.rules --reptyrd build/helper/reptyrd -- bash

runs the command with DBUS_SYSTEM_BUS_ADDRESS set, then tears down.

Logs: the bus's output (with the stderr of activated services, i.e.
reptyrd's) and polkitd's are in the rig's directory under log/, and
Rig.logs() returns both for failure messages. REPTYR_RIG_KEEP=1 in the
environment keeps the directory after teardown.
"""

import argparse
import ctypes
import fcntl
import json
import os
import pwd
import grp
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from testlib import Failure, Skip, expect, run_checks  # noqa: F401 (for its users)

BUS_NAME = "org.reptyr.Reptyr1"
BUS_PATH = "/org/reptyr/Reptyr1"
POLKIT_NAME = "org.freedesktop.PolicyKit1"
POLKIT_PATH = "/org/freedesktop/PolicyKit1/Authority"
POLKIT_IFACE = "org.freedesktop.PolicyKit1.Authority"

POLKITD = "/usr/lib/polkit-1/polkitd"
POLKIT_BUS_POLICY = "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"
# Mount points polkitd reads; the rig mounts its own directories over them.
POLKIT_ETC_RULES = "/etc/polkit-1/rules.d"
POLKIT_USR_RULES = "/usr/share/polkit-1/rules.d"
POLKIT_ACTIONS = "/usr/share/polkit-1/actions"

SECOND_USER = "reptyr-test2"
# Set in the bus's environment, which activated services inherit.
_RIG_ENV = "REPTYR_TEST_RIG"
DEFAULT_TIMEOUT = 10.0

# CheckAuthorization flag: the subject may be asked for a password.
POLKIT_ALLOW_USER_INTERACTION = 1

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


class RigError(Exception):
    """The rig could not be set up or did not behave; the message says why."""


def _die_with_parent():
    # preexec_fn: the daemons must not outlive a test runner that was killed.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _which(name, *fallbacks):
    path = shutil.which(name)
    if path:
        return path
    for f in fallbacks:
        if os.access(f, os.X_OK):
            return f
    raise Skip(f"{name} is not installed")


def require_root():
    if os.geteuid() != 0:
        raise Skip("the bus tests need root (private dbus-daemon, polkitd, setpriv)")


# ---- users -----------------------------------------------------------------

_USERS_LOCK = "/tmp/reptyr-test-users.lock"


def _locked(fn):
    """Run fn() under a machine-wide lock: tests run in parallel and
    useradd/groupadd fail when another one holds /etc/passwd."""
    with open(_USERS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return fn()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_user(name=SECOND_USER):
    """A system user NAME (created if missing, no home, no login shell)."""

    def make():
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)

    return _locked(make)


def ensure_group_member(group, user):
    """A system group GROUP (created if missing) that USER belongs to in
    /etc/group, which is where polkit's subject.isInGroup() looks."""

    def make():
        try:
            g = grp.getgrnam(group)
        except KeyError:
            subprocess.run(["groupadd", "--system", group], check=True)
            g = grp.getgrnam(group)
        if user not in g.gr_mem:
            subprocess.run(["gpasswd", "--add", user, group], check=True,
                           stdout=subprocess.DEVNULL)
        return grp.getgrnam(group)

    return _locked(make)


def user_ids(user):
    """(uid, gid) of a user name, or of (uid, gid) / uid given as numbers."""
    if isinstance(user, tuple):
        return user
    if isinstance(user, int):
        return user, pwd.getpwuid(user).pw_gid
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


# ---- /proc -------------------------------------------------------------------


def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name: [0] is the state,
    [1] the ppid, [19] the start time (field 22 of proc(5))."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2:].decode().split()


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def start_time(pid):
    return int(proc_stat(pid)[19])


def stop_process(pid, timeout=3.0):
    """SIGTERM PID, wait for it to go, SIGKILL if it has not gone by the
    deadline. Through a pidfd: works for processes that are not our
    children, and once it is open a reused pid cannot be hit. Returns True
    if it had to be killed."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        if select.select([pidfd], [], [], timeout)[0]:
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        select.select([pidfd], [], [], timeout)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)


def _reap_if_ours(pid):
    """waitpid() a process that exited and was reparented to us."""
    try:
        if int(proc_stat(pid)[1]) == os.getpid():
            os.waitpid(pid, 0)
    except (OSError, ValueError, IndexError):
        pass


# ---- the rig -------------------------------------------------------------------

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- Generated by tests/lib/rig.py: a private system bus. No <user> and no
     <servicehelper>: activated services run as the bus's uid (root). -->
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>

  <!-- The default policy of dbus 1.14's system.conf. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Containers1"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus.Debug.Stats"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>

  <include>{bus_policy}</include>
  <include>{polkit_bus_policy}</include>
</busconfig>
"""

# Written last on every rules change; polkitd logs the line when it has
# (re)loaded the rules, which is how the rig knows the new rules are live.
_GENERATION_FILE = "99-reptyr-rig-generation.rules"
_GENERATION_LINE = "reptyr-rig rules generation {}"


class Rig:
    """The private bus, polkitd and their temporary directory.

    bus_policy     the project's dbus/org.reptyr.Reptyr1.conf (required)
    polkit_policy  the .policy file to give polkitd (None: no actions)
    reptyrd        the helper to activate as org.reptyr.Reptyr1 (None: no
                   activation file; a test may own the name itself)
    reptyrd_args   extra arguments on the Exec= line
    reptyrd_env    extra environment, through /usr/bin/env on the Exec= line
    ptrace_scope   None: reptyrd reads the real Yama setting. Otherwise the
                   rig writes this value ("0".."3", or "absent": no file) to
                   a file of its own and passes --ptrace-scope-file=FILE to
                   reptyrd (the test-only option of the helper)
    rules          {file name: JavaScript} for /etc/polkit-1/rules.d
    polkitd        start polkitd (a test can start it later, or never)
    """

    def __init__(self, bus_policy, polkit_policy=None, reptyrd=None, reptyrd_args=(),
                 reptyrd_env=None, ptrace_scope=None, rules=None, polkitd=True,
                 timeout=DEFAULT_TIMEOUT):
        self.bus_policy = os.path.abspath(bus_policy)
        self.polkit_policy = polkit_policy and os.path.abspath(polkit_policy)
        self.reptyrd = reptyrd and os.path.abspath(reptyrd)
        self.reptyrd_args = list(reptyrd_args)
        self.reptyrd_env = dict(reptyrd_env or {})
        self.ptrace_scope = ptrace_scope
        self.initial_rules = dict(rules or {})
        self.want_polkitd = polkitd
        self.timeout = timeout
        self.dir = None
        self.address = None
        self.bus = None
        self.polkitd = None
        self.generation = 0
        self.helper_pids = set()
        self._logs = []

    # -- lifecycle --

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        require_root()
        # dbus-daemon double-forks activated services: as a subreaper we
        # get them back when their parent goes, and can reap them at
        # teardown instead of leaving zombies to init.
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        for path in (self.bus_policy, POLKIT_BUS_POLICY):
            if not os.path.exists(path):
                raise RigError(f"bus policy {path} is missing")
        # World-traversable: the bus socket, polkitd's directories and the
        # copied binaries must be reachable by unprivileged users.
        self.dir = tempfile.mkdtemp(prefix="reptyr-bus-")
        os.chmod(self.dir, 0o755)
        for d in ("services", "rules", "empty", "actions", "bin", "log"):
            os.mkdir(self.path(d), 0o755)
            os.chmod(self.path(d), 0o755)
        if self.polkit_policy:
            self._install(self.polkit_policy, self.path("actions"), 0o644)
        for name, text in self.initial_rules.items():
            self._write(self.path("rules", name), text)
        self._write_generation()
        if self.ptrace_scope is not None:
            self.set_ptrace_scope(self.ptrace_scope)
        if self.reptyrd:
            self.write_activation_file()
        self._start_bus()
        if self.want_polkitd:
            self.start_polkitd()

    def close(self):
        """Stop everything the rig started; safe to call more than once."""
        if self.bus and self.bus.poll() is None:
            # Activated services outlive the bus: find them first.
            pid = self.name_owner_pid(BUS_NAME)
            if pid:
                self.helper_pids.add(pid)
        # Also those not owning the name (crashed, exiting, never got it).
        self.helper_pids.update(self.bus_started_pids())
        self.stop_polkitd()
        for pid in sorted(self.helper_pids):
            stop_process(pid)
            _reap_if_ours(pid)
        self.helper_pids.clear()
        if self.bus:
            if self.bus.poll() is None:
                self.bus.terminate()
                try:
                    self.bus.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    self.bus.kill()
                    self.bus.wait()
            self.bus = None
        for f in self._logs:
            f.close()
        self._logs = []
        if self.dir and not os.environ.get("REPTYR_RIG_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- paths and files --

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @staticmethod
    def _write(path, text, mode=0o644):
        """Atomically (write + rename), so polkitd never reads half a file."""
        tmp = f"{os.path.dirname(path)}/.{os.path.basename(path)}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.rename(tmp, path)

    def _install(self, src, dest_dir, mode):
        dest = os.path.join(dest_dir, os.path.basename(src))
        shutil.copyfile(src, dest)
        os.chmod(dest, mode)
        return dest

    def install_binary(self, src):
        """A copy of SRC in a mode-755 directory any user can reach (the
        build tree may sit under a mode-700 home)."""
        return self._install(src, self.path("bin"), 0o755)

    def env(self, **extra):
        """A clean environment for clients of the private bus."""
        e = {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "LANG": "C.UTF-8",
            "HOME": "/",
            "DBUS_SYSTEM_BUS_ADDRESS": self.address,
            # busctl/systemd tools: never page, never ask.
            "SYSTEMD_PAGER": "cat",
            "SYSTEMD_LOG_LEVEL": "err",
        }
        # A sanitizer build (tests/fuzz/sanitizer-test.sh): its options
        # (where reports go) must reach the clients too.
        for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                e[k] = os.environ[k]
        e.update(extra)
        return e

    # -- the helper --

    def write_activation_file(self, reptyrd=None, args=None, env=None):
        """(Re)write the activation file for org.reptyr.Reptyr1. dbus-daemon
        reads it at the next activation attempt of a name it does not know,
        or on ReloadConfig (done here)."""
        reptyrd = reptyrd or self.reptyrd
        args = self.reptyrd_args if args is None else list(args)
        env = self.reptyrd_env if env is None else dict(env)
        argv = []
        if env:
            argv += ["/usr/bin/env"] + [f"{k}={v}" for k, v in env.items()]
        argv.append(reptyrd)
        if self.ptrace_scope is not None:
            argv.append(f"--ptrace-scope-file={self.path('ptrace_scope')}")
        argv += args
        text = ("[D-BUS Service]\n"
                f"Name={BUS_NAME}\n"
                f"Exec={' '.join(shlex.quote(a) for a in argv)}\n"
                "User=root\n")
        self._write(self.path("services", f"{BUS_NAME}.service"), text)
        if self.bus:
            self.reload_bus_config()

    def install_activation_file(self, path):
        """Use PATH (e.g. the shipped activation file) as the activation
        file of org.reptyr.Reptyr1, as it is, and make the bus re-read it."""
        self._install(path, self.path("services"), 0o644)
        name = os.path.basename(path)
        if name != f"{BUS_NAME}.service":
            os.rename(self.path("services", name), self.path("services", f"{BUS_NAME}.service"))
        self.reload_bus_config()

    def reload_bus_config(self):
        self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                    "org.freedesktop.DBus", "ReloadConfig", check=True)

    def activatable_names(self):
        r = self.busctl("--json=short", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus", "ListActivatableNames", check=True)
        return json.loads(r.stdout)["data"][0]

    def set_ptrace_scope(self, value):
        """What the helper will read as Yama's ptrace_scope ("absent": the
        file does not exist)."""
        value = str(value)
        self.ptrace_scope = value
        path = self.path("ptrace_scope")
        if value == "absent":
            if os.path.exists(path):
                os.unlink(path)
        else:
            self._write(path, value + "\n")

    def name_owner_pid(self, name=BUS_NAME):
        """The pid of NAME's owner, or None if nobody owns it."""
        if not self.bus or self.bus.poll() is not None:
            return None
        r = self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s", name)
        m = re.match(r"u (\d+)", r.stdout)
        return int(m.group(1)) if r.returncode == 0 and m else None

    def has_owner(self, name):
        r = self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus", "NameHasOwner", "s", name, check=True)
        return r.stdout.strip() == "b true"

    def helper_pid(self):
        """The running helper's pid (remembered for teardown), or None."""
        pid = self.name_owner_pid(BUS_NAME)
        if pid:
            self.helper_pids.add(pid)
        return pid

    def bus_started_pids(self):
        """Live processes the bus started (activated services). dbus-daemon
        double-forks them, so they are not its descendants: they are found
        by the environment the bus passes on, which names this rig."""
        if not self.dir:
            return []
        mark = f"{_RIG_ENV}={self.dir}".encode()
        bus_pid = self.bus.pid if self.bus else None
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == bus_pid:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
        return found

    def stop_helper(self):
        pid = self.helper_pid()
        if pid:
            stop_process(pid)
            _reap_if_ours(pid)
            self.helper_pids.discard(pid)

    # -- the bus --

    def _log(self, name):
        f = open(self.path("log", name), "ab")
        self._logs.append(f)
        return f

    def _start_bus(self):
        dbus_daemon = _which("dbus-daemon", "/usr/bin/dbus-daemon")
        conf = self.path("bus.conf")
        self._write(conf, _BUS_CONF.format(socket=self.path("bus.sock"),
                                           services=self.path("services"),
                                           bus_policy=self.bus_policy,
                                           polkit_bus_policy=POLKIT_BUS_POLICY))
        r, w = os.pipe()
        try:
            self.bus = subprocess.Popen(
                [dbus_daemon, f"--config-file={conf}", "--nofork", "--nosyslog",
                 f"--print-address={w}"],
                stdin=subprocess.DEVNULL, stdout=self._log("bus.log"),
                stderr=subprocess.STDOUT, pass_fds=[w], preexec_fn=_die_with_parent,
                env=dict(os.environ, **{_RIG_ENV: self.dir}))
        finally:
            os.close(w)
        try:
            line = b""
            deadline = time.monotonic() + self.timeout
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([r], [], [], left)[0]:
                    raise RigError(f"dbus-daemon printed no address:\n{self.logs()}")
                chunk = os.read(r, 4096)
                if not chunk:
                    raise RigError(f"dbus-daemon exited:\n{self.logs()}")
                line += chunk
        finally:
            os.close(r)
        self.address = line.decode().strip()

    def busctl(self, *args, user=None, check=False, timeout=None):
        """busctl --address=BUS ARGS, as root or as USER."""
        argv = [_which("busctl"), f"--address={self.address}"] + list(args)
        r = self.run(argv, user=user, timeout=timeout)
        if check and r.returncode != 0:
            raise RigError(f"{shlex.join(args)} failed: {r.stderr.strip()}")
        return r

    # -- polkitd --

    def start_polkitd(self):
        if self.polkitd and self.polkitd.poll() is None:
            return
        if not os.access(POLKITD, os.X_OK):
            raise Skip(f"{POLKITD} is missing (install polkitd)")
        for mnt in (POLKIT_ETC_RULES, POLKIT_USR_RULES, POLKIT_ACTIONS):
            if not os.path.isdir(mnt):
                raise RigError(f"{mnt} is missing: nothing to mount the test directory on")
        script = ('mount --bind "$1" "$4" && mount --bind "$2" "$5" && '
                  'mount --bind "$3" "$6" && exec "$7"')
        self._polkitd_log = self.path("log", "polkitd.log")
        self._polkitd_log_start = os.path.getsize(self._polkitd_log) \
            if os.path.exists(self._polkitd_log) else 0
        # unshare execs sh, sh execs polkitd: Popen.pid is polkitd's pid.
        self.polkitd = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
             self.path("rules"), self.path("empty"), self.path("actions"),
             POLKIT_ETC_RULES, POLKIT_USR_RULES, POLKIT_ACTIONS, POLKITD],
            stdin=subprocess.DEVNULL, stdout=self._log("polkitd.log"),
            stderr=subprocess.STDOUT, env=self.env(), preexec_fn=_die_with_parent)
        self.wait_for(lambda: self._generation_loaded(self.generation),
                   "polkitd to load the rules")
        self.wait_for(lambda: self.has_owner(POLKIT_NAME), f"polkitd to own {POLKIT_NAME}")

    def stop_polkitd(self):
        if self.polkitd:
            if self.polkitd.poll() is None:
                self.polkitd.terminate()
                try:
                    self.polkitd.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    self.polkitd.kill()
                    self.polkitd.wait()
            self.polkitd = None
            if self.bus and self.bus.poll() is None:
                self.wait_for(lambda: not self.has_owner(POLKIT_NAME),
                           f"{POLKIT_NAME} to leave the bus")

    def polkitd_log(self):
        """polkitd's output since it was last started."""
        try:
            with open(self._polkitd_log, "rb") as f:
                f.seek(self._polkitd_log_start)
                return f.read().decode(errors="replace")
        except (AttributeError, OSError):
            return ""

    def _generation_loaded(self, n):
        if self.polkitd and self.polkitd.poll() is not None:
            raise RigError(f"polkitd exited with {self.polkitd.returncode}:\n{self.logs()}")
        return _GENERATION_LINE.format(n) in self.polkitd_log()

    def _write_generation(self):
        self._write(self.path("rules", _GENERATION_FILE),
                    f'polkit.log("{_GENERATION_LINE.format(self.generation)}");\n')

    def _rules_changed(self):
        self.generation += 1
        self._write_generation()
        if self.polkitd and self.polkitd.poll() is None:
            n = self.generation
            self.wait_for(lambda: self._generation_loaded(n), "polkitd to reload the rules")

    def set_rules(self, name, text):
        """Add or replace rules file NAME in /etc/polkit-1/rules.d; returns
        once polkitd runs the new rules."""
        if name == _GENERATION_FILE or "/" in name:
            raise ValueError(f"bad rules file name {name!r}")
        self._write(self.path("rules", name), text)
        self._rules_changed()

    def remove_rules(self, name):
        try:
            os.unlink(self.path("rules", name))
        except FileNotFoundError:
            return
        self._rules_changed()

    def check_authorization(self, pid, action, details=None, flags=0, uid=None):
        """polkit's CheckAuthorization for the unix-process subject PID,
        asked as root: (is_authorized, is_challenge, details). Raises
        RigError when polkit answers with an error."""
        if uid is None:
            uid = os.stat(f"/proc/{pid}").st_uid
        details = details or {}
        args = ["call", POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE, "CheckAuthorization",
                "(sa{sv})sa{ss}us", "unix-process", "3", "pid", "u", str(pid), "start-time",
                "t", str(start_time(pid)), "uid", "i", str(uid), action, str(len(details))]
        for k, v in details.items():
            args += [k, str(v)]
        args += [str(flags), ""]
        r = self.busctl("--json=short", *args)
        if r.returncode != 0:
            raise RigError(f"CheckAuthorization({action}) failed: {r.stderr.strip()}")
        authorized, challenge, out = json.loads(r.stdout)["data"][0]
        return authorized, challenge, out

    # -- clients --

    def run(self, argv, user=None, groups=None, env=None, timeout=None, input=None, **kw):
        """Run ARGV to completion (text output captured), as root or as USER
        (name, uid, or (uid, gid)) with no supplementary groups unless
        GROUPS (a list of gids or names) is given."""
        full_env = self.env(**(env or {}))
        return subprocess.run(self.as_user(argv, user, groups), env=full_env, input=input,
                              capture_output=True, text=True,
                              timeout=timeout or self.timeout, **kw)

    def popen(self, argv, user=None, groups=None, env=None, **kw):
        """Start ARGV (as USER) with the rig's environment; the caller waits."""
        full_env = self.env(**(env or {}))
        return subprocess.Popen(self.as_user(argv, user, groups), env=full_env, **kw)

    def spawn(self, argv, user=None, groups=None, **kw):
        """Start ARGV (as USER) in a new session and return its Popen once
        the program runs, i.e. once setpriv has exec'd it: only then are the
        process's uid and start time the ones polkit and reptyrd will see."""
        kw.setdefault("start_new_session", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = self.popen(argv, user=user, groups=groups, **kw)
        setpriv = os.path.realpath(_which("setpriv"))

        def running():
            if p.poll() is not None:
                raise RigError(f"{argv[0]} exited with {p.returncode} at start")
            try:
                return user is None or os.readlink(f"/proc/{p.pid}/exe") != setpriv
            except FileNotFoundError:
                return False

        self.wait_for(running, f"{argv[0]} to start")
        return p

    @staticmethod
    def as_user(argv, user=None, groups=None):
        if user is None:
            return list(argv)
        uid, gid = user_ids(user)
        cmd = [_which("setpriv"), f"--reuid={uid}", f"--regid={gid}"]
        if groups:
            gids = [str(g if isinstance(g, int) else grp.getgrnam(g).gr_gid) for g in groups]
            cmd.append(f"--groups={','.join(gids)}")
        else:
            cmd.append("--clear-groups")
        return cmd + ["--"] + list(argv)

    # -- diagnostics --

    def wait_for(self, condition, what):
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while not condition():
            if time.monotonic() > deadline:
                raise RigError(f"timed out after {self.timeout} s waiting for {what}:\n"
                               f"{self.logs()}")
            time.sleep(delay)  # bounded poll of a condition, not a fixed wait
            delay = min(delay * 2, 0.05)

    def logs(self):
        """The bus's output (which includes activated services' stderr) and
        polkitd's, for failure messages."""
        out = []
        for name in ("bus.log", "polkitd.log"):
            try:
                with open(self.path("log", name), "rb") as f:
                    text = f.read().decode(errors="replace")
            except (OSError, TypeError):
                continue
            out.append(f"--- {name} ---\n{text.rstrip()}")
        return "\n".join(out)


# ---- test scripts ----------------------------------------------------------------


def arg_parser(description):
    """The options every bus test takes (tests/bus/meson.build passes them)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--bus-policy", required=True, help="dbus/org.reptyr.Reptyr1.conf")
    ap.add_argument("--polkit-policy", required=True, help="polkit/org.reptyr.Reptyr1.policy")
    ap.add_argument("--default-rules", help="polkit/50-reptyr.rules")
    ap.add_argument("--name-holder", help="tests/bus/name-holder (built)")
    ap.add_argument("--reptyrd", help="the built helper")
    ap.add_argument("--activation-file", help="the configured dbus/org.reptyr.Reptyr1.service")
    return ap


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bus-policy", required=True)
    ap.add_argument("--polkit-policy")
    ap.add_argument("--rules", action="append", default=[],
                    help="a rules file for /etc/polkit-1/rules.d (repeatable)")
    ap.add_argument("--reptyrd")
    ap.add_argument("--reptyrd-arg", action="append", default=[])
    ap.add_argument("--ptrace-scope")
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()
    rules = {}
    for r in a.rules:
        with open(r) as f:
            rules[os.path.basename(r)] = f.read()
    with Rig(bus_policy=a.bus_policy, polkit_policy=a.polkit_policy, reptyrd=a.reptyrd,
             reptyrd_args=a.reptyrd_arg, ptrace_scope=a.ptrace_scope, rules=rules) as rig:
        print(f"DBUS_SYSTEM_BUS_ADDRESS={rig.address}", file=sys.stderr)
        r = subprocess.run(a.command, env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=rig.address))
        return r.returncode


if __name__ == "__main__":
    import testlib
    sys.exit(testlib.main(main))
