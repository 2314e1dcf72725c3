#!/usr/bin/env bash
# The deletion guards of `kind = mirror`, against the scripted fake S3 (tests/lib/fake_s3.py): an
# empty source with a non-empty destination deletes nothing and says so; a source listing that fails
# (403 at once, or 500s after the first pages) deletes nothing; more deletions than max_delete (10%
# by default, a count, or a percentage) are refused with the numbers while the copies still happen;
# raising max_delete lets them through. Every case checks the destination's
# objects at the server itself and counts the DELETE requests it received.
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
fake_s3_start "$T/fake" "" --no-auto-create --bucket src --bucket dst
export FAKE_S3_ACCESS_KEY=AKIDFAKEGUARDS FAKE_S3_SECRET_KEY=fake-guards-secret
export FAKE_S3_REGION=us-east-1

rules()
{
    printf '%s\n' "$1" >"$T/rules.json"
    fake_s3_script "$T/rules.json"
}
# objects BUCKET: how many objects the fake holds in BUCKET.
objects()
{
    fake_s3_state | "$MIRROR_PYTHON" -c '
import json, sys
print(len(json.load(sys.stdin)["buckets"][sys.argv[1]]["objects"]))' "$1"
}
deletes()
{
    echo $(($(fake_s3_count DELETE '^/dst/') + $(fake_s3_count POST '^/dst/?$' delete)))
}

step "50 objects mirrored"
mtool gen --count 50 --seed t-mirror-guards --cache-share 0 >"$T/tree.jsonl"
mtool put --server FAKE_S3 src "$T/tree.jsonl"
n=$(spec_sum "$T/tree.jsonl" count)
assert_eq 50 "$n" "objects generated"
mconf_begin "$T/pf.conf"
mconf_s3 src FAKE_S3 src
mconf_s3 dst FAKE_S3 dst
mconf_job media "source = src" "destination = dst"
mrun
assert_eq 0 "$RC" "exit status of the first mirror"
mj_check '{"copied.objects": 50, "failed.objects": 0}'
assert_eq 50 "$(objects dst)" "objects at the destination"

step "an empty source with a non-empty destination: nothing deleted, and it says so"
mapfile -t keys < <(spec_keys "$T/tree.jsonl")
mtool delete --server FAKE_S3 src "${keys[@]}"
assert_eq 0 "$(objects src)" "objects at the source"
: >"$FAKE_S3_LOG"
mrun
assert_ne 0 "$RC" "exit status with an empty source"
assert_match "$ERR" '[Ee]mpty|no object' "the message about the empty source"
assert_contains "$ERR" "50" "the message (the destination's objects)"
mj_check '{"ok": false, "deleted.objects": 0, "listing_complete": true}'
assert_ne null "$(mj deletions_refused)" "deletions_refused"
assert_eq 0 "$(deletes)" "DELETE requests at the destination"
assert_eq 50 "$(objects dst)" "objects at the destination"
mtool put --server FAKE_S3 src "$T/tree.jsonl"

step "a source listing refused with 403: nothing deleted"
mtool delete --server FAKE_S3 src "${keys[0]}"
rules '[{"method": "GET", "path": "^/src/?$", "query": "list-type", "status": 403,
         "code": "AccessDenied", "times": 0}]'
: >"$FAKE_S3_LOG"
mrun
assert_ne 0 "$RC" "exit status with a refused listing"
assert_contains "$ERR" "AccessDenied" "the error"
mj_check '{"ok": false, "listing_complete": false, "deleted.objects": 0}'
assert_eq 0 "$(deletes)" "DELETE requests at the destination"
assert_eq 50 "$(objects dst)" "objects at the destination"
((($(fake_s3_count GET '^/src/?$' list-type)) >= 1)) || fail "the source was not listed"

step "a source listing that fails after a few pages (500 every time): nothing deleted"
# Pages of 5 keys: the first source listings answer, every later one fails. Without the guard, the
# keys never seen would look extraneous at the destination.
rules '{"settings": {"page_size": 5},
        "rules": [{"method": "GET", "path": "^/src/?$", "query": "list-type",
                   "after": 3, "status": 500, "code": "InternalError", "times": 0}]}'
: >"$FAKE_S3_LOG"
mrun
assert_ne 0 "$RC" "exit status with a failing listing"
mj_check '{"ok": false, "listing_complete": false, "deleted.objects": 0}'
assert_eq 0 "$(deletes)" "DELETE requests at the destination"
assert_eq 50 "$(objects dst)" "objects at the destination"
((($(fake_s3_status_count 500)) >= 1)) || fail "no 500 was answered"
rules '{"settings": {"page_size": 1000}, "rules": []}'
mrun
assert_eq 0 "$RC" "exit status once the listing works"
mj_check '{"deleted.objects": 1, "listing_complete": true}'
assert_eq 49 "$(objects dst)" "objects at the destination"

step "15 of 49 deleted at the source (31%, above the default 10%): refused with the numbers"
mtool delete --server FAKE_S3 src "${keys[@]:1:15}"
printf '%s\n' '{"key": "media_attachments/files/112/000/000/000/000/009/original/00000000000000c9.jpg", "size": 900, "seed": "guard-add"}' |
    mtool put --server FAKE_S3 src
: >"$FAKE_S3_LOG"
mrun
assert_ne 0 "$RC" "exit status when max_delete is exceeded"
refusal=$(mj deletions_refused)
assert_contains "$refusal" "15" "deletions_refused"
assert_contains "$refusal" "49" "deletions_refused"
assert_contains "$refusal" "10%" "deletions_refused"
assert_contains "$ERR" "15" "the error message"
assert_contains "$ERR" "max_delete" "the error message"
mj_check '{"result": "refused", "deleted.objects": 0, "copied.objects": 1}'
assert_eq 0 "$(deletes)" "DELETE requests at the destination"
assert_eq 50 "$(objects dst)" "objects at the destination (49, and one copied)"

step "max_delete as a count: 14 refuses, 15 lets them through"
printf 'max_delete = 14\n' >>"$CONF"
mrun
assert_ne 0 "$RC" "exit status with max_delete = 14"
assert_contains "$(mj deletions_refused)" "14" "deletions_refused"
assert_eq 50 "$(objects dst)" "objects at the destination"
sed -i 's/^max_delete = 14$/max_delete = 15/' "$CONF"
mrun
assert_eq 0 "$RC" "exit status with max_delete = 15"
mj_check '{"result": "ok", "deleted.objects": 15, "deletions_refused": null}'
assert_eq 35 "$(objects dst)" "objects at the destination"

step "max_delete as a percentage: 40% lets 13 of 35 through"
mtool delete --server FAKE_S3 src "${keys[@]:16:13}"
sed -i 's/^max_delete = 15$/max_delete = 30%/' "$CONF"
mrun
assert_ne 0 "$RC" "exit status with max_delete = 30% (13 of 35 is 37%)"
assert_eq 35 "$(objects dst)" "objects at the destination"
sed -i 's/^max_delete = 30%$/max_delete = 40%/' "$CONF"
mrun
assert_eq 0 "$RC" "exit status with max_delete = 40%"
mj_check '{"deleted.objects": 13}'
assert_eq 22 "$(objects dst)" "objects at the destination"
mtool digest --server FAKE_S3 src >"$T/digest-src"
mtool digest --server FAKE_S3 dst >"$T/digest-dst"
digest_cmp "$T/digest-src" "$T/digest-dst" "source and destination"
echo "t_mirror_guards: ok"
