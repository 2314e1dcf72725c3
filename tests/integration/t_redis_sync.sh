#!/usr/bin/env bash
# Redis snapshots with method = sync, from a real redis-server 7.0 holding a Mastodon-shaped
# dataset, once with the server writing the RDB to disk first (`$<len>` transfer) and once diskless
# (`$EOF:<mark>`): the artifact is a valid RDB for stock tools (zstd -d, redis-check-rdb), carries
# no EOF mark, the manifest matches INFO; restored by file placement and by live replay, the data
# (DEBUG DIGEST, keys per database, expiry deadlines) equals the source; --to-file is private,
# refuses to overwrite without --force, and honours --target-version.
# timeout: 180
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/redis.sh
. "$root/tests/lib/redis.sh"
redis_test_init
command -v redis-check-rdb >/dev/null || fail "redis-check-rdb is missing (apt-get install redis-tools)"

step "source server with a Mastodon-shaped dataset"
redis_start "$T/src"
src=$REDIS_PORT
redis_load_dataset "$src" --scale 0.02
# A function library: not a key, so DEBUG DIGEST does not see it; FUNCTION LIST does.
src_funcs=$(redis_load_test_function "$src")
src_digest=$(redis_digest "$src")
redis_keyspace "$src" >"$T/src.keyspace"
redis_dbsizes "$src" >"$T/src.dbsizes"
src_version=$(redis_info_field "$src" redis_version)
# Absolute expiry deadlines (ms) of a few keys: a restore must keep them exactly.
expiry_keys=(account:1:regeneration account:7:regeneration)
pexpiretimes()
{
    local port=$1 k
    for k in "${expiry_keys[@]}"; do
        printf '%s %s\n' "$k" "$(rcli "$port" PEXPIRETIME "$k")"
    done
}
pexpiretimes "$src" >"$T/src.expiry"
assert_eq 2 "$(wc -l <"$T/src.keyspace")" "databases in the source (db0 and db1)"
assert_match "$(head -n 1 "$T/src.keyspace")" '^db0 keys=[0-9]{4,} expires=[1-9]' "db0 keyspace"
cat "$T/src.keyspace"

write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$src" "method = sync" "compression = zstd:3"
assert_ok pf config check

# check_artifact SNAPDIR TRANSFER: the RDB artifact and the manifest of one snapshot.
check_artifact()
{
    local sdir=$1 transfer=$2 raw size last9
    assert_exists "$sdir/manifest.json"
    assert_exists "$sdir/dump.rdb.zst"
    assert_missing "$sdir/dump.resp.zst"
    raw=$T/raw-$transfer.rdb
    zstd -q -dc "$sdir/dump.rdb.zst" >"$raw" || fail "zstd -d of the artifact failed"
    assert_eq "REDIS0010" "$(head -c 9 "$raw")" "RDB magic of the artifact"
    run redis-check-rdb "$raw"
    assert_eq 0 "$RC" "redis-check-rdb exit status"
    assert_contains "$OUT" "Checksum OK" "redis-check-rdb"
    assert_contains "$OUT" "RDB looks OK" "redis-check-rdb"
    # The payload ends with the EOF opcode 0xFF and the 8-byte CRC: no 40-byte mark after it.
    size=$(stat -c %s "$raw")
    last9=$(tail -c 9 "$raw" | od -An -tx1 | tr -d ' \n')
    assert_eq "ff" "${last9:0:2}" "byte 9 from the end (EOF opcode; an EOF mark left behind would be hex text)"
    assert_ne "0000000000000000" "${last9:2}" "CRC-64 (zero would mean no checksum)"
    python3 - "$sdir/manifest.json" "$T/src.keyspace" "$src_version" "$transfer" \
        "$(sha256sum "$sdir/dump.rdb.zst" | cut -d' ' -f1)" "$(stat -c %s "$sdir/dump.rdb.zst")" \
        "$size" <<'PY' || fail "manifest of $sdir (see above)"
import json, sys
path, ks_file, version, transfer, sha, zsize, rawsize = sys.argv[1:8]
m = json.load(open(path))
def want(cond, what):
    if not cond:
        sys.exit("manifest: %s; manifest is %s" % (what, json.dumps(m, indent=1)[:3000]))
want(m.get("kind") == "redis", "kind %r" % m.get("kind"))
want(m.get("job") == "cache", "job %r" % m.get("job"))
r = m.get("redis")
want(isinstance(r, dict), "no redis object")
want(r.get("server") == "redis", "server %r" % r.get("server"))
want(r.get("version") == version, "version %r, INFO says %s" % (r.get("version"), version))
want(r.get("method") == "sync", "method %r" % r.get("method"))
want(r.get("rdb_version") == 10, "rdb_version %r" % r.get("rdb_version"))
want(isinstance(r.get("used_memory"), int) and r["used_memory"] > 1000000, "used_memory %r" % r.get("used_memory"))
want(r.get("transfer") == transfer, "transfer %r, expected %s" % (r.get("transfer"), transfer))
ks = {}
for line in open(ks_file):
    db, keys, expires = line.split()
    ks[int(db[2:])] = (int(keys.split("=")[1]), int(expires.split("=")[1]))
got = {d["db"]: (d["keys"], d["expires"]) for d in r.get("keyspace", [])}
want(got == ks, "keyspace %r, INFO keyspace says %r" % (got, ks))
arts = [a for a in m.get("artifacts", []) if a.get("name") == "dump.rdb.zst"]
want(len(arts) == 1, "artifact dump.rdb.zst not listed once")
want(arts[0].get("sha256") == sha, "sha256 %r, sha256sum says %s" % (arts[0].get("sha256"), sha))
want(arts[0].get("size_bytes") == int(zsize), "size_bytes %r, file has %s" % (arts[0].get("size_bytes"), zsize))
if "raw_bytes" in arts[0]:
    want(arts[0]["raw_bytes"] == int(rawsize), "raw_bytes %r, RDB has %s" % (arts[0]["raw_bytes"], rawsize))
PY
}

