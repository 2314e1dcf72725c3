#!/usr/bin/env bash
# The real S3 client (build/permafrost) against the scripted fake S3 server (tests/lib/fake_s3.py),
# which injects faults: 503 SlowDown with Retry-After, 500, a part that fails once, a connection
# reset in the middle of a download, a truncated body, a stalled server, 403 answers that must not
# be retried, a failed CompleteMultipartUpload (the upload is aborted and no manifest exists), and
# the bad-input cases (missing bucket, clock skew, wrong region, unreachable endpoint). Every case
# asserts the outcome and counts the requests the client sent.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/fake_s3.sh
. "$root/tests/lib/fake_s3.sh"
test_init

step "a database whose artifact needs three 5 MiB parts"
pg_new_db s3f
psql_db s3f -q -c "create table blobs (id int primary key, data text);
    insert into blobs select i, (select string_agg(md5(random()::text || i || j), '')
        from generate_series(1, 32) j) from generate_series(1, 20000) i;" >/dev/null
pg_fingerprint s3f >"$T/src.fp"

fake_s3_start "$T/fake" "" --no-auto-create --bucket backups --bucket replica
export FAKE_KEY=AKIDFAKE FAKE_SECRET=fake-secret-value
# s3_conf FILE BUCKET [EXTRA-STORE-LINE...]: a job with one target, the fake's bucket.
s3_conf()
{
    local file=$1 bucket=$2 line
    shift 2
    {
        printf '[global]\nstate_dir = %s/state\n\n' "$T"
        printf '[store "fake"]\ntype = s3\nendpoint = %s\nregion = nyc3\nbucket = %s\n' \
            "$FAKE_S3_ENDPOINT" "$bucket"
        printf 'access_key = env:FAKE_KEY\nsecret_key = env:FAKE_SECRET\npart_size = 5MiB\n'
        for line in "$@"; do
            printf '%s\n' "$line"
        done
        printf '\n[job "db"]\nkind = postgres\ndatabase = %s\npassword = env:DB_PASS\n' \
            "$(pg_conninfo s3f)"
        printf 'targets = fake\n'
    } >"$file"
    CONF=$file
}
# rules JSON: replace the fake's fault rules.
rules()
{
    printf '%s\n' "$1" >"$T/rules.json"
    fake_s3_script "$T/rules.json"
}
# manifests: complete snapshots in the bucket "backups" of the fake.
manifests()
{
    fake_s3_state | python3 -c '
import json, sys
objs = json.load(sys.stdin)["buckets"]["backups"]["objects"]
print(sum(1 for k in objs if k.endswith("/manifest.json")))'
}
# uploads_in_progress: multipart uploads not completed nor aborted, in every bucket.
uploads_in_progress()
{
    fake_s3_state | python3 -c '
import json, sys
print(sum(len(b["uploads"]) for b in json.load(sys.stdin)["buckets"].values()))'
}
restore_and_compare()
{
    local db=$1
    shift
    pg_drop_db "$db"
    assert_ok pf restore db latest --to "$(pg_conninfo "$db")" --create --password env:DB_PASS "$@"
    pg_fingerprint "$db" >"$T/$db.fp"
    assert_ok cmp "$T/src.fp" "$T/$db.fp"
}

s3_conf "$T/pf.conf" backups
step "baseline: a multipart upload of three parts, a single PUT for the manifest"
rules '[]'
assert_ok pf run db
assert_eq 1 "$(fake_s3_count POST '^/backups/db/' uploads)" "multipart uploads started"
parts=$(fake_s3_count PUT '^/backups/db/' partNumber=)
((parts >= 3)) || fail "expected at least 3 parts, got $parts"
assert_eq 1 "$(fake_s3_count POST '^/backups/db/' uploadId=)" "CompleteMultipartUpload"
assert_eq 1 "$(fake_s3_count PUT 'manifest\.json$')" "manifest PUTs"
assert_eq 0 "$(fake_s3_status_count 500)" "server errors"
restore_and_compare s3f_r0

step "503 SlowDown with Retry-After on a part, then 500 on the manifest: both retried"
before_parts=$(fake_s3_count PUT '^/backups/db/' partNumber=2)
rules '[{"method": "PUT", "query": "partNumber=2", "status": 503, "code": "SlowDown",
         "message": "Please reduce your request rate.", "headers": {"Retry-After": "1"}},
        {"method": "PUT", "path": "manifest\\.json$", "status": 500, "code": "InternalError"}]'
