# SPDX-License-Identifier: MIT
"""Man pages and Debian packages (suite 'packaging').

  test-debian.py man PAGE...
      each page renders with `man --warnings` (as lintian runs it) and
      `groff -ww -z` without a single warning.
  test-debian.py install-lists SOURCE_ROOT
      a meson setup of SOURCE_ROOT with the options of debian/rules installs
      exactly the files that debian/*.install hand out, each to one package;
      debian/changelog's version is meson.build's.
  test-debian.py debs SOURCE_ROOT OUT_DIR
      build-debs.sh builds the .debs; lintian has no error and no warning on
      them; each package holds the files it must.

Exit status 0 = pass, 1 = fail, 77 = cannot run here (reason printed).
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


def cmd_man(pages):
    man = shutil.which("man")
    groff = shutil.which("groff")
    if not man and not groff:
        skip("neither man nor groff is installed (Debian packages: man-db, groff-base)")
    bad = 0
    for page in pages:
        with open(page, encoding="utf-8") as f:
            first = f.readline()
        # A page that uses tables says so in its first line ('\" t), as man
        # needs to run tbl; groff is told here.
        tbl = ["-t"] if re.match(r"'\\\" .*t", first) else []
        runs = []
        if man:
            env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
            runs.append((["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page], env))
        if groff:
            runs.append(([groff, "-man", "-ww", "-z"] + tbl + [page], dict(os.environ)))
        for argv, env in runs:
            r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
            msgs = r.stderr.strip()
            if r.returncode != 0 or msgs:
                print(f"FAIL: {' '.join(argv)}: exit {r.returncode}\n{msgs}")
                bad += 1
            else:
                print(f"ok: {' '.join(argv[:2])} ... {os.path.basename(page)}")
    if bad:
        fail(f"{bad} rendering(s) with warnings")
    print(f"PASS: {len(pages)} pages render without warnings")


def rules_options(src):
    """The arguments dh_auto_configure gets in debian/rules, and those that
    debhelper's meson build system adds itself."""
    with open(os.path.join(src, "debian", "rules")) as f:
        text = f.read()
    m = re.search(r"^override_dh_auto_configure:\n((?:\t.*\n)+)", text, re.M)
    if not m:
        fail("debian/rules has no override_dh_auto_configure")
    words = m.group(1).replace("\\\n", " ").split()
    words = words[words.index("--") + 1:]
    return ["--prefix=/usr", "--sysconfdir=/etc", "--localstatedir=/var",
            "--buildtype=plain"] + words


