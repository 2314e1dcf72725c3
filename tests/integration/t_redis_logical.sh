#!/usr/bin/env bash
# Redis snapshots with method = logical (SCAN + DUMP + PTTL, written as RESP RESTORE commands): the
# artifact replays with stock tools (zstd -d | redis-cli --pipe) into a fresh server with the same
# DEBUG DIGEST; permafrost's own restores (--to redis://, and --to-file, which must build an RDB
# that redis-check-rdb accepts and a server loads) give the same data, and keys keep their TTLs.
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

step "source server with a Mastodon-shaped dataset"
redis_start "$T/src"
src=$REDIS_PORT
redis_load_dataset "$src" --scale 0.02
# A function library: not a key, so DEBUG DIGEST does not see it; FUNCTION LIST does.
src_funcs=$(redis_load_test_function "$src")
src_digest=$(redis_digest "$src")
redis_keyspace "$src" >"$T/src.keyspace"
redis_dbsizes "$src" >"$T/src.dbsizes"
expiry_keys=(account:1:regeneration account:9:regeneration)
pexpiretimes()
{
    local port=$1 k
    for k in "${expiry_keys[@]}"; do
        printf '%s %s\n' "$k" "$(rcli "$port" PEXPIRETIME "$k")"
    done
}
pexpiretimes "$src" >"$T/src.expiry"
# A cache key with a relative TTL, in db 0 and in db 1.
# (To files: head closing a pipe early would end redis-cli with SIGPIPE under pipefail.)
rcli "$src" --scan --pattern 'cache:views/*' >"$T/keys0"
rcli "$src" -n 1 --scan --pattern 'cache:rails:*' >"$T/keys1"
ttl_key0=$(head -n 1 "$T/keys0")
ttl_key1=$(head -n 1 "$T/keys1")
[[ -n $ttl_key0 && -n $ttl_key1 ]] || fail "no cache keys in the dataset"
assert_match "$(rcli "$src" TTL "$ttl_key0")" '^[1-9][0-9]*$' "TTL of $ttl_key0 in the source"

# check_ttls PORT WHAT: TTLs survived (deadlines of PXAT keys exactly; cache keys still expire).
check_ttls()
{
    local port=$1 what=$2
    redis_keyspace "$port" >"$T/$what.keyspace"
    assert_ok diff "$T/src.keyspace" "$T/$what.keyspace"
    pexpiretimes "$port" >"$T/$what.expiry"
    assert_ok diff "$T/src.expiry" "$T/$what.expiry"
    assert_match "$(rcli "$port" TTL "$ttl_key0")" '^[1-9][0-9]*$' "TTL of $ttl_key0 ($what)"
    assert_match "$(rcli "$port" -n 1 TTL "$ttl_key1")" '^[1-9][0-9]*$' "TTL of db 1 $ttl_key1 ($what)"
}

write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$src" "method = logical"
assert_ok pf config check

