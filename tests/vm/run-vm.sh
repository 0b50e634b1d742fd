#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-vm.sh: the real-system proof (issue 5). A Debian 12 guest with systemd
# as PID 1, logind, dbus, polkitd and Yama, the project installed in it from
# its Debian packages (the .debs users get), and the scenarios of
# tests/vm/guest/scenarios.sh run in it: a normal user adopts her own and
# other users' processes through D-Bus activation of the hardened unit,
# polkit and the pkttyagent password prompt, under ptrace_scope 0..3.
#
#   run-vm.sh SOURCE_ROOT WORK_DIR VICTIM [DEBS_DIR]
#                                       (meson: suite 'vm', run as root)
#
# 1. tests/vm/build-image.sh: kernel, busybox initrd and base rootfs tarball,
#    cached by a hash of that script (a miss builds them, ~1 min).
# 2. The .debs of SOURCE_ROOT: tests/packaging/build-debs.sh builds them
#    with dpkg-buildpackage from a clean copy, cached in DEBS_DIR (default
#    WORK_DIR/debs) by the sources' content; $REPTYRD_VM_DEBS, a directory
#    with reptyrd_*.deb and reptyrctl_*.deb, is used as it is instead.
# 3. rootfs = base tarball, `dpkg -i` of the two packages in a chroot of it
#    (their maintainer scripts run as on a real installation), the test
#    harness (scenarios.sh, VICTIM, its unit, alice's autologin on tty1 and
#    her tmux) -> mkfs.ext4 -d -> image.
# 4. One boot under QEMU/TCG (-snapshot), under an outer timeout. The guest
#    writes its PASS/FAIL lines to its second serial port (WORK_DIR/results.txt),
#    ending with "VMTEST: N passed, M failed", and powers off.
#
# Exit: 0 when the marker is there with 0 failed; 77 with "SKIP: reason" when
# this machine cannot run the stage (not root, no qemu-system-x86_64, no
# mirror for the packages); 1 otherwise (timeout, missing marker, any FAIL),
# with the guest's console printed.
#
# Environment: REPTYRD_VM_CACHE (image cache), REPTYRD_VM_TIMEOUT (boot, s,
# default 840), REPTYRD_VM_KEEP=1 (keep the image and root tree in WORK_DIR),
# REPTYRD_VM_DEBS (prebuilt .debs, see 2.).
#
# Host packages (Debian 12): qemu-system-x86 mmdebstrap cpio e2fsprogs, plus
# the package build's (dpkg-dev debhelper and debian/control's
# Build-Depends). The guest's
# kernel and busybox-static are fetched with apt-get download, never installed.
set -euo pipefail

usage="usage: run-vm.sh SOURCE_ROOT WORK_DIR VICTIM [DEBS_DIR]"
src=$(cd "${1:?$usage}" && pwd)
work=${2:?$usage}
victim=${3:?$usage}
debs_cache=${4:-$work/debs}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
boot_timeout=${REPTYRD_VM_TIMEOUT:-840}
exec </dev/null

skip() {
        echo "SKIP: $*"
        exit 77
}
fail() {
        echo "FAIL: $*"
        exit 1
}
stamp() { printf '[vm %4ds] %s\n' "$SECONDS" "$*"; }

[[ $(id -u) -eq 0 ]] || skip "the VM stage runs as root (image with real ownership)"
[[ $(uname -m) == x86_64 ]] || skip "the VM stage needs an x86_64 host (amd64 guest)"
for tool in qemu-system-x86_64 mkfs.ext4 tar timeout chroot; do
        command -v "$tool" >/dev/null || skip "$tool not installed (apt-get install qemu-system-x86 mmdebstrap cpio e2fsprogs)"
done

mkdir -p "$work"
work=$(cd "$work" && pwd)

# ---- 1. the cached base image ----
stamp "image: tests/vm/build-image.sh"
rc=0
base=$(bash "$here/build-image.sh") || rc=$?
if ((rc == 77)); then
        skip "${base#SKIP: }"
elif ((rc != 0)); then
        fail "building the base image (build-image.sh exited $rc)"
fi
base=$(tail -n 1 <<<"$base")
stamp "image: $base ($(cat "$base/kernel-package"))"

# ---- 2. the project's Debian packages ----
if [[ -n ${REPTYRD_VM_DEBS:-} ]]; then
        debs=$(cd "$REPTYRD_VM_DEBS" && pwd)
        stamp "packages: given in $debs"
else
        stamp "packages: tests/packaging/build-debs.sh"
        rc=0
        debs=$(bash "$src/tests/packaging/build-debs.sh" "$src" "$debs_cache") || rc=$?
        if ((rc == 77)); then
                skip "$(tail -n 1 <<<"$debs" | sed 's/^SKIP: //')"
        elif ((rc != 0)); then
                echo "$debs"
                fail "building the .debs (build-debs.sh exited $rc)"
        fi
        debs=$(tail -n 1 <<<"$debs")
fi
pkgs=()
for p in reptyrd reptyrctl; do
        f=$(find "$debs" -maxdepth 1 -name "${p}_*_amd64.deb" | sort | tail -n 1)
        [[ -n $f ]] || fail "no ${p}_*_amd64.deb in $debs"
        pkgs+=("$f")
done
[[ -x $victim ]] || fail "no $victim"
stamp "packages: $(basename -a "${pkgs[@]}" | tr '\n' ' ')"

