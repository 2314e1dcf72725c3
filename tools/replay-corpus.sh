#!/usr/bin/env bash
# Replays every fuzz target's committed corpus (tests/fuzz/corpus/NAME) with the replay driver built
# in BUILD_DIR/tests/fuzz, and ends with "replay: N passed, N failed" (one per target).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=${1:-build}
pass=0
fail=0
for dir in tests/fuzz/corpus/*/; do
    name=$(basename "$dir")
    bin="$build/tests/fuzz/fuzz_$name"
    if [ ! -x "$bin" ]; then
        echo "FAIL replay $name: $bin is missing"
        fail=$((fail + 1))
        continue
    fi
    if out=$("$bin" "$dir" 2>&1); then
        echo "ok   replay $name: $(tail -n 1 <<<"$out")"
        pass=$((pass + 1))
    else
        echo "$out" | tail -n 20
        echo "FAIL replay $name"
        fail=$((fail + 1))
    fi
done
echo "replay: $pass passed, $fail failed"
[ "$fail" = 0 ]