step "run, method = logical"
assert_ok pf run cache
assert_match "$OUT$ERR" 'method:?[[:space:]]+logical' "run report"
assert_not_contains "$OUT$ERR" "fell back" "run report of an explicit logical run"
sdir=$(redis_newest_snapshot cache)
[[ -n $sdir ]] || fail "no snapshot with a manifest after the run"
snap=${sdir##*/}
assert_exists "$sdir/dump.resp.zst"
assert_missing "$sdir/dump.rdb.zst"
python3 - "$sdir/manifest.json" "$T/src.keyspace" <<'PY' || fail "manifest (see above)"
import json, sys
m = json.load(open(sys.argv[1]))
def want(cond, what):
    if not cond:
        sys.exit("manifest: %s; manifest is %s" % (what, json.dumps(m, indent=1)[:3000]))
want(m.get("kind") == "redis", "kind %r" % m.get("kind"))
r = m.get("redis") or {}
want(r.get("method") == "logical", "method %r" % r.get("method"))
want(r.get("transfer") == "logical", "transfer %r" % r.get("transfer"))
want(r.get("server") == "redis", "server %r" % r.get("server"))
ks = {}
for line in open(sys.argv[2]):
    db, keys, expires = line.split()
    ks[int(db[2:])] = (int(keys.split("=")[1]), int(expires.split("=")[1]))
got = {d["db"]: (d["keys"], d["expires"]) for d in r.get("keyspace", [])}
want(got == ks, "keyspace %r, INFO keyspace says %r" % (got, ks))
want(any(a.get("name") == "dump.resp.zst" for a in m.get("artifacts", [])), "artifact dump.resp.zst not listed")
PY

step "run --json"
assert_ok pf run cache --json
printf '%s\n' "$OUT" >"$T/run.json"
python3 - "$T/run.json" <<'PY' || fail "run --json (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
if isinstance(r, list):
    r = r[0]
if r.get("method") != "logical" or r.get("fallback_reason") is not None:
    sys.exit("run --json: method %r, fallback_reason %r" % (r.get("method"), r.get("fallback_reason")))
PY

step "stock tools: zstd -d | redis-cli --pipe into a fresh server"
zstd -q -dc "$sdir/dump.resp.zst" >"$T/dump.resp" || fail "zstd -d failed"
assert_match "$(head -c 64 "$T/dump.resp" | tr -d '\r\n')" '^\*4\$[0-9]+FUNCTION\$[0-9]+RESTORE' \
    "the stream starts with FUNCTION RESTORE (the libraries)"
grep -a -q -F 'RESTORE' "$T/dump.resp" || fail "no RESTORE command in the stream"
redis_start "$T/piped"
piped=$REDIS_PORT
run rcli "$piped" --pipe <"$T/dump.resp"
assert_eq 0 "$RC" "redis-cli --pipe exit status"
assert_contains "$OUT" "errors: 0," "redis-cli --pipe"
assert_eq "$src_digest" "$(redis_digest "$piped")" "DEBUG DIGEST after redis-cli --pipe"
assert_eq "$src_funcs" "$(rcli "$piped" FUNCTION LIST WITHCODE)" "functions after redis-cli --pipe"
check_ttls "$piped" piped
redis_stop "$piped"

step "restore --to redis:// into a fresh server"
redis_start "$T/live"
live=$REDIS_PORT
assert_ok pf restore cache "$snap" --to "redis://127.0.0.1:$live"
assert_eq "$src_digest" "$(redis_digest "$live")" "DEBUG DIGEST after restore --to"
assert_eq "$src_funcs" "$(rcli "$live" FUNCTION LIST WITHCODE)" "functions after restore --to"
check_ttls "$live" live
redis_dbsizes "$live" >"$T/live.dbsizes"
assert_ok diff "$T/src.dbsizes" "$T/live.dbsizes"
redis_stop "$live"

step "restore --to-file from the logical snapshot: an RDB that loads"
assert_ok pf restore cache "$snap" --to-file "$T/from-logical.rdb"
assert_mode "$T/from-logical.rdb" 600
run redis-check-rdb "$T/from-logical.rdb"
assert_eq 0 "$RC" "redis-check-rdb exit status"
assert_contains "$OUT" "Checksum OK" "redis-check-rdb"
redis_start_from_rdb "$T/placed" "$T/from-logical.rdb"
placed=$REDIS_PORT
assert_eq "$src_digest" "$(redis_digest "$placed")" "DEBUG DIGEST of a server started from the file"
assert_eq "$src_funcs" "$(rcli "$placed" FUNCTION LIST WITHCODE)" "functions in the file"
check_ttls "$placed" placed
redis_stop "$placed"

step "the stream overwrites keys that exist (RESTORE ... REPLACE)"
redis_start "$T/again"
again=$REDIS_PORT
rcli "$again" SET stat:processed 1 >/dev/null
rcli "$again" -n 1 SET db1:marker changed >/dev/null
run rcli "$again" --pipe <"$T/dump.resp"
assert_contains "$OUT" "errors: 0," "redis-cli --pipe into a server holding some of the keys"
assert_eq 987654321 "$(rcli "$again" GET stat:processed)" "stat:processed after the replay"
assert_eq "persistent string in db 1" "$(rcli "$again" -n 1 GET db1:marker)" "db1:marker after the replay"
assert_eq "$src_digest" "$(redis_digest "$again")" "DEBUG DIGEST after the replay"

echo "PASS"
