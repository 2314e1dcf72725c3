#!/usr/bin/env bash
# make lint: clang-tidy over src/ (with build/compile_commands.json) and a gcc -fanalyzer build. Both
# gate. Ends with "lint: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
pass=0
fail=0

if [ ! -f build/compile_commands.json ]; then
    meson setup build -Dwerror=true >/dev/null
fi
ninja -C build >/dev/null
for f in $(git ls-files 'src/*.c'); do
    if out=$(clang-tidy -quiet -p build --extra-arg=-Wno-unknown-warning-option "$f" 2>&1); then
        pass=$((pass + 1))
    else
        echo "$out" | grep -vE '^[0-9]+ warnings? generated' | head -40
        echo "FAIL clang-tidy: $f"
        fail=$((fail + 1))
    fi
done

if [ ! -f build-analyzer/build.ninja ]; then
    meson setup build-analyzer -Dwerror=true -Danalyzer=true -Dbuildtype=debug >/dev/null
fi
if ninja -C build-analyzer; then
    pass=$((pass + 1))
else
    echo "FAIL gcc -fanalyzer build"
    fail=$((fail + 1))
fi
echo "lint: $pass passed, $fail failed"
[ "$fail" = 0 ]