step "sync, repl-diskless-sync no: the server sends \$<len>"
assert_eq OK "$(rcli "$src" CONFIG SET repl-diskless-sync no)" "CONFIG SET"
assert_ok pf run cache
assert_match "$OUT$ERR" 'method:?[[:space:]]+sync \(disk\)' "run report"
disk_dir=$(redis_newest_snapshot cache)
[[ -n $disk_dir ]] || fail "no snapshot with a manifest after the run"
check_artifact "$disk_dir" disk

step "sync, repl-diskless-sync yes (delay 0): the server sends \$EOF:<mark>"
assert_eq OK "$(rcli "$src" CONFIG SET repl-diskless-sync yes)" "CONFIG SET"
assert_eq OK "$(rcli "$src" CONFIG SET repl-diskless-sync-delay 0)" "CONFIG SET"
assert_ok pf run cache
assert_match "$OUT$ERR" 'method:?[[:space:]]+sync \(diskless\)' "run report"
diskless_dir=$(redis_newest_snapshot cache)
assert_ne "$disk_dir" "$diskless_dir" "snapshot directory of the second run"
check_artifact "$diskless_dir" diskless
diskless_id=${diskless_dir##*/}

step "run --json"
assert_ok pf run cache --json
printf '%s\n' "$OUT" >"$T/run.json"
python3 - "$T/run.json" "$T/src.keyspace" <<'PY' || fail "run --json (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
if isinstance(r, list):
    r = r[0]
def want(cond, what):
    if not cond:
        sys.exit("run --json: %s; got %s" % (what, json.dumps(r)[:2000]))
want(r.get("method") == "sync", "method %r" % r.get("method"))
want(r.get("fallback_reason") is None, "fallback_reason %r" % r.get("fallback_reason"))
want(r.get("transfer") in (None, "diskless"), "transfer %r, expected diskless" % r.get("transfer"))
want(r.get("rdb_version") == 10, "rdb_version %r" % r.get("rdb_version"))
total = 0
for line in open(sys.argv[2]):
    total += int(line.split()[1].split("=")[1])
want(r.get("keys") == total, "keys %r, INFO keyspace has %d" % (r.get("keys"), total))
PY

step "list"
assert_ok pf list cache
assert_contains "$OUT" "$diskless_id" "list cache"

step "restore --to-file DIR: dump.rdb, 0600, a warning about stopping the server and AOF"
mkdir -p "$T/placed"
assert_ok pf restore cache "$diskless_id" --to-file "$T/placed"
assert_exists "$T/placed/dump.rdb"
assert_mode "$T/placed/dump.rdb" 600
assert_contains "$ERR" "appendonly" "warning on stderr"
run redis-check-rdb "$T/placed/dump.rdb"
assert_contains "$OUT" "Checksum OK" "redis-check-rdb of the restored file"

step "file placement: a server started from it holds the same data"
redis_start "$T/placed"
placed=$REDIS_PORT
assert_eq "$src_digest" "$(redis_digest "$placed")" "DEBUG DIGEST after file placement"
assert_eq "$src_funcs" "$(rcli "$placed" FUNCTION LIST WITHCODE)" "functions after file placement"
redis_dbsizes "$placed" >"$T/placed.dbsizes"
assert_ok diff "$T/src.dbsizes" "$T/placed.dbsizes"
redis_keyspace "$placed" >"$T/placed.keyspace"
assert_ok diff "$T/src.keyspace" "$T/placed.keyspace"
pexpiretimes "$placed" >"$T/placed.expiry"
assert_ok diff "$T/src.expiry" "$T/placed.expiry"
redis_stop "$placed"

step "--to-file onto an existing file: refused without --force, done with it"
before=$(sha256sum "$T/placed/dump.rdb" | cut -d' ' -f1)
printf 'not an rdb\n' >"$T/existing.rdb"
assert_fails pf restore cache latest --to-file "$T/existing.rdb"
assert_contains "$ERR" "--force" "refusal message"
assert_eq "not an rdb" "$(cat "$T/existing.rdb")" "the existing file after a refused restore"
assert_fails pf restore cache latest --to-file "$T/placed"
assert_eq "$before" "$(sha256sum "$T/placed/dump.rdb" | cut -d' ' -f1)" "DIR/dump.rdb after a refused restore"
assert_ok pf restore cache latest --to-file "$T/existing.rdb" --force
assert_eq "REDIS0010" "$(head -c 9 "$T/existing.rdb")" "magic after --force"
assert_mode "$T/existing.rdb" 600

step "--target-version: redis-6.2 cannot load RDB 10, redis-7.2 can"
assert_fails pf restore cache latest --to-file "$T/old.rdb" --target-version redis-6.2
assert_contains "$ERR" "6.2" "refusal names the target"
assert_match "$ERR" '(version|RDB)[^0-9]*10' "refusal names the RDB version 10"
assert_missing "$T/old.rdb"
assert_ok pf restore cache latest --to-file "$T/new.rdb" --target-version redis-7.2
assert_eq "REDIS0010" "$(head -c 9 "$T/new.rdb")" "magic with --target-version redis-7.2"

step "restore --to redis://: live replay of the RDB snapshot into a running server"
redis_start "$T/live"
live=$REDIS_PORT
assert_ok pf restore cache "$diskless_id" --to "redis://127.0.0.1:$live"
assert_eq "$src_digest" "$(redis_digest "$live")" "DEBUG DIGEST after live replay"
assert_eq "$src_funcs" "$(rcli "$live" FUNCTION LIST WITHCODE)" "functions after live replay"
redis_keyspace "$live" >"$T/live.keyspace"
assert_ok diff "$T/src.keyspace" "$T/live.keyspace"
pexpiretimes "$live" >"$T/live.expiry"
assert_ok diff "$T/src.expiry" "$T/live.expiry"
redis_stop "$live"

step "the disk-mode snapshot restores to the same data"
redis_start "$T/live2"
live2=$REDIS_PORT
assert_ok pf restore cache "${disk_dir##*/}" --to "redis://127.0.0.1:$live2"
assert_eq "$src_digest" "$(redis_digest "$live2")" "DEBUG DIGEST after replay of the disk-mode snapshot"
assert_eq "$src_funcs" "$(rcli "$live2" FUNCTION LIST WITHCODE)" "functions after replay of the disk-mode snapshot"

step "files 0600, directories 0700 in the store"
bad=$(find "$T/store" \( \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) \) -printf '%m %p\n')
assert_eq "" "$bad" "files/directories with other modes"

echo "PASS"
