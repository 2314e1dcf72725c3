#!/usr/bin/env bash
# permafrost verify and restore drills: a good postgres snapshot verifies (integrity and --restore,
# the scratch database is gone afterwards); a flipped byte in the artifact, a removed artifact and
# a wrong sha256 in the manifest each exit 4 naming the snapshot and the store; a row count altered
# in the manifest makes the drill fail with exit 4 (and the scratch database is still dropped); a
# redis snapshot verifies and drills into a throwaway redis-server; `list` shows the verifications.
# timeout: 240
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/redis.sh
. "$root/tests/lib/redis.sh"
test_init

src=vf_src
step "a small database and a snapshot"
pg_new_db "$src"
psql_db "$src" -q -c "CREATE TABLE accounts (id bigint PRIMARY KEY, username text NOT NULL);
    INSERT INTO accounts SELECT g, 'user' || g FROM generate_series(1, 5000) g;
    CREATE TABLE statuses (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts, text text);
    INSERT INTO statuses SELECT g, 1 + g % 5000, repeat('toot ', 20) FROM generate_series(1, 20000) g;
    CREATE TABLE empty_table (id int);" >/dev/null
write_conf "$T/pf.conf" "$src"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshots"
snap=${dirs[0]##*/}
sdir=$T/store/db/$snap
artifact=$sdir/$src.dump.zst
manifest=$sdir/manifest.json
assert_exists "$artifact"

# scratch_dbs: the drills' databases still on the server.
scratch_dbs()
{
    psql_su -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'permafrost\_verify\_%'"
}

step "list before any verify: never"
assert_ok pf list
assert_contains "$OUT" "never" "list"
assert_ok pf list --json
assert_eq "None" "$(json_snapshot_field db latest verified <<<"$OUT")" "verified in list --json"

step "verify: a good snapshot passes"
assert_ok pf verify
assert_contains "$OUT" "ok      job 'db' snapshot $snap on 'local' (integrity" "verify output"
assert_contains "$OUT" "PGDMP header, TOC" "verify checks the TOC"
assert_contains "$OUT" "1 check, 1 ok, 0 failed" "summary"
assert_ok pf list
assert_match "$OUT" "integrity ok [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}" "list after verify"

step "verify --json"
assert_ok pf verify db --snapshot latest --json
python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"] is True and d["checked"] == 1 and d["failed"] == 0, d
it = d["items"][0]
assert it["snapshot"] == sys.argv[1] and it["store"] == "local" and it["result"] == "ok", it
' "$snap" <<<"$OUT" || fail "verify --json"

step "verify --restore: drill into a scratch database, dropped afterwards"
assert_ok pf verify db --restore
assert_contains "$OUT" "(restore," "drill item"
assert_contains "$OUT" "3 tables, 25000 rows match the manifest" "drill detail"
assert_eq "" "$(scratch_dbs)" "scratch databases left behind"
assert_ok pf list
assert_contains "$OUT" "restore ok" "list after a drill"
assert_ok pf list --json
assert_eq "restore" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["verified"]["level"])' <<<"$OUT")" "level in list --json"

cp -p "$artifact" "$T/artifact.orig"
cp -p "$manifest" "$T/manifest.orig"
restore_files()
{
    cp -p "$T/artifact.orig" "$artifact"
    cp -p "$T/manifest.orig" "$manifest"
}

step "a flipped byte in the artifact: exit 4 naming snapshot and store"
python3 - "$artifact" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(bytes(b))
PY
assert_exit 4 pf verify db
assert_contains "$ERR" "snapshot '$snap' on store 'local'" "error names snapshot and store"
assert_contains "$OUT" "FAILED  job 'db' snapshot $snap on 'local'" "item line"
assert_contains "$OUT" "1 failed" "summary"
assert_ok pf list
assert_contains "$OUT" "integrity FAILED" "list after a failed verify"
restore_files

step "a removed artifact: exit 4"
rm -f "$artifact"
assert_exit 4 pf verify db
assert_contains "$ERR" "snapshot '$snap' on store 'local'" "error names snapshot and store"
assert_contains "$ERR" "artifact '$src.dump.zst': missing from the store" "error names the artifact"
restore_files

