#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The whole test suite: builds the 64-bit tree (build/) and the 32-bit one
# (build32/, gcc -m32), runs `meson test` in both, and ends with one line
#
#     N passed, M failed[, K skipped]
#
# counted from both builds' meson-logs/testlog.json. A build that fails counts
# as one failed test; a skipped test (exit 77) is listed by name with SKIP.
# On a kernel that cannot run i386 programs (no IA32 emulation) the 32-bit
# tree is only built (tests/i386-cross.ini): one test for the build, one
# skip for its tests. Exit status: 0 only when nothing failed.
#
#   tests/run-all.sh                 build what is needed and test (as root:
#                                    first installs missing Debian packages)
#   tests/run-all.sh --install-deps  only install the packages; fails if any
#                                    is still missing afterwards
#
# Runs from any directory; the build trees live at the top of the source tree.
set -euo pipefail

# Everything building and testing needs on Debian 12, and the i386 pieces of
# the 32-bit build. .ci/run installs from this same list.
DEB_PACKAGES=(meson ninja-build pkg-config gcc libsystemd-dev libcmocka-dev dbus polkitd
              libdbus-1-dev libpolkit-gobject-1-dev gcc-multilib tmux clang-format util-linux
              python3 systemd python3-dbus qemu-system-x86 mmdebstrap cpio e2fsprogs)
DEB_PACKAGES+=(libgtk-4-dev libvte-2.91-gtk4-dev xvfb xdotool imagemagick) # reptyr-terminal, suite desktop
DEB_PACKAGES+=(dpkg-dev debhelper lintian) # the .debs (suites packaging and vm)
DEB_PACKAGES+=(vim nano htop procps less mc emacs-nox zsh fish dash screen openssh-server
               openssh-client) # real programs, suite programs
DEB_PACKAGES_I386=(libcmocka-dev:i386)
# For reptyrd and reptyrctl's D-Bus path in the 32-bit build. Optional: on
# Debian 12 it may need liblzma5 for both architectures at one version, which
# install_libsystemd_i386 arranges; without it the 32-bit build has no
# daemon and says so with a SKIP test.
DEB_PACKAGES_I386_OPTIONAL=(libsystemd-dev:i386)

# ---- fuzzing and the sanitizer build (tests/fuzz) ------------------------
# clang and its libFuzzer runtime (only recommended by clang, hence named).
DEB_PACKAGES+=(clang libclang-rt-14-dev)
# ---- end of fuzzing and the sanitizer build -------------------------------

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

install_deps() {
        export DEBIAN_FRONTEND=noninteractive
        if ! dpkg --print-foreign-architectures | grep -qx i386; then
                dpkg --add-architecture i386
        fi
        # Mirrors hiccup ("Mirror sync in progress?"): retry, and go on with
        # the lists we have if an index still fails; what counts is whether
        # the packages end up installed.
        local try
        for try in 1 2 3; do
                if apt-get update -q; then
                        break
                fi
                echo "==> apt-get update failed (attempt $try of 3)" >&2
                sleep $((try * 5))
        done
        for try in 1 2; do
                if apt-get install -y -q --no-install-recommends \
                        "${DEB_PACKAGES[@]}" "${DEB_PACKAGES_I386[@]}"; then
                        return 0
                fi
                echo "==> apt-get install failed (attempt $try of 2)" >&2
                apt-get update -q || true
        done
        return 1
}

install_libsystemd_i386() {
        local v
        export DEBIAN_FRONTEND=noninteractive
        if apt-get install -y -q --no-install-recommends "${DEB_PACKAGES_I386_OPTIONAL[@]}"; then
                return 0
        fi
        # Multi-arch packages must have one version on both architectures;
        # an image whose amd64 liblzma5 is older than any i386 one blocks the
        # i386 libsystemd0. Move both to the i386 candidate and try again.
        v=$(apt-cache policy liblzma5:i386 | awk '/Candidate:/ {print $2}')
        if [[ -n $v && $v != "(none)" ]]; then
                # liblzma-dev (pulled in by GTK's -dev packages) must follow,
                # or apt removes it, and GTK with it.
                local dev=()
                if dpkg-query -W -f='${Status}' liblzma-dev 2>/dev/null | grep -q 'ok installed'; then
                        dev=("liblzma-dev=$v")
                fi
                apt-get install -y -q --allow-downgrades "liblzma5=$v" "liblzma5:i386=$v" "${dev[@]}" || true
        fi
        apt-get install -y -q --no-install-recommends "${DEB_PACKAGES_I386_OPTIONAL[@]}" ||
                echo "==> ${DEB_PACKAGES_I386_OPTIONAL[*]} not installable: the 32-bit build will have no reptyrd" >&2
}

missing_deps() {
        local p
        for p in "${DEB_PACKAGES[@]}" "${DEB_PACKAGES_I386[@]}"; do
                if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
                        echo "$p"
                fi
        done
}

if [[ ${1:-} == --install-deps ]]; then
        install_deps || true
        install_libsystemd_i386 || true
        missing=$(missing_deps | tr '\n' ' ')
        if [[ -n $missing ]]; then
                echo "==> still missing: $missing" >&2
                exit 1
        fi
        exit 0
