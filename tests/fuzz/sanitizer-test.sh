#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The ASan+UBSan build (build-asan/): reptyrd, reptyrctl, the engine and the
# test programs with AddressSanitizer (LeakSanitizer included) and UBSan;
# the victims and the session holder without, as they are ptrace targets
# (tests/victims, tests/session). Runs the suites that drive the helper and
# the client through real adoptions, with every sanitized process (the
# bus-activated reptyrd too: dbus-daemon passes its environment on) writing
# its reports into one directory; each report is printed and fails the run.
#
#   tests/fuzz/sanitizer-test.sh [--build-dir DIR] [MESON TEST ARGS...]
#
# Default suites: unit, integration, bus (session and engine tests are in
# the latter two). The meson test results are in DIR/meson-logs/testlog.json
# (tests/run-all.sh counts them); this script's exit status is 1 when the
# build failed or any sanitizer reported anything, else 0, whatever the
# tests' own results.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"

dir=build-asan
if [[ ${1:-} == --build-dir ]]; then
        dir=$2
        shift 2
fi
args=("$@")
if ((${#args[@]} == 0)); then
        args=(--suite unit --suite integration --suite bus)
fi

start=$SECONDS
if [[ ! -f $dir/build.ninja ]]; then
        # UBSan aborts at the first error instead of printing and going on.
        if ! meson setup "$dir" -Dwerror=true -Db_sanitize=address,undefined \
                -Dc_args=-fno-sanitize-recover=all; then
                echo "FAIL ASan+UBSan: meson setup"
                exit 1
        fi
fi
if ! ninja -C "$dir"; then
        echo "FAIL ASan+UBSan: build"
        exit 1
fi
echo "==> ASan+UBSan: built in $((SECONDS - start)) s"

# Reports go to files, not stderr: an activated reptyrd's stderr is the
# bus's log, and a client's may be a pty nobody reads. Clients run as
# nobody and reptyr-test2 too, hence a sticky world-writable directory.
reports=$(mktemp -d /tmp/reptyr-sanitizer.XXXXXX)
chmod 1777 "$reports"
trap 'rm -rf "$reports"' EXIT

# detect_leaks: LeakSanitizer stops the process's threads with ptrace at
# exit, which works for a process that is not being traced; only the
# victims and the holder are traced, and they are not sanitized.
# fast_unwind_on_malloc=0: whole stacks through libraries built without
# frame pointers (libsystemd); log_exe_name: which program the report is of.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0:log_exe_name=1:log_path=$reports/asan"
# Test programs whose leaks at exit do not matter are listed in lsan.supp.
export LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_exe_name=1:log_path=$reports/ubsan"

rm -f "$dir/meson-logs/testlog.json"
start=$SECONDS
echo "==> ASan+UBSan: meson test ${args[*]}"
meson test -C "$dir" --print-errorlogs "${args[@]}" </dev/null
echo "==> ASan+UBSan: tests ran in $((SECONDS - start)) s"

mapfile -t found < <(find "$reports" -type f -size +0 | sort)
if ((${#found[@]} == 0)); then
        echo "PASS ASan+UBSan: no sanitizer reports"
        exit 0
fi
for f in "${found[@]}"; do
        echo "---- sanitizer report ${f##*/} ----"
        cat "$f"
done
echo "FAIL ASan+UBSan: ${#found[@]} sanitizer report(s) above"
exit 1
