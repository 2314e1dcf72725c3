#!/usr/bin/env bash
# Faults during a `kind = mirror` job, through the scripted fake S3 (tests/lib/fake_s3.py). The two
# sides are two buckets of the fake with different keys, so every copy is a streamed GET→PUT:
# - 503 SlowDown (also on a listing), connection resets, a truncated body and 500s on some objects
#   are retried and the mirror converges, every fault having been applied;
# - persistent 500s on a few objects: the run names them, exits non-zero, copies the others, and
#   the next run (faults removed) converges;
# - a re-sync with no change sends only listings (of objects and of multipart uploads), counted at
#   the server, and permafrost's own LIST count agrees (as its GET and PUT counts do under faults);
# - kill -9 of permafrost in the middle of a mirror (local directory → S3, many objects and a
#   multipart object): every object visible at the destination is complete (size and MD5 equal to
#   the source's), and the next run converges.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
# shellcheck source=tests/lib/fake_s3.sh
. "$root/tests/lib/fake_s3.sh"
# shellcheck source=tests/lib/mirror.sh
. "$root/tests/lib/mirror.sh"

mirror_init
fake_s3_start "$T/fake" "" --no-auto-create --bucket src --bucket dst --bucket kill
# Two identities on one service: no server-side copy between them.
export FAKE_S3_ACCESS_KEY=AKIDFAKESOURCE FAKE_S3_SECRET_KEY=fake-source-secret
export FAKE_D_ENDPOINT=$FAKE_S3_ENDPOINT FAKE_D_ACCESS_KEY=AKIDFAKEDEST
export FAKE_D_SECRET_KEY=fake-dest-secret FAKE_S3_REGION=us-east-1 FAKE_D_REGION=us-east-1

rules()
{
    printf '%s\n' "$1" >"$T/rules.json"
    fake_s3_script "$T/rules.json"
}
# rule_for KEY TEMPLATE: a rule made from TEMPLATE (a JSON object) where "@KEY@" in "path" is
# replaced by KEY, percent-encoded as on the wire, as a regular expression.
rule_for()
{
    "$MIRROR_PYTHON" -c '
import json, re, sys, urllib.parse
key, tmpl = sys.argv[1], json.loads(sys.argv[2])
tmpl["path"] = tmpl["path"].replace("@KEY@", re.escape(urllib.parse.quote(key)))
print(json.dumps(tmpl))' "$1" "$2"
}
# not_applied: rules that were never applied as often as they should (empty when all were).
not_applied()
{
    fake_s3_rules | "$MIRROR_PYTHON" -c '
import json, sys
for r in json.load(sys.stdin)["rules"]:
    if r["applied"] < max(r.get("times", 1), 1):
        print("rule %s applied %d times" % (r.get("name"), r["applied"]))'
}
compare()
{
    mtool digest --server FAKE_S3 "$1" >"$T/digest-a"
    mtool digest --server FAKE_D "$2" >"$T/digest-b"
    digest_cmp "$T/digest-a" "$T/digest-b" "$1 and $2"
}

mtool gen --count 80 --seed t-mirror-faults --cache-share 0 >"$T/tree.jsonl"
mtool put --server FAKE_S3 src "$T/tree.jsonl"
n=$(spec_sum "$T/tree.jsonl" count)
mconf_begin "$T/pf.conf"
mconf_s3 src FAKE_S3 src
mconf_s3 dst FAKE_D dst
mconf_job media "source = src" "destination = dst" "acl = private"

