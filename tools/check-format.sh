#!/usr/bin/env bash
# clang-format --dry-run --Werror over every C file.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
pass=0
fail=0
for f in $( (git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h'; git ls-files -o --exclude-standard 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h') | sort -u); do
    if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        echo "FAIL not clang-formatted: $f (run 'make format')"
        fail=$((fail + 1))
    fi
done
echo "format: $pass passed, $fail failed"
[ "$fail" = 0 ]