assert_ok pf run db
assert_eq 2 "$(($(fake_s3_count PUT '^/backups/db/' partNumber=2) - before_parts))" \
    "part 2 sent twice (503, then success)"
assert_eq 1 "$(fake_s3_status_count 503)" "503 answers"
assert_eq 1 "$(fake_s3_status_count 500)" "500 answers"
assert_eq 2 "$(manifests)" "complete snapshots"

step "a part whose connection is dropped once, and a reset while sending another: retried"
rules '[{"method": "PUT", "query": "partNumber=1", "drop": "rst"},
        {"method": "PUT", "query": "partNumber=3", "drop": true}]'
assert_ok pf run db
assert_eq 2 "$(fake_s3_fault_count drop)" "dropped requests"
assert_eq 3 "$(manifests)" "complete snapshots"

step "restore through a truncated body and then a reset: resumed with Range from where it broke"
# The first GET ends early (the full length announced, half a part sent, then closed); the resume
# (a ranged GET) is reset midway and resumed again. Listings come two keys a page, so finding the
# snapshot takes several ListObjectsV2 pages joined by continuation tokens.
rules '{"settings": {"page_size": 2},
        "rules": [{"method": "GET", "path": "\\.dump\\.zst$", "truncate": 2000000},
                  {"method": "GET", "path": "\\.dump\\.zst$", "header": "Range",
                   "reset_after_bytes": 1000000}]}'
restore_and_compare s3f_r1
pages=$(fake_s3_count GET '^/backups/$' continuation-token=)
((pages >= 2)) || fail "expected listing pages after the first, got $pages"
assert_eq 1 "$(fake_s3_fault_count truncate)" "truncated answers"
assert_eq 1 "$(fake_s3_fault_count reset)" "reset answers"
mapfile -t ranges < <(grep -o '"range": "bytes=[0-9]*-' "$FAKE_S3_LOG" | grep -o '[0-9]*' || true)
((${#ranges[@]} >= 2)) || fail "expected at least 2 ranged GETs (resumes), got ${#ranges[@]}"
assert_eq 2000000 "${ranges[0]}" "first resume offset (bytes delivered before the truncation)"
((ranges[1] >= 2000000)) || fail "second resume starts at ${ranges[1]}, before the first"

rules '{"settings": {"page_size": 1000}, "rules": []}'

step "a second bucket on the same service and keys: replicated by server-side copy"
{
    printf '\n[store "fake-replica"]\ntype = s3\nendpoint = %s\nregion = nyc3\n' "$FAKE_S3_ENDPOINT"
    printf 'bucket = replica\naccess_key = env:FAKE_KEY\nsecret_key = env:FAKE_SECRET\n'
} >>"$CONF"
sed -i 's/^targets = fake$/targets = fake, fake-replica/' "$CONF"
rules '[]'
assert_ok pf --json run db
assert_contains "$OUT" '"transfer": "server-side copy"'
assert_eq 2 "$(fake_s3_count PUT '^/replica/db/')" "CopyObject requests (artifact, manifest)"
copies=$(grep -c '"x-amz-copy-source": "/backups/db/' "$FAKE_S3_LOG" || true)
assert_eq 2 "$copies" "requests carrying x-amz-copy-source"
step "above the single-copy limit: UploadPartCopy in ranges, then complete"
PERMAFROST_TEST_S3_COPY_LIMIT=$((5 * 1024 * 1024)) assert_ok pf run db
part_copies=$(grep -c '"x-amz-copy-source-range": "bytes=' "$FAKE_S3_LOG" || true)
((part_copies >= 3)) || fail "expected at least 3 UploadPartCopy ranges, got $part_copies"
assert_eq 1 "$(fake_s3_count POST '^/replica/db/' uploadId=)" "completed part copies"
pg_drop_db s3f_r2
assert_ok pf restore db latest --from fake-replica --to "$(pg_conninfo s3f_r2)" --create \
    --password env:DB_PASS
pg_fingerprint s3f_r2 >"$T/s3f_r2.fp"
assert_ok cmp "$T/src.fp" "$T/s3f_r2.fp"

step "the service refuses the server-side copy (AccessDenied): the bytes are streamed instead"
rules '[{"method": "PUT", "header": "x-amz-copy-source", "status": 403, "code": "AccessDenied",
         "times": 0}]'
assert_ok pf --json run db
assert_contains "$OUT" '"transfer": "copied"'
assert_not_contains "$OUT" '"ok": false'
assert_eq 2 "$(fake_s3_status_count 403)" "refused CopyObject requests (artifact, manifest)"
rules '[]'
s3_conf "$T/pf.conf" backups

step "a stalled server: the low-speed timeout fires and the request is retried"
s3_conf "$T/pf.conf" backups "low_speed_timeout = 2s"
# The stalled CompleteMultipartUpload has completed the upload when the client gives up on it: the
# retry is answered NoSuchUpload, and the client finds the object whole (HEAD) and goes on.
rules '[{"method": "PUT", "path": "manifest\\.json$", "stall_seconds": 20},
        {"method": "POST", "query": "uploadId=", "stall_seconds": 20}]'