step "SlowDown, resets, a truncated body and 500s on some objects: retried, converged"
mapfile -t k < <(spec_pick "$T/tree.jsonl" 6 | "$MIRROR_PYTHON" -c '
import json, sys
for l in sys.stdin:
    print(json.loads(l)["key"])')
((${#k[@]} == 6)) || fail "expected 6 keys for the faults"
{
    echo '['
    echo '{"name": "list-slowdown", "method": "GET", "path": "^/src/?$", "query": "list-type",
           "status": 503, "code": "SlowDown", "headers": {"Retry-After": "1"}},'
    rule_for "${k[0]}" '{"name": "get-slowdown", "method": "GET", "path": "^/src/@KEY@$",
        "status": 503, "code": "SlowDown", "headers": {"Retry-After": "1"}}'
    echo ','
    rule_for "${k[1]}" '{"name": "get-reset", "method": "GET", "path": "^/src/@KEY@$",
        "reset_after_bytes": 100}'
    echo ','
    rule_for "${k[2]}" '{"name": "get-truncated", "method": "GET", "path": "^/src/@KEY@$",
        "truncate": true}'
    echo ','
    rule_for "${k[3]}" '{"name": "get-500", "method": "GET", "path": "^/src/@KEY@$",
        "status": 500, "code": "InternalError"}'
    echo ','
    rule_for "${k[4]}" '{"name": "put-500", "method": "PUT", "path": "^/dst/@KEY@$",
        "status": 500, "code": "InternalError"}'
    echo ','
    rule_for "${k[5]}" '{"name": "put-drop", "method": "PUT", "path": "^/dst/@KEY@$",
        "drop": "rst"}'
    echo ']'
} >"$T/faults.json"
fake_s3_script "$T/faults.json"
: >"$FAKE_S3_LOG"
mrun
assert_eq 0 "$RC" "exit status through the faults"
mj_check "{\"result\": \"ok\", \"copied.objects\": $n, \"failed.objects\": 0,
    \"server_side_copies\": 0, \"listing_complete\": true}"
assert_eq "" "$(not_applied)" "rules not applied"
# Seven faults, each answered with an error the client saw, except the reset before any answer:
# libcurl itself sends that request again on a new connection when the reset one was reused, and
# then neither counter sees it.
retries=$(mj retries)
((retries >= 6)) || fail "retries is $retries, expected at least 6 (one per fault)"
assert_eq "$(fake_s3_count GET '^/[^/]+/?$')" "$(mj requests.LIST)" "LIST requests (server, permafrost)"
assert_eq "$(fake_s3_count GET '^/[^/]+/.')" "$(mj requests.GET)" "GET requests (server, permafrost)"
put_server=$(fake_s3_count PUT '.')
put_pf=$(mj requests.PUT)
((put_pf == put_server || put_pf == put_server - 1)) ||
    fail "PUT requests: $put_server at the server, $put_pf counted by permafrost"
compare src dst

step "persistent 500s on two objects: reported, non-zero exit, the others copied"
spec_pick "$T/tree.jsonl" 2 10 | spec_reseed /dev/stdin 3 >"$T/bad.jsonl"
mapfile -t bad < <(spec_keys "$T/bad.jsonl")
mtool put --server FAKE_S3 src "$T/bad.jsonl"
cat >"$T/new.jsonl" <<'EOF'
{"key": "media_attachments/files/112/000/000/000/000/011/original/00000000000000d1.jpg", "size": 3100, "seed": "n1"}
{"key": "media_attachments/files/112/000/000/000/000/012/original/00000000000000d2.jpg", "size": 3200, "seed": "n2"}
{"key": "media_attachments/files/112/000/000/000/000/013/original/00000000000000d3.jpg", "size": 3300, "seed": "n3"}
EOF
mtool put --server FAKE_S3 src "$T/new.jsonl"
{
    echo '['
    rule_for "${bad[0]}" '{"name": "bad-0", "method": "GET", "path": "^/src/@KEY@$",
        "status": 500, "code": "InternalError", "times": 0}'
    echo ','
    rule_for "${bad[1]}" '{"name": "bad-1", "method": "PUT", "path": "^/dst/@KEY@$",
        "status": 500, "code": "InternalError", "times": 0}'
    echo ']'
} >"$T/persistent.json"
fake_s3_script "$T/persistent.json"
mrun
assert_ne 0 "$RC" "exit status with objects failing for good"
mj_check '{"ok": false, "result": "partial", "failed.objects": 2, "copied.objects": 3,
    "updated.objects": 0, "listing_complete": true}'
failures=$(mj failures)
assert_contains "$failures" "${bad[0]}" "failures"
assert_contains "$failures" "${bad[1]}" "failures"
while read -r key; do
    mtool head --server FAKE_D dst "$key" >/dev/null || fail "$key was not copied"
