#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Real adoptions on the real kernel of other architectures.
#
#   tests/arch/run.sh [ARCH...]      ARCH: aarch64 arm riscv64 ppc64le s390x
#                                    (all of them without arguments)
#
# For each architecture, from the source tree this script sits in:
#   1. a cross toolchain: Debian 12's gcc-12-<triplet> and the libc/kernel
#      headers it needs, fetched with `apt-get download` and unpacked into
#      the cache (never installed: Debian's gcc-multilib, which the 32-bit
#      build needs, conflicts with installed cross compilers);
#   2. two cross builds with meson: a dynamic one whose unit tests run under
#      qemu-user-static (suite unit), and a static one for the guest;
#   3. the architecture's Debian 12 kernel (riscv64: built from
#      linux-source-6.1, Debian has none), cached by content hash;
#   4. an initramfs whose /init is tests/arch/guest.c (static), with the
#      static victim, engine-driver and reptyrctl (aarch64: also the 32-bit
#      arm victim, adopted through the compat personality);
#   5. a boot under qemu-system-<arch> with TCG. The guest runs the cases and
#      prints `ARCHTEST <name>: N passed, M failed`, which this script
#      repeats on stdout (the names: aarch64, arm-on-aarch64, arm, riscv64,
#      ppc64le, s390x).
# Anything that cannot be done prints `ARCHTEST <name>: 0 passed, 1 failed`
# with the reason: a missing piece never passes silently.
#
# Everything lives under $ARCH_TEST_DIR (default: build/tests/arch at the
# top of the source tree): cache/ (toolchains, kernels: keyed by package
# versions or by the hash of the kernel config) and per-arch build trees.
# Needs root only to install qemu and add the foreign dpkg architectures on
# a machine that has neither. Never uses KVM.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${ARCH_TEST_DIR:-$top/build/tests/arch}
cache=$work/cache
host_multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
mkdir -p "$cache"
all_arches=(aarch64 arm riscv64 ppc64le s390x)
arches=("$@")
((${#arches[@]})) || arches=("${all_arches[@]}")

log() { printf '[arch %s] %s\n' "$(date +%T)" "$*" >&2; }

# ---- per-architecture facts ------------------------------------------------
triplet() {
        case $1 in
        aarch64) echo aarch64-linux-gnu ;;
        arm) echo arm-linux-gnueabihf ;;
        riscv64) echo riscv64-linux-gnu ;;
        ppc64le) echo powerpc64le-linux-gnu ;;
        s390x) echo s390x-linux-gnu ;;
        esac
}
debarch() {
        case $1 in
        aarch64) echo arm64 ;;
        arm) echo armhf ;;
        riscv64) echo riscv64 ;;
        ppc64le) echo ppc64el ;;
        s390x) echo s390x ;;
        esac
}
# meson's cpu_family / cpu / endian
meson_cpu() {
        case $1 in
        aarch64) echo "aarch64 aarch64 little" ;;
        arm) echo "arm armv7hl little" ;;
        riscv64) echo "riscv64 riscv64 little" ;;
        ppc64le) echo "ppc64 ppc64le little" ;;
        s390x) echo "s390x s390x big" ;;
        esac
}
qemu_user() {
        case $1 in
        ppc64le) echo qemu-ppc64le-static ;;
        *) echo "qemu-$1-static" ;;
        esac
}
kernel_pkg() {
        case $1 in
        aarch64) echo linux-image-arm64:arm64 ;;
        arm) echo linux-image-armmp-lpae:armhf ;;
        ppc64le) echo linux-image-powerpc64le:ppc64el ;;
        s390x) echo linux-image-s390x:s390x ;;
        esac
}

# ---- host packages -----------------------------------------------------
apt_updated=0
apt_update() {
        ((apt_updated)) && return 0
        local try
        for try in 1 2 3 4; do
                # The security mirror's index of a foreign architecture can
                # fail while it syncs: retry; what counts is whether the
                # packages are found afterwards.
                if apt-get update -q >/dev/null 2>&1; then
                        apt_updated=1
                        return 0
                fi
                log "apt-get update failed (attempt $try)"
                sleep $((try * 5))
        done
        apt_updated=1
        return 0
}

