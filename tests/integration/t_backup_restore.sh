#!/usr/bin/env bash
# Backup of a Mastodon-shaped database, then restores: the data, the schema and the artifact must
# be right, the artifact must work with stock zstd/pg_restore, files and directories must be private,
# and restore must refuse to write over a non-empty database unless told to.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=br_src
step "generate a ~15 MB Mastodon-shaped database"
pg_new_db "$src"
"$root/tools/gen-mastodon-db.sh" -q --size-mb 15 -- -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" \
    -U mastodon -d "$src"
pg_fingerprint "$src" >"$T/src.fp"
pg_schema "$src" >"$T/src.schema"
assert_eq 6 "$(grep -c -E '^public\.(accounts|statuses|media_attachments|follows|favourites|schema_migrations)	' "$T/src.fp")" \
    "generated tables"

write_conf "$T/pf.conf" "$src" "keep = last 3"
assert_ok pf config check

step "run"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshot directories after one run"
snap=${dirs[0]##*/}
assert_match "$snap" '^[0-9]{8}T[0-9]{6}Z-[a-z0-9]+$' "snapshot id"
sdir=$T/store/db/$snap
artifact=$sdir/$src.dump.zst
assert_exists "$sdir/manifest.json"
assert_exists "$artifact"

step "files 0600, directories 0700"
bad=$(find "$T/store" \( \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) \) -printf '%m %p\n')
assert_eq "" "$bad" "files/directories with other modes"

step "manifest: sha256, size, row counts"
manifest=$sdir/manifest.json
read -r m_sha m_size < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
a = [a for a in m["artifacts"] if a["name"] == sys.argv[2]]
assert len(a) == 1, "artifact not in manifest"
print(a[0]["sha256"], a[0]["size_bytes"])
' "$manifest" "$src.dump.zst")
assert_eq "$(sha256sum "$artifact" | cut -d' ' -f1)" "$m_sha" "manifest sha256 vs sha256sum"
assert_eq "$(stat -c %s "$artifact")" "$m_size" "manifest size_bytes vs file size"
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["job"] == "db" and m["snapshot_id"] == sys.argv[2], "job/snapshot_id"
counts = {(t["schema"], t["name"]): t["rows"] for t in m["postgres"]["tables"]}
for line in open(sys.argv[3]):
    name, rows, digest = line.rstrip("\n").split("\t")
    if "/" in digest:  # a sequence
        continue
    schema, table = name.split(".", 1)
    got = counts.get((schema, table))
    assert got == int(rows), "manifest rows of %s: %r, database has %s" % (name, got, rows)
head = m["postgres"].get("schema_migrations_head")
assert head in (None, "20240307151700"), "schema_migrations_head %r" % head
' "$manifest" "$snap" "$T/src.fp" || fail "manifest contents (see above)"

step "stock tools: zstd -d | pg_restore --list, and a restore without permafrost"
assert_ok zstd -q -t "$artifact"
# To a file: pg_restore --list reads only the table of contents, which would cut a pipe short.
zstd -q -dc "$artifact" >"$T/raw.dump" || fail "zstd -d failed"
toc=$("$PG_BIN/pg_restore" --list "$T/raw.dump") || fail "pg_restore --list failed"
assert_contains "$toc" "TABLE DATA public statuses"
assert_contains "$toc" "INDEX public index_statuses_20190820"
assert_contains "$toc" "FK CONSTRAINT public statuses fk_9bda1543f7"
pg_new_db br_stock
zstd -q -dc "$artifact" | "$PG_BIN/pg_restore" -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" -U mastodon \
    -d br_stock --exit-on-error || fail "stock zstd -d | pg_restore of the artifact failed"
pg_fingerprint br_stock >"$T/stock.fp"
assert_ok cmp "$T/src.fp" "$T/stock.fp"

step "list --json"
assert_ok pf list --json
list_json=$OUT
assert_eq 1 "$(json_complete_count db <<<"$list_json")" "complete snapshots in list --json"
assert_eq "$snap" "$(json_snapshot_field db latest id <<<"$list_json")" "id in list --json"
assert_eq "$m_size" "$(json_snapshot_field db latest size_bytes <<<"$list_json")" "size_bytes"
assert_contains "$(json_snapshot_field db latest stores <<<"$list_json")" "local" "stores"
assert_ok pf list
assert_contains "$OUT" "$snap" "list"
# The job name may come before the option, as in the usage examples.
assert_ok pf list db --json
assert_eq "$snap" "$(json_snapshot_field db latest id <<<"$OUT")" "id in list db --json"

step "restore latest --create into a new database"
at_exit pg_drop_db br_r1
assert_ok pf restore db latest --to "$(pg_conninfo_socket br_r1)" --create
pg_fingerprint br_r1 >"$T/r1.fp"
assert_ok diff "$T/src.fp" "$T/r1.fp"
pg_schema br_r1 >"$T/r1.schema"
assert_ok diff "$T/src.schema" "$T/r1.schema"

step "restore SNAPSHOT-ID --jobs 2 into an existing empty database"
pg_new_db br_r2
assert_ok pf restore db "$snap" --to "$(pg_conninfo_socket br_r2)" --jobs 2
pg_fingerprint br_r2 >"$T/r2.fp"
assert_ok diff "$T/src.fp" "$T/r2.fp"

step "restore into a non-empty database: refused without --clean"
psql_db br_r1 -c "DELETE FROM favourites WHERE id % 2 = 0" >/dev/null
pg_fingerprint br_r1 >"$T/r1-changed.fp"
assert_exit 1 pf restore db latest --to "$(pg_conninfo_socket br_r1)"
assert_contains "$ERR" "not empty" "error for a non-empty target"
pg_fingerprint br_r1 >"$T/r1-after.fp"
assert_ok cmp "$T/r1-changed.fp" "$T/r1-after.fp"

step "... and done with --clean"
assert_ok pf restore db latest --to "$(pg_conninfo_socket br_r1)" --clean
pg_fingerprint br_r1 >"$T/r1-clean.fp"
assert_ok diff "$T/src.fp" "$T/r1-clean.fp"

step "--create refuses an existing database"
assert_fails pf restore db latest --to "$(pg_conninfo_socket br_r2)" --create

step "a corrupted artifact is detected before anything is restored"
cp -p "$artifact" "$T/artifact.bak"
printf 'X' | dd of="$artifact" bs=1 seek=$(($(stat -c %s "$artifact") / 2)) conv=notrunc status=none
pg_new_db br_r3
assert_fails pf restore db latest --to "$(pg_conninfo_socket br_r3)"
tables=$(psql_su -d br_r3 -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
assert_eq 0 "$tables" "tables restored from a corrupted artifact"
cp -p "$T/artifact.bak" "$artifact"

echo "PASS"