def cmd_install_lists(src):
    if not shutil.which("meson"):
        skip("meson is not installed")
    opts = rules_options(src)
    with tempfile.TemporaryDirectory(prefix="reptyr-deb-layout-") as b:
        r = subprocess.run(["meson", "setup", b, src] + opts, capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            m = re.search(r"Dependency \"?([\w.+-]+)\"? .*not found", r.stdout + r.stderr)
            if m:
                skip(f"meson setup with debian/rules' options needs {m.group(1)}, which this "
                     f"machine lacks (debian/control's Build-Depends)")
            fail(f"meson setup {' '.join(opts)}:\n{r.stdout[-3000:]}{r.stderr}")
        r = subprocess.run(["meson", "introspect", b, "--installed"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            fail(f"meson introspect --installed: {r.stderr}")
        installed = set(json.loads(r.stdout).values())
        r = subprocess.run(["meson", "introspect", b, "--projectinfo"], capture_output=True,
                           text=True, timeout=60)
        version = json.loads(r.stdout)["version"]
    claimed = {}
    for path in sorted(glob.glob(os.path.join(src, "debian", "*.install"))):
        pkg = os.path.basename(path)[: -len(".install")]
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    claimed.setdefault("/" + line, []).append(pkg)
    ok = True
    for p in sorted(installed | set(claimed)):
        pkgs = claimed.get(p, [])
        if p not in installed:
            print(f"FAIL: {p} is in debian/{pkgs[0]}.install but meson does not install it")
            ok = False
        elif len(pkgs) != 1:
            print(f"FAIL: {p}: installed by meson, in {len(pkgs)} packages {pkgs}")
            ok = False
        else:
            print(f"ok: {p} -> {pkgs[0]}")
    r = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(src, "debian", "changelog"),
                        "-S", "Version"], capture_output=True, text=True)
    if r.returncode != 0:
        skip("dpkg-parsechangelog is missing (Debian package: dpkg-dev)")
    deb_version = r.stdout.strip()
    if deb_version != version:
        print(f"FAIL: debian/changelog has {deb_version}, meson.build {version}")
        ok = False
    else:
        print(f"ok: version {version} in meson.build and debian/changelog")
    if not ok:
        fail("debian/*.install and meson's installed files differ")
    print(f"PASS: {len(installed)} files, each in one package")


# What each package must hold (besides /usr/share/doc), and its relations.
MUST_HOLD = {
    "reptyrd": ["./usr/libexec/reptyrd",
                "./usr/share/dbus-1/system-services/org.reptyr.Reptyr1.service",
                "./usr/share/dbus-1/system.d/org.reptyr.Reptyr1.conf",
                "./usr/share/dbus-1/interfaces/org.reptyr.Reptyr1.xml",
                "./usr/share/polkit-1/actions/org.reptyr.Reptyr1.policy",
                "./usr/share/polkit-1/rules.d/50-reptyr.rules",
                "./lib/systemd/system/reptyrd.service",
                "./usr/share/man/man8/reptyrd.8.gz",
                "./usr/share/man/man5/org.reptyr.Reptyr1.5.gz"],
    "reptyrctl": ["./usr/bin/reptyrctl",
                  "./usr/share/man/man1/reptyrctl.1.gz",
                  "./usr/share/bash-completion/completions/reptyrctl",
                  "./usr/share/zsh/vendor-completions/_reptyrctl"],
    "reptyr-terminal": ["./usr/bin/reptyr-terminal",
                        "./usr/share/applications/org.reptyr.Terminal.desktop",
                        "./usr/share/icons/hicolor/scalable/apps/org.reptyr.Terminal.svg",
                        "./usr/share/man/man1/reptyr-terminal.1.gz"],
}


def cmd_debs(src, out):
    r = subprocess.run(["bash", os.path.join(HERE, "build-debs.sh"), src, out],
                       capture_output=True, text=True, timeout=1200)
    print(r.stderr, end="")
    if r.returncode == 77:
        skip(r.stdout.strip().splitlines()[-1].removeprefix("SKIP: "))
    if r.returncode != 0:
        fail(f"build-debs.sh exited {r.returncode}:\n{r.stdout}")
    d = r.stdout.strip().splitlines()[-1]
    ok = True
    for pkg, files in MUST_HOLD.items():
        debs = glob.glob(os.path.join(d, f"{pkg}_*.deb"))
        if len(debs) != 1:
            fail(f"no single {pkg}_*.deb in {d}: {debs}")
        c = subprocess.run(["dpkg-deb", "-c", debs[0]], capture_output=True, text=True,
                           check=True).stdout
        have = {line.split()[5] for line in c.splitlines()}
        regular = sorted(p for p in have if not p.endswith("/")
                         and not p.startswith("./usr/share/doc/"))
        print(f"{os.path.basename(debs[0])}:\n  " + "\n  ".join(regular))
        for f in files:
            if f not in have:
                print(f"FAIL: {pkg} lacks {f}")
                ok = False
        extra = sorted(set(regular) - set(files))
        if extra:
            print(f"FAIL: {pkg} holds files it should not: {extra}")
            ok = False
    if not shutil.which("lintian"):
        skip("lintian is not installed (packages built and checked, lintian not run)")
    changes = glob.glob(os.path.join(d, "*.changes"))
    r = subprocess.run(["lintian", "--fail-on", "error,warning", "--info", "--display-level",
                        ">=warning"] + changes, capture_output=True, text=True, timeout=600)
    tags = "\n".join(line for line in (r.stdout + r.stderr).splitlines()
                     if "running with root privileges" not in line)
    print(f"lintian {os.path.basename(changes[0])}: exit {r.returncode}\n{tags}")
    if r.returncode != 0 or re.search(r"^[EW]: ", tags, re.M):
        ok = False
        print("FAIL: lintian reports errors or warnings")
    if not ok:
        fail("the packages are not as they must be")
    print("PASS: packages hold what they must; lintian: no error, no warning")


def main():
    a = sys.argv[1:]
    if a and a[0] == "man" and len(a) > 1:
        cmd_man(a[1:])
    elif a and a[0] == "install-lists" and len(a) == 2:
        cmd_install_lists(a[1])
    elif a and a[0] == "debs" and len(a) == 3:
        cmd_debs(a[1], a[2])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
