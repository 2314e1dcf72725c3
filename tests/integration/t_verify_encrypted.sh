#!/usr/bin/env bash
# verify on encrypted snapshots, and the cases a review found: with the identity, verify
# authenticates age, decodes zstd and drills the restore; without one it checks the SHA-256 only
# and says so; a changed byte in the age header is an integrity failure (exit 4), not "no identity
# matches", while a wrong identity on an intact file is a configuration error (exit 3) that says
# the file is intact; a snapshot whose manifest.json was removed is exit 4, not skipped.
# timeout: 180
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=ve_src
pg_new_db "$src"
psql_db "$src" -q -c "CREATE TABLE accounts (id bigint PRIMARY KEY, username text NOT NULL);
    INSERT INTO accounts SELECT g, 'user' || g FROM generate_series(1, 3000) g;" >/dev/null

step "keys: the job's identity and a second, unrelated one"
CONF=/dev/null
assert_ok "$PERMAFROST" keygen -o "$T/id.txt"
recipient=$OUT
assert_mode "$T/id.txt" 600
assert_ok "$PERMAFROST" keygen -o "$T/other.txt"
write_conf "$T/pf.conf" "$src" "encrypt = $recipient" "identity = file:$T/id.txt"
write_conf "$T/nokey.conf" "$src" "encrypt = $recipient"
CONF=$T/pf.conf

step "two encrypted snapshots"
assert_ok pf run db
assert_contains "$OUT" "encrypted age, to 1 recipient" "run report"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 2 "${#dirs[@]}" "snapshots"
old=${dirs[0]##*/}
new=${dirs[1]##*/}
artifact=${dirs[1]}/$src.dump.zst.age
assert_exists "$artifact"

step "verify with the identity: age authenticated, TOC read, drill restored"
assert_ok pf verify db --snapshot latest --restore
assert_contains "$OUT" "1 check, 1 ok, 0 failed" "summary"
assert_contains "$OUT" "1 tables, 3000 rows match the manifest" "drill"

step "verify without an identity: SHA-256 only, and it says so"
CONF=$T/nokey.conf
assert_ok pf verify db --snapshot latest --restore
assert_contains "$OUT" "sha256 only" "digest-only item"
assert_contains "$OUT" "no restore drill" "no drill without a key"
CONF=$T/pf.conf

step "a wrong identity on an intact file: exit 3, the file is intact"
assert_exit 3 pf verify db --snapshot latest --identity "$T/other.txt"
assert_contains "$OUT$ERR" "no identity matches" "wrong key"
assert_contains "$OUT$ERR" "the file is intact" "digest confirmed"
assert_exit 3 pf restore db latest --identity "$T/other.txt" \
    --to "$(pg_conninfo_socket ve_never)" --create
assert_contains "$ERR" "no identity matches" "restore with a wrong key"

step "one byte of the age header changed: exit 4 (integrity), naming snapshot and store"
cp -p "$artifact" "$T/artifact.orig"
python3 - "$artifact" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
# the second header line is the X25519 stanza ("-> X25519 <share>"): change a share character
i = b.index(b"-> X25519 ") + 12
b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(bytes(b))
PY
assert_exit 4 pf verify db --snapshot latest
assert_contains "$OUT$ERR" "$new" "names the snapshot"
assert_contains "$OUT$ERR" "does not match its manifest" "digest mismatch"
assert_exit 4 pf restore db latest --to "$(pg_conninfo_socket ve_never)" --create
cp -p "$T/artifact.orig" "$artifact"

step "a snapshot that lost its manifest.json: exit 4"
rm "${dirs[0]}/manifest.json"
assert_exit 4 pf verify db
assert_contains "$OUT$ERR" "snapshot '$old' on store 'local' has no manifest.json" "orphan named"
assert_exit 4 pf verify db --snapshot "$old"
assert_contains "$OUT$ERR" "has no manifest.json" "the snapshot asked for by id"
step "the newest snapshot still verifies on its own"
assert_ok pf verify db --snapshot latest