need_host_tools() {
        local missing=() p
        for p in qemu-user-static qemu-system-arm qemu-system-ppc qemu-system-misc cpio xz-utils \
                linux-source-6.1 bc flex bison; do
                dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
                        missing+=("$p")
        done
        local a
        for a in arm64 armhf ppc64el s390x; do
                if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
                        [[ $(id -u) == 0 ]] && dpkg --add-architecture "$a" && apt_updated=0
                fi
        done
        if ((${#missing[@]})); then
                if [[ $(id -u) != 0 ]]; then
                        log "missing host packages: ${missing[*]} (run as root to install)"
                        return 1
                fi
                apt_update
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                        "${missing[@]}" >/dev/null || return 1
        fi
        return 0
}

# ---- toolchains: unpacked, never installed --------------------------------
toolchain_pkgs() {
        local t d
        t=$(triplet "$1")
        d=$(debarch "$1")
        echo "binutils-$t gcc-12-$t cpp-12-$t libgcc-12-dev-$d-cross libgcc-s1-$d-cross" \
                "libc6-$d-cross libc6-dev-$d-cross linux-libc-dev-$d-cross libatomic1-$d-cross"
        # Debian 12 has no riscv64 port: its unit tests use tests/arch/cmocka
        # and the cross libc. Elsewhere the unit tests run on the port's own
        # libc (qemu 7.2's s390x user mode crashes in the cross package's).
        [[ $1 == riscv64 ]] || echo "libcmocka-dev:$d libcmocka0:$d libc6:$d"
}

# "name=candidate-version" for each package, one apt-cache call (it is slow
# with several foreign architectures); empty version where there is none.
candidates() {
        apt-cache policy "$@" 2>/dev/null | awk '
                /^[^ ].*:$/ { name = substr($0, 1, length($0) - 1) }
                /^  Candidate:/ { print name "=" ($2 == "(none)" ? "" : $2) }'
}

# Prints the toolchain root (also the sysroot) of ARCH, fetching it once.
toolchain() {
        local arch=$1 pkgs key dir tmp p n
        pkgs=$(toolchain_pkgs "$arch")
        key=$(candidates $pkgs)
        n=$(grep -c '=.' <<<"$key")
        if ((n != $(wc -w <<<"$pkgs"))); then
                apt_update
                key=$(candidates $pkgs)
                n=$(grep -c '=.' <<<"$key")
        fi
        if ((n != $(wc -w <<<"$pkgs"))); then
                log "$arch: packages without a candidate: $(grep -v '=.' <<<"$key" | tr '\n' ' ')"
                return 1
        fi
        dir=$cache/toolchain-$arch-$(echo "$key" | sha256sum | cut -c1-16)
        if [[ ! -f $dir/.done ]]; then
                log "$arch: fetching the cross toolchain"
                rm -rf "$dir"
                tmp=$(mktemp -d "$cache/dl.XXXXXX")
                chmod 755 "$tmp"
                # shellcheck disable=SC2086
                if ! (cd "$tmp" && apt-get download -q $pkgs >/dev/null 2>&1); then
                        apt_update
                        # shellcheck disable=SC2086
                        (cd "$tmp" && apt-get download -q $pkgs >/dev/null) ||
                                { log "$arch: apt-get download failed"; rm -rf "$tmp"; return 1; }
                fi
                mkdir -p "$dir/rt"
                for p in "$tmp"/*.deb; do
                        # The port's runtime libraries go to rt/, the root
                        # qemu-user runs the unit tests in.
                        case ${p##*/} in
                        libc6_*) dpkg -x "$p" "$dir/rt" || return 1 ;;
                        libcmocka0_*) dpkg -x "$p" "$dir/rt" && dpkg -x "$p" "$dir" || return 1 ;;
                        *) dpkg -x "$p" "$dir" || return 1 ;;
                        esac
                done
                rm -rf "$tmp"
                # Links that are absolute in the packages (libc6's
                # lib64/ld64.so.2 -> /lib/powerpc64le-linux-gnu/ld64.so.2)
                # would leave the root for the host's /lib under qemu -L and
                # in the linker's sysroot: they point inside it instead.
                local l t
                while IFS= read -r -d '' l; do
                        t=$(readlink "$l")
                        if [[ $t == /* ]]; then
                                if [[ $l == "$dir/rt/"* ]]; then
                                        ln -sfnr "$dir/rt$t" "$l"
                                else
                                        ln -sfnr "$dir$t" "$l"
                                fi
                        fi
                done < <(find "$dir" -type l -print0)
                touch "$dir/.done"
        fi
        echo "$dir"
}

# use_toolchain ROOT: its programs first in PATH, and its own host
# libraries (binutils' libbfd-2.40-<arch>.so and the like, unpacked with
# it, never installed) where the loader looks.
use_toolchain() {
        export PATH=$1/usr/bin:$PATH
        export LD_LIBRARY_PATH=$1/usr/lib/$host_multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

# ---- cross builds ------------------------------------------------------
cross_file() {
        local arch=$1 root=$2 out=$3 static=$4 t fam cpu endian wrap rt
        t=$(triplet "$arch")
        read -r fam cpu endian <<<"$(meson_cpu "$arch")"
        rt=$root/rt
        [[ -e $rt/lib/$t ]] || rt=$root/usr/$t
        wrap="'$(qemu_user "$arch")', '-L', '$rt', '-E', 'LD_LIBRARY_PATH=/usr/lib/$t:$root/usr/lib/$t',"
        wrap+=" '-E', 'REPTYR_TEST_EMULATOR=$(qemu_user "$arch")'"
        cat >"$out" <<EOF
[binaries]
c = ['$root/usr/bin/$t-gcc-12', '--sysroot=$root']
ar = '$root/usr/bin/$t-ar'
strip = '$root/usr/bin/$t-strip'
pkgconfig = 'pkg-config'
exe_wrapper = [$wrap]

[properties]
sys_root = '$root'
pkg_config_libdir = ['$root/usr/lib/$t/pkgconfig', '$root/opt/cmocka/pkgconfig']

[built-in options]
c_link_args = [$([[ $static == 1 ]] && echo "'-static'")]

[host_machine]
system = 'linux'
cpu_family = '$fam'
cpu = '$cpu'
endian = '$endian'
EOF
}

# tests/arch/cmocka: a stand-in where Debian has no cmocka (riscv64), put
# into the toolchain's sysroot at /opt/cmocka.
cmocka_standin() {
        local arch=$1 root=$2 d=$2/opt/cmocka t
        t=$(triplet "$arch")
        [[ $arch == riscv64 ]] || return 0
        mkdir -p "$d/pkgconfig" "$d/include" "$d/lib"
        cp "$top/tests/arch/cmocka/cmocka.h" "$d/include/"
        "$root/usr/bin/$t-gcc-12" --sysroot="$root" -O2 -c "$top/tests/arch/cmocka/cmocka.c" \
                -I"$d/include" -o "$d/lib/cmocka.o" || return 1
        rm -f "$d/lib/libcmocka.a"
        "$root/usr/bin/$t-ar" rcs "$d/lib/libcmocka.a" "$d/lib/cmocka.o" || return 1
        # pkg-config prefixes these with the sysroot (meson's sys_root).
        printf '%s\n' 'Name: cmocka' 'Description: stand-in (tests/arch/cmocka)' 'Version: 1.1.5' \
                'Libs: -L/opt/cmocka/lib -lcmocka' 'Cflags: -I/opt/cmocka/include' >"$d/pkgconfig/cmocka.pc"
}

# cross_build ARCH ROOT: both trees; unit tests under qemu-user. Sets
# unit_result to "P F" (passed, failed).
cross_build() {
        local arch=$1 root=$2 b=$work/cross-$arch s=$work/cross-$arch-static rc
        use_toolchain "$root"
        cmocka_standin "$arch" "$root" || { log "$arch: cmocka stand-in failed"; return 1; }
        # A changed cross file (new toolchain, new options) means a new tree.
        cross_file "$arch" "$root" "$work/cross-$arch.ini.new" 0
        cross_file "$arch" "$root" "$work/cross-$arch-static.ini.new" 1
        cmp -s "$work/cross-$arch.ini.new" "$work/cross-$arch.ini" || rm -rf "$b"
        cmp -s "$work/cross-$arch-static.ini.new" "$work/cross-$arch-static.ini" || rm -rf "$s"
        mv "$work/cross-$arch.ini.new" "$work/cross-$arch.ini"
        mv "$work/cross-$arch-static.ini.new" "$work/cross-$arch-static.ini"
        if [[ ! -f $b/build.ninja ]]; then
                rm -rf "$b"
                meson setup "$b" "$top" --cross-file "$work/cross-$arch.ini" -Dwerror=true \
                        >"$work/setup-$arch.log" 2>&1 || { log "$arch: meson setup failed (see $work/setup-$arch.log)"; return 1; }
        fi
        if [[ ! -f $s/build.ninja ]]; then
                rm -rf "$s"
                meson setup "$s" "$top" --cross-file "$work/cross-$arch-static.ini" -Dwerror=true \
                        >"$work/setup-$arch-static.log" 2>&1 || { log "$arch: static meson setup failed"; return 1; }
        fi
        ninja -C "$b" >"$work/ninja-$arch.log" 2>&1 || { log "$arch: cross build failed (see $work/ninja-$arch.log)"; tail -20 "$work/ninja-$arch.log" >&2; return 1; }
        ninja -C "$s" tests/victims/victim-native tests/engine/engine-driver client/reptyrctl \
                tests/arch/arch-guest >"$work/ninja-$arch-static.log" 2>&1 ||
                { log "$arch: static build failed"; tail -20 "$work/ninja-$arch-static.log" >&2; return 1; }
        rm -f "$b/meson-logs/testlog.json"
        meson test -C "$b" --suite unit --print-errorlogs >"$work/unit-$arch.log" 2>&1
        rc=$?
        unit_result=$(/usr/bin/python3 - "$b/meson-logs/testlog.json" <<'EOF'
import json, sys
p = f = 0
try:
    for line in open(sys.argv[1]):
        t = json.loads(line)
        if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
            p += 1
        else:
            f += 1
            print("unit test failed:", t.get("name"), file=sys.stderr)
except OSError:
    f = 1
print(p, f)
EOF
        )
        log "$arch: unit tests under $(qemu_user "$arch"): $unit_result (passed failed), meson exit $rc"
        return 0
}

# ---- kernels -------------------------------------------------------------
# Prints the path of ARCH's kernel image.
kernel() {
        local arch=$1 pkg meta v dir tmp img
        if [[ $arch == riscv64 ]]; then
                riscv_kernel
                return
        fi
        meta=$(kernel_pkg "$arch")
        pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
        if [[ -z $pkg ]]; then
                apt_update
                pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
        fi
        [[ -n $pkg ]] || { log "$arch: cannot resolve $meta"; return 1; }
        v=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
        dir=$cache/kernel-$arch-$(echo "$pkg=$v" | sha256sum | cut -c1-16)
        if [[ ! -f $dir/.done ]]; then
                log "$arch: fetching $pkg $v"
                rm -rf "$dir"
                tmp=$(mktemp -d "$cache/dl.XXXXXX")
                chmod 755 "$tmp"
                (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
                        { apt_update; (cd "$tmp" && apt-get download -q "$pkg" >/dev/null); } ||
                        { log "$arch: apt-get download $pkg failed"; rm -rf "$tmp"; return 1; }
                mkdir -p "$dir/x"
                # Only boot/: the modules are not needed (no disks, no
                # network; the consoles are built in) and are most of it.
                dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$dir/x" --wildcards './boot/vmlinu*' ||
                        { log "$arch: cannot unpack $pkg"; return 1; }
                rm -rf "$tmp"
                img=$(ls "$dir"/x/boot/vmlinu[xz]-* 2>/dev/null | head -1)
                [[ -n $img ]] || { log "$arch: no kernel image in $pkg"; return 1; }
                cp "$img" "$dir/kernel"
                rm -rf "$dir/x"
                touch "$dir/.done"
        fi
        echo "$dir/kernel"
}

# A small riscv64 kernel from Debian's linux-source-6.1, keyed by the
# source version and the config fragment: tinyconfig plus what the engine
# and the victims use (FPU: glibc's programs die of SIGILL without it;
# CROSS_MEMORY_ATTACH: process_vm_readv; NET: SECCOMP_FILTER depends on it;
# UNIX: reptyrctl's worker socketpair; CHECKPOINT_RESTORE: the suspension
# of a seccomp filter for a tracer).
riscv_kernel() {
        local src=/usr/src/linux-source-6.1.tar.xz frag key dir o bdir
        frag="64BIT NONPORTABLE SOC_VIRT MMU FPU BLK_DEV_INITRD RD_GZIP BINFMT_ELF BINFMT_SCRIPT TTY
PRINTK PROC_FS SYSFS DEVTMPFS UNIX98_PTYS FUTEX MULTIUSER POSIX_TIMERS EPOLL SIGNALFD TIMERFD
EVENTFD SHMEM TMPFS SECCOMP SECCOMP_FILTER RISCV_SBI RISCV_SBI_V01 HVC_RISCV_SBI
SERIAL_EARLYCON_RISCV_SBI CROSS_MEMORY_ATTACH NET UNIX CHECKPOINT_RESTORE"
        [[ -f $src ]] || { log "riscv64: $src missing (package linux-source-6.1)"; return 1; }
        key=$( (dpkg-query -W -f='${Version}' linux-source-6.1; echo "$frag"; basename "$riscv_root") |
                sha256sum | cut -c1-16)
        dir=$cache/kernel-riscv64-$key
        if [[ ! -f $dir/.done ]]; then
                log "riscv64: building a kernel from linux-source-6.1 (a few minutes, once)"
                rm -rf "$dir"
                mkdir -p "$dir"
                bdir=$dir/src
                mkdir -p "$bdir"
                tar -xJf "$src" -C "$bdir" --strip-components=1 || return 1
                local mk=(make -C "$bdir" ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu-)
                (use_toolchain "$(toolchain_root_riscv)"
                        ln -sf "$(toolchain_root_riscv)/usr/bin/riscv64-linux-gnu-gcc-12" \
                                "$(toolchain_root_riscv)/usr/bin/riscv64-linux-gnu-gcc"
                        "${mk[@]}" tinyconfig >/dev/null &&
                                for o in $frag; do echo "CONFIG_$o=y"; done >"$bdir/frag.config" &&
                                (cd "$bdir" && ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- \
                                        scripts/kconfig/merge_config.sh -m .config frag.config >/dev/null) &&
                                "${mk[@]}" olddefconfig >/dev/null &&
                                "${mk[@]}" -j"$(nproc)" Image >"$dir/build.log" 2>&1) ||
                        { log "riscv64: kernel build failed (see $dir/build.log)"; return 1; }
                for o in $frag; do
                        grep -q "^CONFIG_$o=y" "$bdir/.config" || { log "riscv64: CONFIG_$o did not stick"; return 1; }
                done
                cp "$bdir/arch/riscv/boot/Image" "$dir/kernel"
                rm -rf "$bdir"
                touch "$dir/.done"
        fi
        echo "$dir/kernel"
}
toolchain_root_riscv() { echo "$riscv_root"; }

# ---- the guest -------------------------------------------------------------
# initramfs ARCH OUT [extra-arch]: /init and the programs it runs.
initramfs() {
        local arch=$1 out=$2 extra=${3:-} st=$work/cross-$1-static d
        d=$(mktemp -d "$work/initrd.XXXXXX")
        mkdir -p "$d"/{dev,proc,sys,tmp}
        cp "$st/tests/arch/arch-guest" "$d/init"
        cp "$st/tests/victims/victim-native" "$d/victim"
        cp "$st/tests/engine/engine-driver" "$d/engine-driver"
        cp "$st/client/reptyrctl" "$d/reptyrctl"
        if [[ -n $extra ]]; then
                cp "$work/cross-$extra-static/tests/victims/victim-native" "$d/victim32"
        fi
        (cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) >"$out" || return 1
        rm -rf "$d"
}

boot() {
        local arch=$1 kern=$2 initrd=$3 out=$4 q
        case $arch in
        aarch64) q=(qemu-system-aarch64 -M virt -cpu max -m 512 -append "console=ttyAMA0 panic=-1 quiet rdinit=/init") ;;
        arm) q=(qemu-system-arm -M virt -cpu cortex-a15 -m 512 -append "console=ttyAMA0 panic=-1 quiet rdinit=/init") ;;
        ppc64le) q=(qemu-system-ppc64 -M pseries -cpu power9 -m 1024 -append "console=hvc0 panic=-1 quiet rdinit=/init") ;;
        s390x) q=(qemu-system-s390x -M s390-ccw-virtio -cpu max -m 1024 -append "console=ttysclp0 panic=-1 quiet rdinit=/init") ;;
        riscv64) q=(qemu-system-riscv64 -M virt -m 512 -append "console=hvc0 earlycon=sbi panic=-1 quiet rdinit=/init") ;;
        esac
        # TCG only: /dev/kvm here runs only specially built guests.
        timeout --kill-after=10 "${ARCH_TEST_TIMEOUT:-900}" "${q[@]}" -accel tcg \
                -kernel "$kern" -initrd "$initrd" -display none -monitor none \
                -serial "file:$out" -nic none -no-reboot </dev/null >/dev/null 2>&1
}

report_fail() {
        echo "ARCHTEST $1: 0 passed, 1 failed ($2)"
}

# ---- main ----------------------------------------------------------------
for arch in "${arches[@]}"; do
        case " ${all_arches[*]} " in
        *" $arch "*) ;;
        *) echo "unknown architecture $arch (known: ${all_arches[*]})" >&2; exit 2 ;;
        esac
done
t_start=$SECONDS
need_host_tools || log "host tools missing: guests may not boot"
riscv_root=""
total_fail=0
declare -A unit built kern times
# aarch64's guest also runs the 32-bit arm victim: build arm too.
want=("${arches[@]}")
[[ " ${arches[*]} " == *" aarch64 "* && " ${arches[*]} " != *" arm "* ]] && want=(arm "${want[@]}")

# 1. toolchains and cross builds, one after the other (each uses both CPUs).
for arch in "${want[@]}"; do
        t0=$SECONDS
        root=$(toolchain "$arch") || { built[$arch]="toolchain"; continue; }
        [[ $arch == riscv64 ]] && riscv_root=$root
        t1=$SECONDS
        if cross_build "$arch" "$root"; then
                built[$arch]=ok
                unit[$arch]=$unit_result
        else
                built[$arch]="cross build"
        fi
        times[$arch]="toolchain $((t1 - t0)) s, cross builds and unit tests $((SECONDS - t1)) s"
done

# 2. kernels (downloads; riscv64 builds one).
for arch in "${arches[@]}"; do
        [[ ${built[$arch]} == ok ]] || continue
        t0=$SECONDS
        if k=$(kernel "$arch"); then
                kern[$arch]=$k
        else
                built[$arch]="kernel"
        fi
        times[$arch]+=", kernel $((SECONDS - t0)) s"
done

# 3. the guests, two at a time (TCG runs one vCPU per host thread).
boot_one() {
        local arch=$1 extra="" t0=$SECONDS
        [[ $arch == aarch64 && ${built[arm]:-} == ok ]] && extra=arm
        rm -f "$work/console-$arch.log"
        if initramfs "$arch" "$work/initrd-$arch.gz" "$extra"; then
                boot "$arch" "${kern[$arch]}" "$work/initrd-$arch.gz" "$work/console-$arch.log"
                echo "qemu exit $?, $((SECONDS - t0)) s" >"$work/boot-$arch.txt"
        else
                echo "initramfs failed" >"$work/boot-$arch.txt"
        fi
}
running=0
for arch in "${arches[@]}"; do
        [[ ${built[$arch]} == ok ]] || continue
        if ((running >= ${ARCH_TEST_JOBS:-2})); then
                wait -n
                running=$((running - 1))
        fi
        log "$arch: booting"
        boot_one "$arch" &
        running=$((running + 1))
done
wait

# 4. what each guest said.
for arch in "${arches[@]}"; do
        names=("$arch")
        [[ $arch == aarch64 ]] && names+=(arm-on-aarch64)
        if [[ ${built[$arch]} != ok ]]; then
                for n in "${names[@]}"; do report_fail "$n" "${built[$arch]} failed"; done
                total_fail=$((total_fail + 1))
                continue
        fi
        read -r up uf <<<"${unit[$arch]:-0 1}"
        echo "UNITTEST $arch: $up passed, $uf failed (cmocka under $(qemu_user "$arch"))"
        ((uf == 0)) || total_fail=$((total_fail + 1))
        out=$work/console-$arch.log
        log "$arch: ${times[$arch]}, boot and cases: $(cat "$work/boot-$arch.txt" 2>/dev/null)"
        grep -a -E "^(FAIL|case .*FAILED)" "$out" 2>/dev/null | tr -d '\r' >&2
        for n in "${names[@]}"; do
                line=$(tr -d '\r' <"$out" 2>/dev/null | grep -a "^ARCHTEST $n: " | tail -n 1)
                if [[ -z $line ]]; then
                        report_fail "$n" "no result line; console in $out"
                        tail -n 30 "$out" >&2 2>/dev/null
                        total_fail=$((total_fail + 1))
                        continue
                fi
                echo "$line"
                [[ $line =~ :\ ([0-9]+)\ passed,\ 0\ failed ]] || total_fail=$((total_fail + 1))
        done
done
log "all: $((SECONDS - t_start)) s"
((total_fail == 0))
