# SPDX-License-Identifier: MIT
"""Packaging checks of dbus/, polkit/ and systemd/ (suite 'packaging').

  test-packaging.py verify UNIT --exec PATH --libexecdir DIR
      `systemd-analyze verify` of a copy of UNIT whose ExecStart= is PATH
      prints nothing (it exits 0 on unknown keys: any output is a failure).
  test-packaging.py security UNIT --exec PATH --libexecdir DIR --max-exposure N
      `systemd-analyze security --offline=true` rates the copy at most N.
  test-packaging.py install BUILDDIR --expected FILE [--without PATH]...
      `meson install --destdir` installs exactly the files listed in FILE.
  test-packaging.py activation SERVICE --libexecdir DIR
      the activation file names our bus name, unit and installed helper.
  test-packaging.py xml FILE...
      the files are well-formed XML.

Exit status 0 = pass, 1 = fail, 77 = cannot run here (reason printed).
"""

import argparse
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if not path:
        skip("systemd-analyze is missing (Debian package: systemd)")
    return path


def unit_copy(unit, exec_path, libexecdir, tmp):
    """A copy of UNIT in TMP, same name, ExecStart= pointing at EXEC_PATH.
    Also checks that the configured ExecStart= is the installed helper."""
    with open(unit) as f:
        text = f.read()
    installed = f"ExecStart={libexecdir}/reptyrd"
    lines = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    if lines != [installed]:
        fail(f"{unit}: expected exactly one line {installed!r}, found {lines}")
    copy = os.path.join(tmp, os.path.basename(unit))
    with open(copy, "w") as f:
        f.write(text.replace(installed, f"ExecStart={exec_path}"))
    return copy


def run(argv):
    env = dict(os.environ, SYSTEMD_COLORS="0", SYSTEMD_PAGER="cat", SYSTEMD_LOG_COLOR="0")
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def cmd_verify(a):
    analyze = systemd_analyze()
    with tempfile.TemporaryDirectory() as tmp:
        copy = unit_copy(a.unit, a.exec, a.libexecdir, tmp)
        r = run([analyze, "verify", copy])
    out = (r.stdout + r.stderr).strip()
    print(f"systemd-analyze verify (ExecStart={a.exec}): exit {r.returncode}")
    if r.returncode != 0 or out:
        fail(f"systemd-analyze verify printed:\n{out}")
    print("PASS: no output")


def cmd_security(a):
    analyze = systemd_analyze()
    with tempfile.TemporaryDirectory() as tmp:
        copy = unit_copy(a.unit, a.exec, a.libexecdir, tmp)
        r = run([analyze, "security", "--offline=true", "--no-pager", copy])
    out = r.stdout + r.stderr
    print(out)
    m = re.search(r"Overall exposure level for \S+:\s*([0-9]+(?:\.[0-9]+)?)", out)
    if not m:
        fail(f"no 'Overall exposure level' line (exit {r.returncode})")
    level = float(m.group(1))
    if level > a.max_exposure:
        fail(f"exposure {level} > {a.max_exposure}")
    print(f"PASS: exposure {level} <= {a.max_exposure}")


def build_options(builddir):
    r = subprocess.run(["meson", "introspect", builddir, "--buildoptions"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"meson introspect: {r.stderr.strip()}")
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


# The options expected-install.txt was written for (meson's defaults).
DEFAULT_LAYOUT = {
    "prefix": "/usr/local",
    "bindir": "bin",
    "libexecdir": "libexec",
    "datadir": "share",
    "mandir": "share/man",
    "dbus_system_services_dir": "",
    "dbus_system_conf_dir": "",
    "dbus_interfaces_dir": "",
    "polkit_policy_dir": "",
    "polkit_rules_dir": "",
    "systemd_system_unit_dir": "",
    "bash_completion_dir": "",
    "zsh_completion_dir": "",
}


def cmd_install(a):
    opts = build_options(a.builddir)
    different = {k: opts.get(k) for k, v in DEFAULT_LAYOUT.items() if opts.get(k) != v}
    if different:
        skip(f"{a.builddir} is configured with a non-default layout {different}; "
             f"{os.path.basename(a.expected)} lists the default one")
    with open(a.expected) as f:
        expected = {line.strip() for line in f
                    if line.strip() and not line.lstrip().startswith("#")}
    for w in a.without:
        if w in expected:
            print(f"NOTE: not expecting {w} (not built by this tree)")
            expected.discard(w)
    with tempfile.TemporaryDirectory(prefix="reptyr-install-") as dest:
        r = subprocess.run(["meson", "install", "-C", a.builddir, "--no-rebuild", "--quiet",
                            "--destdir", dest], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail(f"meson install failed:\n{r.stdout}{r.stderr}")
        installed = set()
        for root, dirs, files in os.walk(dest):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                installed.add("/" + os.path.relpath(os.path.join(root, name), dest))
    missing = sorted(expected - installed)
    extra = sorted(installed - expected)
    for p in sorted(installed):
        print(("  " if p in expected else "+ ") + p)
    for p in missing:
        print("- " + p)
    if missing or extra:
        fail(f"installed file list differs from {a.expected}: "
             f"{len(missing)} missing (-), {len(extra)} unexpected (+)")
    print(f"PASS: {len(installed)} files where expected")


def cmd_activation(a):
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(a.service)
    want = {
        "Name": "org.reptyr.Reptyr1",
        "Exec": f"{a.libexecdir}/reptyrd",
        "User": "root",
        "SystemdService": "reptyrd.service",
    }
    if "D-BUS Service" not in cp:
        fail(f"{a.service}: no [D-BUS Service] section")
    got = dict(cp["D-BUS Service"])
    if got != want:
        fail(f"{a.service}: {got}, expected {want}")
    print(f"PASS: {got}")


def cmd_xml(a):
    for path in a.files:
        try:
            ET.parse(path)
        except ET.ParseError as e:
            fail(f"{path}: {e}")
        print(f"ok: {path}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("verify", "security"):
        p = sub.add_parser(name)
        p.add_argument("unit")
        p.add_argument("--exec", required=True)
        p.add_argument("--libexecdir", required=True)
        if name == "security":
            p.add_argument("--max-exposure", type=float, required=True)
    p = sub.add_parser("install")
    p.add_argument("builddir")
    p.add_argument("--expected", required=True)
    p.add_argument("--without", action="append", default=[])
    p = sub.add_parser("activation")
    p.add_argument("service")
    p.add_argument("--libexecdir", required=True)
    p = sub.add_parser("xml")
    p.add_argument("files", nargs="+")
    a = ap.parse_args()
    {"verify": cmd_verify, "security": cmd_security, "install": cmd_install,
     "activation": cmd_activation, "xml": cmd_xml}[a.cmd](a)


if __name__ == "__main__":
    main()
