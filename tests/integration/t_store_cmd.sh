#!/usr/bin/env bash
# permafrost store put/get/ls/rm on a `type = local` store (no database, no S3 server): bytes go in
# and come back unchanged (a file, standard input, standard output, a file larger than one 1 MiB
# chunk); get writes mode 0600 and leaves no temporary file; ls lists keys with sizes, in key order,
# as text and JSON; rm removes; every misuse is a one-line error with the exit code of its kind,
# and a failed get leaves an existing target file untouched.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"

servers_trap
[[ -x ${PERMAFROST:-} ]] || fail "PERMAFROST must name the permafrost binary"
if [[ -n ${TEST_TMP:-} ]]; then
    T=$TEST_TMP
    mkdir -p "$T"
else
    make_tmpdir T
fi
unset PERMAFROST_CONFIG PERMAFROST_STATE_DIR

CONF=$T/pf.conf
printf '[global]\nstate_dir = %s/state\n\n[store "loc"]\ntype = local\npath = %s/store\n' \
    "$T" "$T" >"$CONF"

# 3 MiB + 5 bytes: several chunks and a short last one.
head -c $((3 * 1048576 + 5)) /dev/urandom >"$T/big.bin"
printf 'hello\n' >"$T/small.txt"

step "put a file, and standard input"
assert_ok pf store put loc dir/big.bin "$T/big.bin"
assert_contains "$ERR" "$((3 * 1048576 + 5)) bytes"
cmp "$T/big.bin" "$T/store/dir/big.bin" || fail "the stored bytes differ from the file"
assert_ok pf -q store put loc dir/a.txt - <"$T/small.txt"
assert_eq "" "$ERR" "stderr of a quiet put"
cmp "$T/small.txt" "$T/store/dir/a.txt" || fail "the bytes from standard input differ"
assert_eq "" "$(find "$T/store" -name '*.tmp-*')" "temporary files left in the store"

step "ls: text and JSON, in key order, with sizes"
assert_ok pf store ls loc
mapfile -t lines <<<"$OUT"
assert_eq 2 "${#lines[@]}" "lines of ls"
assert_match "${lines[0]}" '^ +6  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  dir/a\.txt$' "first line"
assert_match "${lines[1]}" "^ +$((3 * 1048576 + 5))  .*Z  dir/big\\.bin\$" "second line"
assert_ok pf store ls --json loc dir/b
assert_eq "dir/big.bin $((3 * 1048576 + 5))" \
    "$(python3 -c 'import json,sys; print(" ".join("%s %d" % (e["key"], e["size_bytes"]) for e in json.load(sys.stdin)))' <<<"$OUT")" \
    "ls --json with a prefix"
assert_ok pf store ls loc nothing/
assert_eq "" "$OUT" "ls of an empty prefix"

step "get to a file (0600, atomic) and to standard output"
assert_ok pf store get loc dir/big.bin "$T/got.bin"
cmp "$T/big.bin" "$T/got.bin" || fail "get returned different bytes"
assert_mode "$T/got.bin" 600
assert_ok pf store get loc dir/a.txt -
assert_eq "hello" "$OUT" "get to standard output"
assert_eq "" "$(find "$T" -maxdepth 1 -name '.*.tmp-*')" "temporary files left by get"

step "a failed get leaves the target file as it was"
printf 'keep me\n' >"$T/keep.txt"
assert_exit 1 pf store get loc dir/missing "$T/keep.txt"
assert_contains "$ERR" "error: store 'loc': get 'dir/missing'"
assert_contains "$ERR" "not found"
assert_eq "keep me" "$(cat "$T/keep.txt")" "the target after a failed get"
assert_eq "" "$(find "$T" -maxdepth 1 -name '.*.tmp-*')" "temporary files left by a failed get"

step "rm"
assert_ok pf store rm loc dir/a.txt
assert_contains "$ERR" "removed 'dir/a.txt'"
assert_missing "$T/store/dir/a.txt"
assert_ok pf store rm loc dir/a.txt
assert_contains "$ERR" "was not in store 'loc'"

step "misuse: one-line errors and the exit code of their kind"
assert_exit 2 pf store put nope k "$T/small.txt"
assert_contains "$ERR" "error: unknown store 'nope'"
assert_contains "$ERR" "hint: configured stores: 'loc'"
assert_exit 2 pf store put loc k
assert_contains "$ERR" "'store put' takes STORE KEY FILE"
assert_exit 2 pf store frob loc
assert_contains "$ERR" "unknown 'store' command 'frob'"
assert_exit 1 pf store put loc k "$T/does-not-exist"
assert_contains "$ERR" "error: store 'loc': put 'k': open '$T/does-not-exist'"
assert_exit 1 pf store put loc ../escape "$T/small.txt"
assert_contains "$ERR" "invalid key"
assert_missing "$T/escape"
assert_ok pf store --help
assert_contains "$OUT" "usage: permafrost store put STORE KEY FILE"