# ---- 3. the root tree and the image ----
root=$work/root
img=$work/disk.img
rm -rf "$root" "$img"
mkdir "$root"
tar --numeric-owner -xpf "$base/rootfs.tar" -C "$root"
# dpkg -i as on a real system, maintainer scripts included. Nothing is
# running in the chroot: their systemctl and dbus reloads see no running
# systemd (/run/systemd/system) or bus socket and do nothing, and
# policy-rc.d keeps any init script from starting a daemon here.
mkdir -p "$root/tmp/debs"
in_guest=()
for f in "${pkgs[@]}"; do
        cp "$f" "$root/tmp/debs/"
        in_guest+=("/tmp/debs/$(basename "$f")")
done
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
if ! chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        dpkg -i "${in_guest[@]}" >"$work/dpkg.log" 2>&1; then
        cat "$work/dpkg.log"
        fail "dpkg -i of the packages in the guest's root"
fi
rm -rf "$root/tmp/debs" "$root/usr/sbin/policy-rc.d"
stamp "packages: installed ($(grep -c '^Setting up' "$work/dpkg.log") set up)"

# The harness: everything below is test scaffolding, not product.
install -D -m 755 "$here/guest/scenarios.sh" "$root/usr/local/lib/vmtest/scenarios.sh"
install -D -m 755 "$victim" "$root/usr/local/lib/vmtest/victim"
echo 5f1ce0de7e5700000000000000000001 >"$root/etc/machine-id"
install -D -m 644 /dev/stdin "$root/etc/systemd/system/vmtest.service" <<'EOF'
[Unit]
Description=reptyrd VM scenarios (tests/vm/guest/scenarios.sh)
# No ordering on multi-user.target or is-system-running: the script waits
# for what it needs (alice's tty1 session, dbus, polkit) itself.
After=dbus.service systemd-logind.service systemd-user-sessions.service

[Service]
Type=simple
ExecStart=/usr/local/lib/vmtest/scenarios.sh
StandardOutput=journal+console
StandardError=journal+console
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/vmtest.service "$root/etc/systemd/system/multi-user.target.wants/vmtest.service"
# Autologin of alice on tty1: a seat0 session, Active=yes.
install -D -m 644 /dev/stdin "$root/etc/systemd/system/getty@tty1.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin alice --noclear %I $TERM
EOF
# On tty1 only, alice's login shell starts her tmux server: it and every
# pane shell are in her seat0 session's cgroup, so polkit sees the active
# local session there. The scenarios drive it with tmux send-keys/capture-pane.
install -m 644 /dev/stdin "$root/home/alice/.bash_profile" <<'EOF'
[ -f ~/.bashrc ] && . ~/.bashrc
if [ "$(tty)" = /dev/tty1 ] && [ -z "$TMUX" ]; then
        tmux new-session -d -s main -x 150 -y 40
        echo "VMTEST: alice's tmux started in session $XDG_SESSION_ID"
fi
EOF
printf 'PS1="alice$ "\nexport TERM=${TERM:-linux}\n' >"$root/home/alice/.bashrc"
chown 1000:1000 "$root/home/alice/.bash_profile" "$root/home/alice/.bashrc"

mkfs.ext4 -q -F -L reptyr-vm -d "$root" "$img" 1G
[[ ${REPTYRD_VM_KEEP:-} == 1 ]] || rm -rf "$root"
stamp "image: $img ready"

# ---- 4. boot ----
console=$work/console.log
results=$work/results.txt
rm -f "$console" "$results"
stamp "boot: qemu-system-x86_64 -accel tcg (timeout ${boot_timeout}s)"
qrc=0
timeout --kill-after=10 "$boot_timeout" qemu-system-x86_64 \
        -accel tcg -cpu max -smp 2 -m 1024 \
        -kernel "$base/vmlinuz" -initrd "$base/initrd.img" \
        -append 'root=/dev/vda rw console=ttyS0 panic=-1 quiet' \
        -drive "file=$img,format=raw,if=virtio" -snapshot \
        -display none -monitor none -nic none -no-reboot \
        -serial "file:$console" -serial "file:$results" || qrc=$?
stamp "boot: qemu exited $qrc"
[[ ${REPTYRD_VM_KEEP:-} == 1 ]] || rm -f "$img"

touch "$results"
tr -d '\r' <"$results" >"$results.clean"
echo "---- guest results ($results) ----"
cat "$results.clean"
echo "---- end of guest results ----"

why=
marker=$(grep -E '^VMTEST: [0-9]+ passed, [0-9]+ failed$' "$results.clean" | tail -n 1 || true)
if ((qrc == 124 || qrc == 137)); then
        why="timeout: the guest did not power off within ${boot_timeout}s"
elif [[ -z $marker ]]; then
        why="no 'VMTEST: N passed, M failed' line from the guest (qemu exited $qrc)"
elif [[ ! $marker =~ ^VMTEST:\ ([0-9]+)\ passed,\ 0\ failed$ ]]; then
        why="guest scenarios failed: $marker"
elif [[ ${BASH_REMATCH[1]} -eq 0 ]]; then
        why="no scenario passed"
elif grep -q '^FAIL' "$results.clean"; then
        why="FAIL lines in the guest results"
fi
if [[ -n $why ]]; then
        echo "---- guest console ($console) ----"
        tr -d '\r' <"$console" | tail -n 400
        echo "---- end of guest console ----"
        fail "$why"
fi
echo "PASS: $marker (in ${SECONDS}s)"
