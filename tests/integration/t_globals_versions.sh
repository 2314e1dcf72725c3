#!/usr/bin/env bash
# globals = yes adds globals.sql.zst (roles, from pg_dumpall) to the snapshot and its manifest; a
# non-superuser role gets its roles dumped without passwords. A pg_dump older than the server is
# refused, naming both versions, and leaves no snapshot. A job with two targets writes the same
# complete snapshot to both.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=gv_src
pg_new_db "$src"
psql_db "$src" -c "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 2000) i" >/dev/null

step "globals = yes: globals.sql.zst holds the roles, listed in the manifest"
write_conf "$T/pf.conf" "$src" "globals = yes"
assert_ok pf run db
assert_contains "$ERR" "not a superuser" "run log"
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshot directories"
assert_exists "${dirs[0]}/globals.sql.zst"
zstd -dq <"${dirs[0]}/globals.sql.zst" >"$T/globals.sql"
assert_file_contains "$T/globals.sql" "CREATE ROLE mastodon"
assert_file_not_contains "$T/globals.sql" "SCRAM-SHA-256"
manifest_names=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(" ".join(sorted(a["name"] for a in m["artifacts"])))
' "${dirs[0]}/manifest.json")
assert_eq "globals.sql.zst $src.dump.zst" "$manifest_names" "artifacts in the manifest"
sum=$(sha256sum "${dirs[0]}/globals.sql.zst" | cut -d' ' -f1)
want=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print([a for a in m["artifacts"] if a["name"] == "globals.sql.zst"][0]["sha256"])
' "${dirs[0]}/manifest.json")
assert_eq "$want" "$sum" "sha256 of globals.sql.zst"

step "a pg_dump older than the server is refused with both versions named"
fake=$T/old-pg_dump
cat >"$fake" <<'SH'
#!/bin/sh
if [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 14.11 (Debian 14.11-1)"; exit 0; fi
echo "this fake pg_dump must never dump" >&2
exit 1
SH
chmod +x "$fake"
write_conf "$T/pf.conf" "$src" "pg_dump = $fake"
assert_exit 1 pf run db
assert_contains "$ERR" "pg_dump 14.11" "error"
assert_contains "$ERR" "PostgreSQL 15." "error"
assert_contains "$ERR" "hint: install postgresql-client-15" "hint"
mapfile -t after < <(snapshot_dirs db)
assert_eq "${dirs[*]}" "${after[*]}" "snapshot directories after the refused run"

step "two targets: the same complete snapshot on both, listed with both stores"
{
    printf '[global]\nstate_dir = %s/state2\n\n' "$T"
    printf '[store "a"]\ntype = local\npath = %s/a\n\n' "$T"
    printf '[store "b"]\ntype = local\npath = %s/b\n\n' "$T"
    printf '[job "db"]\nkind = postgres\ndatabase = %s\npassword = env:DB_PASS\ntargets = a, b\n' \
        "$(pg_conninfo "$src")"
} >"$T/two.conf"
CONF=$T/two.conf
assert_ok pf run db
mapfile -t in_a < <(snapshot_dirs db "$T/a")
mapfile -t in_b < <(snapshot_dirs db "$T/b")
assert_eq 1 "${#in_a[@]}" "snapshots in store a"
assert_eq "${in_a[0]##*/}" "${in_b[0]##*/}" "same snapshot id in both stores"
assert_ok cmp "${in_a[0]}/manifest.json" "${in_b[0]}/manifest.json"
assert_ok cmp "${in_a[0]}/$src.dump.zst" "${in_b[0]}/$src.dump.zst"
assert_ok pf list --json db
stores=$(python3 -c 'import json, sys; print(",".join(json.load(sys.stdin)[0]["stores"]))' <<<"$OUT")
assert_eq "a,b" "$stores" "stores in list --json"

step "restore --from the second store after the first one is gone"
rm -rf "$T/a"
pg_drop_db gv_restored || true
assert_ok pf restore db latest --from b --to "$(pg_conninfo_socket gv_restored)" --create
assert_eq "$(pg_fingerprint "$src")" "$(pg_fingerprint gv_restored)" "restored data"
pg_drop_db gv_restored || true