done < <(spec_keys "$T/new.jsonl")
rules '[]'
mrun
assert_eq 0 "$RC" "exit status once the faults are gone"
mj_check '{"result": "ok", "updated.objects": 2, "copied.objects": 0, "failed.objects": 0}'
compare src dst

step "a re-sync with no change sends listings only (counted at the server)"
rules '{"settings": {"page_size": 20}, "rules": []}'
: >"$FAKE_S3_LOG"
mrun
assert_eq 0 "$RC" "exit status of the re-sync"
total=$(fake_s3_count '' '.*')
lists=$(fake_s3_count GET '^/(src|dst)/?$')
echo "requests at the server: $total, listings: $lists"
((lists >= 10)) || fail "expected at least 10 listing pages of 20 keys, got $lists"
assert_eq "$lists" "$total" "requests other than listings"
assert_eq "$lists" "$(mj requests.LIST)" "LIST requests counted by permafrost and by the server"
mj_check '{"requests.HEAD": 0, "requests.GET": 0, "requests.PUT": 0, "requests.DELETE": 0}'
rules '{"settings": {"page_size": 1000}, "rules": []}'

step "kill -9 in the middle of a local → S3 mirror: no partial object, then convergence"
mtool gen --count 300 --seed t-mirror-kill --big-mib 40 >"$T/kill.jsonl"
mtool write-local "$T/media" "$T/kill.jsonl"
mconf_begin "$T/kill.conf"
mconf_local media "$T/media"
mconf_s3 dst FAKE_D kill "part_size = 5MiB"
mconf_job media "source = media" "destination = dst" "concurrency = 8"
# Every part after the first and a few small objects answer slowly, so the kill lands mid-copy.
rules '[{"name": "slow-parts", "method": "PUT", "path": "^/kill/", "query": "partNumber=",
         "after": 1, "stall_seconds": 2, "times": 0},
        {"name": "slow-small", "method": "PUT", "path": "^/kill/", "after": 40,
         "stall_seconds": 1, "times": 0}]'
: >"$FAKE_S3_LOG"
"$PERMAFROST" -c "$CONF" run media >"$T/kill.out" 2>"$T/kill.err" &
pf_pid=$!
track_pid "$pf_pid"
for ((i = 0; i < 600; i++)); do
    (($(fake_s3_count PUT '^/kill/' partNumber=2) >= 1)) && break
    pid_alive "$pf_pid" || break
    sleep 0.05
done
pid_alive "$pf_pid" || fail "permafrost ended before the kill: $(cat "$T/kill.err")"
((i < 600)) || fail "no part 2 was sent within 30 s"
sleep 0.5
kill -9 "$pf_pid"
wait "$pf_pid" 2>/dev/null || true
echo "killed after $(fake_s3_count PUT '^/kill/') PUT requests"
mtool digest-local "$T/media" >"$T/digest-local"
mtool digest --server FAKE_D kill >"$T/digest-kill"
"$MIRROR_PYTHON" -c '
import sys
src = set(open(sys.argv[1], encoding="utf-8"))
dst = list(open(sys.argv[2], encoding="utf-8"))
bad = [l.rstrip("\n") for l in dst if l not in src]
print("%d of %d objects at the destination after the kill" % (len(dst), len(src)))
if bad:
    sys.exit("partial or wrong objects visible: %s" % bad[:5])
if len(dst) >= len(src):
    sys.exit("the kill came too late: everything was copied")
' "$T/digest-local" "$T/digest-kill" || fail "after kill -9"
big=$(spec_key "$T/kill.jsonl" '^media_attachments/files/110/000/000/000/000/001/original/.*\.mp4$')
assert_not_contains "$(cat "$T/digest-kill")" "$big" "the destination (the multipart object)"
rules '[]'
mrun
assert_eq 0 "$RC" "exit status of the run after the kill"
mj_check '{"result": "ok", "failed.objects": 0}'
mtool digest --server FAKE_D kill >"$T/digest-kill"
digest_cmp "$T/digest-local" "$T/digest-kill" "the local source and the destination"
mrun
mj_check '{"copied.objects": 0, "updated.objects": 0, "requests.PUT": 0}'
echo "t_mirror_faults: ok"
