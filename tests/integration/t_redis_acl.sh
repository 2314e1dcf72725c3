#!/usr/bin/env bash
# A server whose backup user may not replicate (as on managed services): with ACL users that lack
# SYNC/PSYNC (and a narrower read-only one that lacks REPLCONF too), method = auto falls back to the
# logical export and says so and why (text and --json), method = sync fails clearly, and the
# restore matches the source. The password, given as env:NAME or in the URL, never shows up in the
# output, the logs, the state or the store.
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

step "source server: dataset, ACL users without replication rights"
redis_start "$T/src"
src=$REDIS_PORT
redis_load_dataset "$src" --scale 0.01
src_digest=$(redis_digest "$src")
redis_keyspace "$src" >"$T/src.keyspace"
pass1=$(random_password)
pass2=$(random_password)
# Everything but replication (REPLCONF allowed: the refusal comes at PSYNC/SYNC).
redis_acl_user "$src" backup "$pass1" '~*' '+@all' -sync -psync
# Read-only plus connection commands and INFO (REPLCONF refused as well).
redis_acl_user "$src" reader "$pass2" '~*' '-@all' '+@read' '+@connection' '+info'
# The default user stays passwordless for the test's own redis-cli calls.

# no_secret WHAT PASS: PASS appears nowhere: output of the last command, state, store, logs.
no_secret()
{
    local what=$1 pass=$2 hits
    assert_not_contains "$OUT" "$pass" "stdout ($what)"
    assert_not_contains "$ERR" "$pass" "stderr ($what)"
    hits=$(grep -r -l -a -F -- "$pass" "$T/state" "$T/store" "$T/tmp" 2>/dev/null || true)
    assert_eq "" "$hits" "files holding the password ($what)"
}

step "method = auto, user in the URL, password = env:NAME: falls back to logical"
export PF_REDIS_PASS=$pass1
# "user@": the ACL user; its password comes from password = env:NAME.
write_redis_conf "$T/pf.conf" "redis://backup@127.0.0.1:$src" "password = env:PF_REDIS_PASS"
assert_ok pf config check
assert_ok pf run cache
assert_match "$OUT$ERR" 'method:?[[:space:]]+logical \(fell back: the server refused SYNC: ' "run report"
assert_contains "$OUT$ERR" "no permissions" "run report quotes the server"
no_secret "auto run" "$pass1"
sdir=$(redis_newest_snapshot cache)
[[ -n $sdir ]] || fail "no snapshot with a manifest after the run"
snap=${sdir##*/}
assert_exists "$sdir/dump.resp.zst"
python3 - "$sdir/manifest.json" <<'PY' || fail "manifest (see above)"
import json, sys
r = json.load(open(sys.argv[1])).get("redis") or {}
if r.get("method") != "logical" or r.get("transfer") != "logical":
    sys.exit("manifest: method %r transfer %r, expected logical" % (r.get("method"), r.get("transfer")))
PY

step "run --json reports the fallback and its reason"
assert_ok pf run cache --json
no_secret "auto run --json" "$pass1"
printf '%s\n' "$OUT" >"$T/run.json"
python3 - "$T/run.json" <<'PY' || fail "run --json (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
if isinstance(r, list):
    r = r[0]
reason = r.get("fallback_reason")
if r.get("method") != "logical":
    sys.exit("run --json: method %r, expected logical" % r.get("method"))
if not isinstance(reason, str) or "no permissions" not in reason:
    sys.exit("run --json: fallback_reason %r should quote the server's refusal" % reason)
PY

step "the fallback snapshot restores to the same data"
redis_start "$T/live"
live=$REDIS_PORT
# restore --to uses the job's password unless --password says otherwise: the target has the same.
redis_set_password "$live" "$pass1"
assert_ok pf restore cache "$snap" --to "redis://127.0.0.1:$live"
assert_eq "$src_digest" "$(redis_digest "$live")" "DEBUG DIGEST after restore"
redis_keyspace "$live" >"$T/live.keyspace"
assert_ok diff "$T/src.keyspace" "$T/live.keyspace"
redis_stop "$live"

step "a restore target with a password of its own in the --to URL: that one wins, and is not shown"
redis_start "$T/live3"
live=$REDIS_PORT
redis_set_password "$live" "target-pw-4711"
assert_ok pf restore cache "$snap" --to "redis://:target-pw-4711@127.0.0.1:$live"
assert_eq "$src_digest" "$(redis_digest "$live")" "DEBUG DIGEST after restore with the URL's password"
assert_contains "$OUT" "redis://:***@127.0.0.1:$live" "the target, password hidden"
no_secret "restore with a password in --to" "target-pw-4711"
redis_stop "$live"

step "a restore target without a password: the job's password is not needed there"
redis_start "$T/live2"
live=$REDIS_PORT
assert_ok pf restore cache "$snap" --to "redis://127.0.0.1:$live"
assert_eq "$src_digest" "$(redis_digest "$live")" "DEBUG DIGEST after restore into an open server"
no_secret "restore into an open server" "$pass1"
redis_stop "$live"

step "method = sync with that user: a clear error, no snapshot"
before=$(find "$T/store" -name manifest.json | wc -l)
write_redis_conf "$T/pf.conf" "redis://backup@127.0.0.1:$src" "password = env:PF_REDIS_PASS" \
    "method = sync"
assert_fails pf run cache
assert_contains "$ERR" "no permissions" "error quotes the server"
assert_match "$ERR" '(SYNC|sync)' "error names SYNC"
no_secret "sync run" "$pass1"
assert_eq "$before" "$(find "$T/store" -name manifest.json | wc -l)" "manifests after a failed sync run"

step "the password in the URL (user:password@), read-only user refused at REPLCONF: auto falls back"
unset PF_REDIS_PASS
write_redis_conf "$T/pf.conf" "redis://reader:$pass2@127.0.0.1:$src"
assert_ok pf run cache
assert_match "$OUT$ERR" 'method:?[[:space:]]+logical \(fell back: ' "run report"
no_secret "URL password run" "$pass2"
sdir2=$(redis_newest_snapshot cache)
assert_ne "$sdir" "$sdir2" "a new snapshot"
redis_start "$T/live2"
live2=$REDIS_PORT
assert_ok pf restore cache "${sdir2##*/}" --to "redis://127.0.0.1:$live2"
assert_eq "$src_digest" "$(redis_digest "$live2")" "DEBUG DIGEST after restore of the read-only user's snapshot"
assert_ok pf list cache
no_secret "list" "$pass2"
# The config itself holds the password in this case; nothing else may.
assert_file_contains "$T/pf.conf" "$pass2"

step "password = env:NAME wins over the URL's"
export PF_REDIS_PASS=$pass1
write_redis_conf "$T/pf.conf" "redis://backup:wrong-password@127.0.0.1:$src" \
    "password = env:PF_REDIS_PASS"
assert_ok pf run cache
no_secret "env over URL" "$pass1"
assert_not_contains "$OUT$ERR" "wrong-password" "output"

echo "PASS"
