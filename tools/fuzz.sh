#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets with clang (build-fuzz, -Dfuzz=true, ASan+UBSan) and fuzzes
# each for FUZZ_SECONDS (default 60), growing its corpus in tests/fuzz/corpus/NAME. New corpus files are
# meant to be reviewed and committed; crashes land in tests/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
seconds=${FUZZ_SECONDS:-60}
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-fuzz
mkdir -p tests/fuzz/crashes
for dir in tests/fuzz/corpus/*/; do
    name=$(basename "$dir")
    echo "== fuzz_$name for ${seconds}s"
    "build-fuzz/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len=65536 \
        -artifact_prefix="tests/fuzz/crashes/$name-" "$dir"
done
