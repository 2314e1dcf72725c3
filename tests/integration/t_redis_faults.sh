#!/usr/bin/env bash
# Redis snapshot faults: a wrong password (real server), a server that is down, and, with the
# scripted fake (tests/lib/fake_redis.py) serving a real RDB, a truncated `$<len>` transfer, a
# diskless transfer dropped mid-way, a corrupted byte (CRC mismatch) and a payload with a bad
# magic. Each: exit != 0, a message that names the problem, and no snapshot in the store. The fake
# first serves the intact RDB in both framings, to show that it is a server permafrost can use
# and that the artifact is the payload byte for byte (no EOF mark).
# timeout: 180
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/redis.sh
. "$root/tests/lib/redis.sh"
# shellcheck source=tests/lib/fake_redis.sh
. "$root/tests/lib/fake_redis.sh"
redis_test_init

# no_snapshot WHAT: nothing complete in the store and `list` shows no snapshot id.
no_snapshot()
{
    local what=$1 manifests
    manifests=$(find "$T/store" -name manifest.json 2>/dev/null | wc -l)
    assert_eq "$expected_manifests" "$manifests" "manifests in the store after $what"
    run pf list cache
    local ids
    ids=$(grep -c -E '[0-9]{8}T[0-9]{6}Z-[a-z0-9]+' <<<"$OUT" || true)
    assert_eq "$expected_manifests" "$ids" "snapshots listed after $what"
}
expected_manifests=0

step "a real server with a small dataset; its RDB and keyspace for the fake"
redis_start "$T/src"
src=$REDIS_PORT
redis_load_dataset "$src" --scale 0.005
rcli "$src" INFO keyspace | tr -d '\r' >"$T/keyspace.txt"
run rcli "$src" --rdb "$T/src.rdb"
assert_eq 0 "$RC" "redis-cli --rdb"
size=$(stat -c %s "$T/src.rdb")
((size > 100000)) || fail "the source RDB has only $size bytes"
redis-check-rdb "$T/src.rdb" | grep -q 'Checksum OK' || fail "the source RDB does not check"

step "wrong password (real server with requirepass): authentication failed"
good=$(random_password)
redis_set_password "$src" "$good"
export PF_REDIS_PASS=not-the-password
write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$src" "password = env:PF_REDIS_PASS"
assert_fails pf run cache
assert_contains "$ERR" "authentication failed" "error for a wrong password"
assert_not_contains "$OUT$ERR" "not-the-password" "output"
no_snapshot "a wrong password"

step "no password at all for a server that requires one"
write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$src"
assert_fails pf run cache
assert_match "$ERR" '(NOAUTH|[Aa]uthentication)' "error without a password"
no_snapshot "a missing password"

step "server down: cannot connect"
down=$(free_port)
write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$down"
assert_fails pf run cache
assert_match "$ERR" "(cannot connect|connect to) 127.0.0.1:$down" "error for a closed port names the address"
assert_contains "$ERR" "refused" "error for a closed port"
no_snapshot "a closed port"

# fake MODE [PAYLOAD]: the fake serving PAYLOAD (default the source RDB) in MODE, and a sync job.
fake()
{
    fake_redis_stop
    fake_redis_start "$T/fake-${1//[^a-z0-9-]/_}" "${2:-$T/src.rdb}" "$1" --keyspace-file "$T/keyspace.txt"
    write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$FAKE_REDIS_PORT" "method = sync"
}

for framing in ok eof; do
    step "control: the fake serves the intact RDB ($framing framing)"
    fake "$framing"
    assert_ok pf run cache
    fake_redis_commands >"$T/commands"
    assert_file_contains "$T/commands" "REPLCONF CAPA"
    grep -q -x -E 'P?SYNC' "$T/commands" || fail "neither PSYNC nor SYNC was sent: $(cat "$T/commands")"
    sdir=$(redis_newest_snapshot cache)
    [[ -n $sdir ]] || fail "no snapshot after a run against the fake ($framing)"
    zstd -q -dc "$sdir/dump.rdb.zst" >"$T/got.rdb" || fail "zstd -d failed"
    assert_ok cmp "$T/src.rdb" "$T/got.rdb"
    expected_manifests=$((expected_manifests + 1))
done

step "truncated \$<len> transfer"
fake truncate:1000
assert_fails pf run cache
assert_contains "$ERR" "1000" "error says after how many bytes the transfer ended"
assert_match "$ERR" "(closed|truncated|short|ended|incomplete)" "error for a truncated transfer"
no_snapshot "a truncated transfer"

step "diskless transfer dropped half-way"
fake drop-mid
assert_fails pf run cache
assert_match "$ERR" "(closed|truncated|ended|incomplete|EOF)" "error for a dropped transfer"
no_snapshot "a dropped transfer"

step "a corrupted byte in the CRC: checksum mismatch"
fake corrupt:-1
assert_fails pf run cache
assert_match "$ERR" "(CRC|checksum)" "error for a corrupted CRC"
no_snapshot "a CRC mismatch"

step "a corrupted byte in the middle of the payload"
fake "corrupt:$((size / 2))"
assert_fails pf run cache
[[ -n $ERR ]] || fail "no error message for a corrupted payload"
no_snapshot "a corrupted payload"

step "a payload with a bad magic"
cp "$T/src.rdb" "$T/badmagic.rdb"
printf 'XEDIS' | dd of="$T/badmagic.rdb" bs=1 conv=notrunc status=none
fake ok "$T/badmagic.rdb"
assert_fails pf run cache
assert_match "$ERR" "([Mm]agic|not an RDB|REDIS)" "error for a bad magic"
no_snapshot "a bad magic"

step "method = auto does not fall back to logical for a broken transfer"
fake truncate:1000
write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$FAKE_REDIS_PORT" "method = auto"
assert_fails pf run cache
assert_not_contains "$OUT$ERR" "fell back" "run report"
no_snapshot "a truncated transfer with method = auto"

step "the fake refuses SYNC and then has no SCAN: auto tries logical, which fails clearly"
fake refuse-sync
write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$FAKE_REDIS_PORT" "method = auto"
assert_fails pf run cache
no_snapshot "a refused SYNC without logical export"

echo "PASS"
