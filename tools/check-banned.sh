#!/usr/bin/env bash
# Banned calls (curl's idea, STYLE.md section 6): unsafe string functions, shells, and raw allocation
# outside util/xalloc.c.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
fail=0
files=$( (git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h'; git ls-files -o --exclude-standard 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h') | sort -u)
count=0
for f in $files; do
    count=$((count + 1))
    hits=$(grep -nE '(^|[^_a-zA-Z0-9.>])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atof|strtok|system|popen|alloca)[[:space:]]*\(' "$f" | grep -vE '^\s*[0-9]+:\s*(/\*|\*)')
    if [ "$f" != src/util/xalloc.c ]; then
        hits+=$(grep -nE '(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|free)[[:space:]]*\(' "$f" | grep -vE '^\s*[0-9]+:\s*(/\*|\*)')
    fi
    if [ -n "$hits" ]; then
        echo "FAIL $f:"
        echo "$hits"
        fail=$((fail + 1))
    fi
done
echo "banned: $((count - fail)) passed, $fail failed"
[ "$fail" = 0 ]
