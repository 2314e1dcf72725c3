#!/usr/bin/env bash
# Runs shellcheck over every shell script in the repository.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
pass=0
fail=0
for f in $( (git ls-files '*.sh' .ci/run; git ls-files -o --exclude-standard '*.sh') | sort -u); do
    if shellcheck -x -S warning "$f"; then
        pass=$((pass + 1))
    else
        echo "FAIL shellcheck: $f"
        fail=$((fail + 1))
    fi
done
echo "shellcheck: $pass passed, $fail failed"
[ "$fail" = 0 ]
