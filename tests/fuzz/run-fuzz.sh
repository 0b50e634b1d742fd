#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the libFuzzer targets (clang, ASan+UBSan, in build-fuzz/) and run
# each for a bounded time, starting from the seed corpus in
# tests/fuzz/corpus/TARGET. One line per target,
#
#     PASS: fuzz-TARGET (N runs)
#     FAIL: fuzz-TARGET: reproducer PATH
#
# and last exactly one line "N passed, M failed". A build that fails counts
# as one failed test. Exit status 0 only when nothing failed.
#
#   tests/fuzz/run-fuzz.sh [--time SECONDS] [--build-dir DIR] [TARGET...]
#
# TARGET: options proc-stat proc-status proc-fdinfo auxv (default: all).
# New inputs found go to DIR/fuzz-work/TARGET (not into the tree's corpus);
# crash reproducers to DIR/fuzz-artifacts/.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"

seconds=60
dir=build-fuzz
targets=()
while (($#)); do
        case $1 in
        --time) seconds=$2; shift 2 ;;
        --build-dir) dir=$2; shift 2 ;;
        -h | --help) sed -n '3,18p' "$0"; exit 0 ;;
        -*) echo "usage: $0 [--time SECONDS] [--build-dir DIR] [TARGET...]" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
        esac
done
if ((${#targets[@]} == 0)); then
        targets=(options proc-stat proc-status proc-fdinfo auxv)
fi

passed=0
failed=0
summary() {
        echo "$passed passed, $failed failed"
        ((failed == 0))
        exit
}

# Coverage (fuzzer-no-link) for everything the targets link, ASan+UBSan
# everywhere; UBSan errors abort instead of printing and going on.
if [[ ! -f $dir/build.ninja ]]; then
        if ! CC=clang meson setup "$dir" -Dwerror=true -Dfuzz=true \
                -Db_sanitize=address,undefined \
                "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all"; then
                echo "FAIL: fuzz build: meson setup (needs clang and libclang-rt-14-dev)"
                failed=$((failed + 1))
                summary
        fi
fi
start=$SECONDS
if ! ninja -C "$dir" fuzzers; then
        echo "FAIL: fuzz build: ninja -C $dir fuzzers"
        failed=$((failed + 1))
        summary
fi
echo "==> fuzzers built in $((SECONDS - start)) s"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1

for t in "${targets[@]}"; do
        exe=$dir/tests/fuzz/fuzz-$t
        seeds=tests/fuzz/corpus/$t
        work=$dir/fuzz-work/$t
        artifacts=$dir/fuzz-artifacts/$t
        log=$dir/fuzz-work/$t.log
        if [[ ! -x $exe ]]; then
                echo "FAIL: fuzz-$t: $exe was not built"
                failed=$((failed + 1))
                continue
        fi
        mkdir -p "$work" "$artifacts"
        rm -f "$artifacts"/*
        echo "==> fuzz-$t: ${seconds} s from $seeds"
        start=$SECONDS
        # The first corpus directory receives new inputs; the seeds are read
        # only. -timeout: an input that takes 10 s is a hang, i.e. a failure.
        # The outer timeout is a last resort should libFuzzer itself hang.
        timeout --kill-after=30 $((seconds + 300)) "$exe" -max_total_time="$seconds" \
                -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$artifacts/" "$work" "$seeds" >"$log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        if ((rc == 0)); then
                echo "PASS: fuzz-$t (${runs:-?} runs in $((SECONDS - start)) s)"
                passed=$((passed + 1))
        else
                repro=$(find "$artifacts" -type f | head -n 1)
                tail -n 60 "$log"
                echo "FAIL: fuzz-$t: exit $rc, reproducer ${repro:-none (see $log)}"
                echo "      replay: $exe ${repro:-INPUT}"
                failed=$((failed + 1))
        fi
done
summary
