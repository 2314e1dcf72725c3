#!/usr/bin/env bash
# make check: static checks, the -Werror build with unit tests and fuzz-corpus replay, the ASan+UBSan
# build with unit, replay and integration tests. Every suite prints "NAME: N passed, N failed"; this
# script adds them up and ends with "check: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

total_pass=0
total_fail=0
log_dir=$(mktemp -d /tmp/permafrost-check-XXXXXX)

# Runs a suite, shows its output, and adds the counts of its last "N passed, N failed" line. A suite
# that exits non-zero without such a line counts as one failure.
suite() {
    local name=$1
    shift
    echo "== $name"
    "$@" 2>&1 | tee "$log_dir/$name.log"
    local status=${PIPESTATUS[0]}
    local line
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log_dir/$name.log" | tail -n 1)
    if [ -n "$line" ]; then
        local p f
        p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
        f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
        total_pass=$((total_pass + p))
        total_fail=$((total_fail + f))
        if [ "$status" != 0 ] && [ "$f" = 0 ]; then
            total_fail=$((total_fail + 1))
        fi
    elif [ "$status" = 0 ]; then
        total_pass=$((total_pass + 1))
    else
        total_fail=$((total_fail + 1))
    fi
}

suite layers tools/check-layers.sh
suite banned tools/check-banned.sh
suite format tools/check-format.sh
suite shellcheck tools/check-shell.sh

if [ ! -f build/build.ninja ]; then
    meson setup build -Dwerror=true >/dev/null
fi
suite build ninja -C build
suite unit build/tests/unit/unit
suite replay tools/replay-corpus.sh build

if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all >/dev/null
fi
suite build-asan ninja -C build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suite unit-asan build-asan/tests/unit/unit
suite replay-asan tools/replay-corpus.sh build-asan
suite integration tests/integration/run.sh "$PWD/build-asan/permafrost"

rm -rf "$log_dir"
echo "check: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