step "a wrong sha256 in the manifest: exit 4"
python3 - "$manifest" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
a = m["artifacts"][0]
a["sha256"] = ("0" if a["sha256"][0] != "0" else "1") + a["sha256"][1:]
json.dump(m, open(p, "w"), indent=2)
PY
assert_exit 4 pf verify db
assert_contains "$ERR" "does not match its manifest" "error"
assert_contains "$ERR" "store 'local'" "error names the store"
restore_files
assert_ok pf verify db

step "a row count altered in the manifest: integrity passes, the drill fails with exit 4"
python3 - "$manifest" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
for t in m["postgres"]["tables"]:
    if t["name"] == "statuses":
        t["rows"] += 1
json.dump(m, open(p, "w"), indent=2)
PY
assert_ok pf verify db
assert_exit 4 pf verify db --restore
assert_contains "$ERR" "table 'public.statuses' has 20000 rows after the restore, the manifest says 20001" "drill error"
assert_contains "$ERR" "snapshot '$snap' from store 'local'" "drill error names snapshot and store"
assert_eq "" "$(scratch_dbs)" "scratch databases left behind after a failed drill"
assert_ok pf list
assert_contains "$OUT" "restore FAILED" "list after a failed drill"
restore_files

step "--snapshot and --from"
assert_ok pf verify db --snapshot "$snap" --from local
assert_exit 1 pf verify db --snapshot 20000101T000000Z-aaaa
assert_contains "$ERR" "no complete snapshot '20000101T000000Z-aaaa'" "unknown snapshot"
assert_exit 2 pf verify nosuchjob
assert_exit 2 pf verify db --from nosuchstore

step "redis: a snapshot verifies and drills into a throwaway server"
redis_start "$T/redis"
rport=$REDIS_PORT
for i in $(seq 1 300); do
    printf 'SET key:%d value-%d\n' "$i" "$i"
done | rcli "$rport" >/dev/null
rcli "$rport" SET expiring value EX 3600 >/dev/null
printf 'SELECT 1\nSET other:1 a\nSET other:2 b\n' | rcli "$rport" >/dev/null
printf '\n[job "cache"]\nkind = redis\nurl = redis://127.0.0.1:%s\ntargets = local\n' "$rport" >>"$CONF"
assert_ok pf run cache
assert_ok pf verify cache
assert_contains "$OUT" "keys db0 301, db1 2" "key counts read from the RDB"
assert_ok pf verify cache --restore
assert_contains "$OUT" "(restore," "redis drill item"
assert_contains "$OUT" "loaded by a throwaway redis" "throwaway server"
assert_contains "$OUT" "key counts match" "throwaway server key counts"
assert_ok pf list cache
assert_contains "$OUT" "restore ok" "list of the redis job"

step "redis: a key count altered in the manifest fails the check"
rsdir=$(redis_newest_snapshot cache)
cp -p "$rsdir/manifest.json" "$T/rmanifest.orig"
python3 - "$rsdir/manifest.json" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
for d in m["redis"]["keys"]:
    if d["db"] == 1:
        d["keys"] += 1
json.dump(m, open(p, "w"), indent=2)
PY
assert_exit 4 pf verify cache
assert_contains "$ERR" "db1 holds 2 keys, the manifest says 3" "key count error"
cp -p "$T/rmanifest.orig" "$rsdir/manifest.json"

step "every job at once"
assert_ok pf verify
assert_contains "$OUT" "2 checks, 2 ok, 0 failed" "summary over both jobs"

step "a kind = verify job: run drills every job's snapshots, recorded as a run"
printf '\n[job "drill"]\nkind = verify\njobs = db, cache\nsnapshots = all\n' >>"$CONF"
assert_ok pf config check
assert_ok pf run drill
assert_contains "$OUT" "job 'drill': verify ok, 2 checks" "verify job output"
assert_contains "$OUT" "(restore," "the verify job drills by default"
assert_eq "" "$(scratch_dbs)" "scratch databases left behind by the verify job"
assert_eq "ok" "$(sqlite3 "$T/state/catalog.db" "SELECT result FROM runs WHERE job = 'drill'")" "run recorded"
rm -f "$artifact"
assert_exit 4 pf run drill
assert_contains "$OUT" "job 'drill': verify FAILED" "verify job output on a damaged copy"
assert_contains "$OUT" "missing from the store" "verify job names the problem"
assert_eq "ok failed" "$(sqlite3 "$T/state/catalog.db" "SELECT result FROM runs WHERE job = 'drill' ORDER BY id" | tr '\n' ' ' | sed 's/ $//')" "runs recorded"
restore_files