assert_ok pf run db
assert_eq 2 "$(fake_s3_fault_count stall)" "stalled requests"
assert_eq 1 "$(grep -c '"code": "NoSuchUpload"' "$FAKE_S3_LOG")" "completion retried into NoSuchUpload"
assert_eq 7 "$(manifests)" "complete snapshots"
s3_conf "$T/pf.conf" backups

step "403 SignatureDoesNotMatch: no retry, a clear error naming the store, no snapshot"
put_before=$(($(fake_s3_count PUT '^/backups/db/') + $(fake_s3_count POST '^/backups/db/' uploads)))
refused_before=$(fake_s3_status_count 403)
rules '[{"method": ["PUT", "POST"], "status": 403, "code": "SignatureDoesNotMatch",
         "message": "", "times": 0}]'
assert_exit 1 pf run db
assert_contains "$ERR" "store 'fake'"
assert_contains "$ERR" "SignatureDoesNotMatch"
assert_contains "$ERR" "request id"
assert_contains "$ERR" "secret_key"
assert_not_contains "$ERR" "fake-secret-value"
assert_eq 1 "$(($(fake_s3_status_count 403) - refused_before))" "requests answered 403 (no retry)"
sent=$(($(fake_s3_count PUT '^/backups/db/') + $(fake_s3_count POST '^/backups/db/' uploads)))
assert_eq 1 "$((sent - put_before))" "writes sent after the 403"
assert_eq 7 "$(manifests)" "complete snapshots"

step "CompleteMultipartUpload fails (an <Error> inside a 200): aborted, no manifest"
rules '[{"method": "POST", "query": "uploadId=", "status": 200, "code": "InternalError",
         "message": "We encountered an internal error. Please try again."}]'
abort_before=$(fake_s3_count DELETE '^/backups/db/' uploadId=)
assert_exit 1 pf run db
assert_contains "$ERR" "InternalError"
assert_eq 1 "$(($(fake_s3_count DELETE '^/backups/db/' uploadId=) - abort_before))" \
    "AbortMultipartUpload requests"
assert_eq 7 "$(manifests)" "complete snapshots"
assert_eq 0 "$(uploads_in_progress)" "multipart uploads left in progress"

step "CompleteMultipartUpload refused with 400 InvalidPart: aborted, no manifest"
rules '[{"method": "POST", "query": "uploadId=", "status": 400, "code": "InvalidPart"}]'
assert_exit 1 pf run db
assert_contains "$ERR" "InvalidPart"
assert_eq 7 "$(manifests)" "complete snapshots"

step "clock skew: 403 RequestTimeTooSkewed, with a hint about the clock"
rules '[{"status": 403, "code": "RequestTimeTooSkewed",
         "message": "The difference between the request time and the current time is too large.",
         "times": 0}]'
assert_exit 1 pf run db
assert_contains "$ERR" "store 'fake'"
assert_contains "$ERR" "RequestTimeTooSkewed"
assert_contains "$ERR" "clock"

step "wrong region: AuthorizationHeaderMalformed, with a hint about 'region'"
rules '[{"status": 400, "code": "AuthorizationHeaderMalformed",
         "message": "the region us-east-1 is wrong; expecting eu-west-1", "times": 0}]'
assert_exit 1 pf run db
assert_contains "$ERR" "AuthorizationHeaderMalformed"
assert_contains "$ERR" "region"

step "a bucket that does not exist: NoSuchBucket, named"
rules '[]'
s3_conf "$T/pf.conf" no-such-bucket
assert_exit 1 pf run db
assert_contains "$ERR" "store 'fake'"
assert_contains "$ERR" "NoSuchBucket"

step "an unreachable endpoint: a clear network error naming the endpoint"
port=$(free_port)
sed -i "s#^endpoint = .*#endpoint = http://127.0.0.1:$port#" "$T/pf.conf"
assert_exit 1 pf run db
assert_contains "$ERR" "store 'fake'"
assert_contains "$ERR" "cannot connect"
assert_contains "$ERR" "127.0.0.1:$port"
fake_s3_stop