elif [[ $# -gt 0 ]]; then
        echo "usage: $0 [--install-deps]" >&2
        exit 2
fi

if command -v dpkg-query >/dev/null; then
        missing=$(missing_deps | tr '\n' ' ')
        if [[ -n $missing ]]; then
                if [[ $(id -u) -eq 0 ]]; then
                        echo "==> installing missing packages: $missing"
                        install_deps || echo "==> package installation failed; going on" >&2
                        install_libsystemd_i386 || true
                else
                        echo "==> missing packages: $missing(run as root to install them)" >&2
                fi
        fi
fi

passed=0
failed=0
skipped=0

# count_log BUILD_DIR LABEL: add the results of BUILD_DIR's last meson test run.
count_log() {
        local log=$1/meson-logs/testlog.json counts p f s
        if [[ ! -s $log ]]; then
                echo "==> $2: no test results (no tests defined?)"
                return 0
        fi
        # Debian's python: the first python3 on PATH may not be it.
        counts=$(/usr/bin/python3 - "$log" "$2" <<'EOF'
import json, sys
log, label = sys.argv[1], sys.argv[2]
passed = failed = skipped = 0
for line in open(log, encoding="utf-8", errors="replace"):
    line = line.strip()
    if not line:
        continue
    t = json.loads(line)
    name = t.get("name", "?")
    result = t.get("result", "ERROR")
    if result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif result == "SKIP":
        skipped += 1
        # The reason is the test's own last words.
        out = [l for l in (t.get("stdout") or "").splitlines() if l.strip()]
        why = out[-1].strip() if out else "no reason given"
        print(f"SKIP {label}: {name}: {why}", file=sys.stderr)
    else:
        failed += 1
        print(f"FAIL {label}: {name} ({result})", file=sys.stderr)
print(passed, failed, skipped)
EOF
        ) || { echo "==> $2: cannot read $log" >&2; failed=$((failed + 1)); return 0; }
        read -r p f s <<<"$counts"
        passed=$((passed + p))
        failed=$((failed + f))
        skipped=$((skipped + s))
        echo "==> $2: $p passed, $f failed, $s skipped"
}

# build_tree LABEL DIR [MESON SETUP ARGS...]: set up DIR (once) with
# -Werror and build it; a failure is counted here and returns 1.
build_tree() {
        local label=$1 dir=$2
        shift 2
        if [[ ! -f $dir/build.ninja ]] && ! meson setup "$dir" -Dwerror=true "$@"; then
                echo "FAIL $label: meson setup"
                failed=$((failed + 1))
                return 1
        fi
        if ! ninja -C "$dir"; then
                echo "FAIL $label: build"
                failed=$((failed + 1))
                return 1
        fi
}

# run_build LABEL DIR [MESON SETUP ARGS...]: set up (once), build and test one tree.
run_build() {
        local label=$1 dir=$2
        echo "==> $label: setting up and building $dir"
        build_tree "$@" || return 0
        # A stale log from an earlier run must never be counted.
        rm -f "$dir/meson-logs/testlog.json"
        echo "==> $label: meson test"
        meson test -C "$dir" --print-errorlogs </dev/null || true
        count_log "$dir" "$label"
}

# i386_runs: whether gcc -m32 links a program this kernel then runs. A
# kernel without IA32 emulation (or booted with ia32_emulation=0) links
# it and refuses to execute it (ENOEXEC); 2 when it does not even link.
i386_runs() {
        local d rc=0
        d=$(mktemp -d)
        printf 'int main(void) { return 0; }\n' >"$d/t.c"
        if ! gcc -m32 "$d/t.c" -o "$d/t" 2>/dev/null; then
                rc=2
        elif ! "$d/t" 2>/dev/null; then
                rc=1
        fi
        rm -rf "$d"
        return $rc
}

# build_only LABEL DIR [MESON SETUP ARGS...]: set up (once) and build a tree
# whose programs cannot run here; a good build counts as one test passed.
build_only() {
        echo "==> $1: setting up and building $2 (build only)"
        if build_tree "$@"; then
                echo "PASS $1: build with -Werror"
                passed=$((passed + 1))
        fi
}

# The desktop program is required here: the 64-bit suite runs its display tests.
run_build "64-bit" build -Ddesktop=enabled
i386_rc=0
i386_runs || i386_rc=$?
if ((i386_rc == 1)); then
        build_only "32-bit" build32 --cross-file tests/i386-cross.ini
        echo "SKIP 32-bit: the tests of build32: this kernel cannot run i386 programs (no IA32 emulation)" >&2
        skipped=$((skipped + 1))
else
        run_build "32-bit" build32 --native-file tests/i386.ini
fi

# ---- ASan+UBSan build (tests/fuzz/sanitizer-test.sh, build-asan/) --------
# reptyrd, reptyrctl and the engine under AddressSanitizer (leaks included)
# and UBSan through the unit, integration and bus suites: each test counts,
# and a failed build or any sanitizer report counts as one more failure.
echo "==> ASan+UBSan: tests/fuzz/sanitizer-test.sh"
rm -f build-asan/meson-logs/testlog.json
if ! bash tests/fuzz/sanitizer-test.sh; then
        failed=$((failed + 1))
fi
count_log build-asan "ASan+UBSan"
# ---- end of the ASan+UBSan build ------------------------------------------

summary="$passed passed, $failed failed"
if ((skipped > 0)); then
        summary+=", $skipped skipped"
fi
echo "$summary"
((failed == 0))
