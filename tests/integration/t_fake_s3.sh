#!/usr/bin/env bash
# Self-test of the fake S3 server (tests/lib/fake_s3.py, tests/lib/fake_s3.sh), driven with curl:
# a strict in-memory S3 (PUT/GET/HEAD/Range, digests, listing pages, multipart, copy, delete) and
# each scripted fault (503 once, reset mid-body, truncated body, stall, drop, 200 with an <Error>),
# then the request-log counts. Needs neither PostgreSQL nor the permafrost binary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/fake_s3.sh
. "$root/tests/lib/fake_s3.sh"

test_init_dirs
command -v curl >/dev/null || fail "curl is needed"
command -v python3 >/dev/null || fail "python3 is needed"

AUTH='Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0000'
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# s3req METHOD PATH [BODYFILE [CURL-ARGS...]]: one request with a SigV4-shaped Authorization header
# and the body's SHA-256 (S3_SHA overrides it). Sets STATUS (the HTTP status, 000 when none) and
# CURL_RC; the body is in $T/out, the headers in $T/hdr, curl's stderr in $T/curl.err.
s3req()
{
    local method=$1 path=$2 body=${3:-} sha=$EMPTY_SHA
    shift 2
    (($# == 0)) || shift
    local args=(-sS --max-time 20 -o "$T/out" -D "$T/hdr" -w '%{http_code}' -H "$AUTH"
        -H "x-amz-date: 20240101T000000Z")
    if [[ $method == HEAD ]]; then
        args+=(-I)
    else
        args+=(-X "$method")
    fi
    if [[ -n $body ]]; then
        sha=$(sha256sum <"$body")
        sha=${sha%% *}
        args+=(--data-binary "@$body" -H 'Content-Type: application/octet-stream')
    fi
    args+=(-H "x-amz-content-sha256: ${S3_SHA:-$sha}")
    CURL_RC=0
    rm -f "$T/out" "$T/hdr"
    STATUS=$(curl "${args[@]}" "$@" "$FAKE_S3_ENDPOINT$path" 2>"$T/curl.err") || CURL_RC=$?
}

# s3ok ...: s3req that must succeed with the status given first.
s3ok()
{
    local want=$1
    shift
    s3req "$@"
    if [[ $CURL_RC != 0 || $STATUS != "$want" ]]; then
        cat "$T/curl.err" "$T/out" >&2 2>/dev/null || true
        fail "$1 $2: curl exit $CURL_RC, status $STATUS, expected $want"
    fi
}

# xml_get FILE TAG: the text of every element named TAG, one per line (good enough for the
# fake's own compact, unindented XML; python3 would cost a start-up per call).
xml_get()
{
    { grep -o "<$2>[^<]*</$2>" "$1" || true; } | sed -e "s|^<$2>||" -e "s|</$2>\$||" \
        -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
}

header()
{
    sed -n "s/^$1: *//Ip" "$T/hdr" | tr -d '\r' | tail -n 1
}

md5_b64()
{
    python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.md5(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}

md5_of()
{
    local m
    m=$(md5sum <"$1")
    printf '%s\n' "${m%% *}"
}

fake_s3_start "$T/fake" "" --min-part-size 1024 --page-size 2

step "no Authorization: 403 AccessDenied with a request id"
run curl -sS -o "$T/out" -D "$T/hdr" -w '%{http_code}' "$FAKE_S3_ENDPOINT/bkt/a"
assert_eq 403 "$OUT" "status"
assert_eq AccessDenied "$(xml_get "$T/out" Code)" "error code"
assert_ne "" "$(header x-amz-request-id)" "x-amz-request-id"
assert_eq "$(header x-amz-request-id)" "$(xml_get "$T/out" RequestId)" "RequestId"

step "PUT then GET returns the same bytes; ETag is the quoted MD5"
head -c 100000 /dev/urandom >"$T/obj"
s3ok 200 PUT /bkt/dir/obj "$T/obj" -H "Content-MD5: $(md5_b64 "$T/obj")"
assert_eq "\"$(md5_of "$T/obj")\"" "$(header ETag)" "PUT ETag"
s3ok 200 GET /bkt/dir/obj
cmp -s "$T/obj" "$T/out" || fail "GET returned other bytes"
assert_eq "\"$(md5_of "$T/obj")\"" "$(header ETag)" "GET ETag"
s3ok 200 HEAD /bkt/dir/obj
assert_eq 100000 "$(header Content-Length)" "HEAD Content-Length"

step "Range GET: 206 with Content-Range and the right slice"
s3ok 206 GET /bkt/dir/obj "" -H 'Range: bytes=99000-'
assert_eq "bytes 99000-99999/100000" "$(header Content-Range)" "Content-Range"
tail -c 1000 "$T/obj" >"$T/slice"
cmp -s "$T/slice" "$T/out" || fail "range GET returned other bytes"
s3req GET /bkt/dir/obj "" -H 'Range: bytes=100000-'
assert_eq 416 "$STATUS" "range past the end"

step "digest checks: bad Content-MD5 (BadDigest), bad x-amz-content-sha256 (mismatch)"
printf 'other' >"$T/other"
s3req PUT /bkt/bad "$T/obj" -H "Content-MD5: $(md5_b64 "$T/other")"
assert_eq 400 "$STATUS" "status"
assert_eq BadDigest "$(xml_get "$T/out" Code)" "code"
S3_SHA=$(sha256sum <"$T/other" | cut -d' ' -f1) s3req PUT /bkt/bad "$T/obj"
assert_eq 400 "$STATUS" "status"
assert_eq XAmzContentSHA256Mismatch "$(xml_get "$T/out" Code)" "code"
s3req GET /bkt/bad
assert_eq NoSuchKey "$(xml_get "$T/out" Code)" "rejected PUTs stored nothing"

step "keep-alive: two requests in one curl run share a connection"
run curl -sS -o /dev/null -o /dev/null -H "$AUTH" -H "x-amz-content-sha256: $EMPTY_SHA" \
    "$FAKE_S3_ENDPOINT/bkt/dir/obj" "$FAKE_S3_ENDPOINT/bkt/dir/obj?ka=1"
# (?ka=1 is not an S3 parameter: NotImplemented, still on the same connection.)
conns=$(python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(str(r["conn"]) for r in rs[-2:]))' "$FAKE_S3_LOG")
assert_match "$conns" '^([0-9]+) \1$' "connections of the last two requests"

step "503 SlowDown with Retry-After once, then success"
cat >"$T/s503.json" <<'EOF'
[{"name": "slow", "method": "GET", "path": "^/bkt/dir/obj$", "status": 503, "code": "SlowDown",
  "headers": {"Retry-After": "1"}}]
EOF
fake_s3_script "$T/s503.json"
s3req GET /bkt/dir/obj
assert_eq 503 "$STATUS" "first GET"
assert_eq SlowDown "$(xml_get "$T/out" Code)" "code"
assert_eq 1 "$(header Retry-After)" "Retry-After"
s3ok 200 GET /bkt/dir/obj
cmp -s "$T/obj" "$T/out" || fail "GET after the 503 returned other bytes"
assert_contains "$(fake_s3_rules)" '"applied": 1' "rule counters"

step "after/times: the 2nd and 3rd PUTs of a part fail with 500, the others succeed"
cat >"$T/s500.json" <<'EOF'
{"rules": [{"method": "PUT", "path": "^/bkt/p$", "after": 1, "times": 2, "status": 500,
            "code": "InternalError"}]}
EOF
fake_s3_script "$T/s500.json"
got=""
for _ in 1 2 3 4; do
    s3req PUT /bkt/p "$T/other"
    got+="$STATUS "
done
assert_eq "200 500 500 200 " "$got" "statuses"

step "reset_after_bytes: curl sees a reset after part of the body"
cat >"$T/sreset.json" <<'EOF'
[{"method": "GET", "path": "^/bkt/dir/obj$", "reset_after_bytes": 1000}]
EOF
fake_s3_script "$T/sreset.json"
s3req GET /bkt/dir/obj
assert_match "$CURL_RC" '^(18|56)$' "curl exit status after a reset"
size=$(stat -c %s "$T/out" 2>/dev/null || echo 0)
((size <= 1000)) || fail "received $size bytes, more than the 1000 sent before the reset"

step "truncate: full Content-Length announced, fewer bytes sent, curl fails"
cat >"$T/strunc.json" <<'EOF'
[{"method": "GET", "path": "^/bkt/dir/obj$", "truncate": true}]
EOF
fake_s3_script "$T/strunc.json"
s3req GET /bkt/dir/obj
assert_match "$CURL_RC" '^(18|56)$' "curl exit status after a truncated body"
assert_eq 100000 "$(header Content-Length)" "announced Content-Length"
assert_eq 50000 "$(stat -c %s "$T/out")" "bytes received"

step "stall: curl --max-time gives up (exit 28)"
cat >"$T/sstall.json" <<'EOF'
[{"method": "HEAD", "path": "^/bkt/dir/obj$", "stall_seconds": 30}]
EOF
fake_s3_script "$T/sstall.json"
s3req HEAD /bkt/dir/obj "" --max-time 1
assert_eq 28 "$CURL_RC" "curl exit status on a stalled server"

step "drop: the connection is closed without an answer (curl exit 52)"
cat >"$T/sdrop.json" <<'EOF'
[{"method": "DELETE", "path": "^/bkt/dir/obj$", "drop": true}]
EOF
fake_s3_script "$T/sdrop.json"
s3req DELETE /bkt/dir/obj
assert_eq 52 "$CURL_RC" "curl exit status on a dropped request"
s3ok 200 HEAD /bkt/dir/obj

step "before_body: 403 instead of 100 Continue; the body is never stored"
cat >"$T/searly.json" <<'EOF'
[{"method": "PUT", "path": "^/bkt/early$", "before_body": true, "status": 403,
  "code": "SignatureDoesNotMatch"}]
EOF
fake_s3_script "$T/searly.json"
s3req PUT /bkt/early "$T/obj" -H 'Expect: 100-continue'
assert_eq 403 "$STATUS" "status"
assert_eq SignatureDoesNotMatch "$(xml_get "$T/out" Code)" "code"
s3req HEAD /bkt/early
assert_eq 404 "$STATUS" "object rejected before its body"
echo "[]" >"$T/none.json"
fake_s3_script "$T/none.json"

step "ListObjectsV2 over 3 pages (page size 2) with continuation tokens"
for k in a b c d e; do
    s3ok 200 PUT "/lst/pre/$k" "$T/other"
done
s3ok 200 PUT /lst/zzz-outside "$T/other"
keys="" pages=0 token="" truncated=true
while [[ $truncated == true ]]; do
    q="list-type=2&prefix=pre%2F"
    [[ -n $token ]] && q+="&continuation-token=$(python3 -c \
        'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$token")"
    s3ok 200 GET "/lst?$q"
    pages=$((pages + 1))
    ((pages <= 5)) || fail "listing does not end"
    keys+="$(xml_get "$T/out" Key | tr '\n' ' ')"
    truncated=$(xml_get "$T/out" IsTruncated)
    token=$(xml_get "$T/out" NextContinuationToken)
    assert_contains "$(head -c 300 "$T/out")" 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' \
        "listing namespace"
done
assert_eq 3 "$pages" "pages"
assert_eq "pre/a pre/b pre/c pre/d pre/e " "$keys" "listed keys"
s3ok 200 GET "/lst?list-type=2&delimiter=%2F&max-keys=10"
assert_eq "pre/" "$(xml_get "$T/out" Prefix | tail -n 1)" "common prefix"

step "multipart: initiate, two parts (one chunked), complete; ETag md5-of-md5s-2"
head -c 2048 /dev/urandom >"$T/part1"
head -c 100 /dev/urandom >"$T/part2"
s3ok 200 POST "/bkt/big?uploads"
uid=$(xml_get "$T/out" UploadId)
assert_ne "" "$uid" "UploadId"
s3ok 200 PUT "/bkt/big?partNumber=1&uploadId=$uid" "$T/part1"
etag1=$(header ETag)
s3ok 200 PUT "/bkt/big?partNumber=2&uploadId=$uid" "$T/part2" -H 'Transfer-Encoding: chunked'
etag2=$(header ETag)
assert_eq "\"$(md5_of "$T/part2")\"" "$etag2" "ETag of the chunked part"
s3ok 200 GET "/bkt?uploads"
assert_eq "$uid" "$(xml_get "$T/out" UploadId)" "upload listed"
printf '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>' \
    "$etag1" "$etag2" >"$T/complete.xml"
cat >"$T/scomplete.json" <<'EOF'
[{"method": "POST", "path": "^/bkt/big$", "query": "uploadId=", "status": 200,
  "code": "InternalError", "message": ""}]
EOF
fake_s3_script "$T/scomplete.json"
s3ok 200 POST "/bkt/big?uploadId=$uid" "$T/complete.xml"
assert_eq InternalError "$(xml_get "$T/out" Code)" "200 with an <Error> body"
assert_eq "" "$(xml_get "$T/out" Message)" "empty Message"
s3ok 200 POST "/bkt/big?uploadId=$uid" "$T/complete.xml"
want=$(cat "$T/part1" "$T/part2" | md5sum | cut -d' ' -f1)
got=$(python3 -c '
import hashlib, sys
print(hashlib.md5(b"".join(hashlib.md5(open(f, "rb").read()).digest() for f in sys.argv[1:])).hexdigest())' \
    "$T/part1" "$T/part2")
assert_eq "\"$got-2\"" "$(xml_get "$T/out" ETag)" "multipart ETag"
s3ok 200 GET /bkt/big
assert_eq "$want" "$(md5_of "$T/out")" "multipart object bytes"

step "multipart: a small non-final part is EntityTooSmall; abort removes the upload"
s3ok 200 POST "/bkt/small?uploads"
uid=$(xml_get "$T/out" UploadId)
s3ok 200 PUT "/bkt/small?partNumber=1&uploadId=$uid" "$T/part2"
etag1=$(header ETag)
s3ok 200 PUT "/bkt/small?partNumber=2&uploadId=$uid" "$T/part2"
etag2=$(header ETag)
printf '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>' \
    "$etag1" "$etag2" >"$T/complete.xml"
s3req POST "/bkt/small?uploadId=$uid" "$T/complete.xml"
assert_eq 400 "$STATUS" "status"
assert_eq EntityTooSmall "$(xml_get "$T/out" Code)" "code"
s3ok 204 DELETE "/bkt/small?uploadId=$uid"
s3req DELETE "/bkt/small?uploadId=$uid"
assert_eq NoSuchUpload "$(xml_get "$T/out" Code)" "second abort"
s3ok 200 GET "/bkt?uploads"
assert_eq "" "$(xml_get "$T/out" UploadId)" "uploads left"

step "CopyObject and DeleteObjects (Quiet)"
s3ok 200 PUT /bkt/copy "" -H 'x-amz-copy-source: /bkt/dir/obj'
assert_eq "\"$(md5_of "$T/obj")\"" "$(xml_get "$T/out" ETag)" "copy ETag"
printf '<Delete><Quiet>true</Quiet><Object><Key>copy</Key></Object><Object><Key>p</Key></Object></Delete>' \
    >"$T/delete.xml"
s3req POST "/bkt?delete" "$T/delete.xml"
assert_eq 400 "$STATUS" "DeleteObjects without Content-MD5"
s3ok 200 POST "/bkt?delete" "$T/delete.xml" -H "Content-MD5: $(md5_b64 "$T/delete.xml")"
assert_eq "" "$(xml_get "$T/out" Deleted)" "quiet result"
s3req HEAD /bkt/copy
assert_eq 404 "$STATUS" "deleted object"
state=$(fake_s3_state)
assert_contains "$state" '"dir/obj"' "state"
assert_not_contains "$state" '"copy"' "state"

step "the request log counts what was sent"
assert_eq 2 "$(fake_s3_count DELETE '^/bkt/small$' "uploadId=$uid")" "abort requests"
assert_eq 2 "$(fake_s3_count POST '^/bkt/big$' uploadId=)" "complete requests"
assert_eq 1 "$(fake_s3_count PUT '^/bkt/big$' partNumber=2)" "part 2 uploads"
assert_eq 1 "$(fake_s3_status_count 503)" "503 answers"
assert_eq 2 "$(fake_s3_status_count 500)" "500 answers"
assert_eq 1 "$(fake_s3_status_count dropped)" "dropped requests"
assert_eq 1 "$(fake_s3_fault_count reset_after_bytes)" "resets"
assert_eq 1 "$(fake_s3_fault_count truncate)" "truncations"
assert_eq 1 "$(fake_s3_fault_count stall)" "stalls"
assert_eq 1 "$(fake_s3_fault_count before_body)" "early answers"
assert_eq 0 "$(fake_s3_count '*' '^/__control/')" "control requests counted"
line=$(grep -m1 '"range"' "$FAKE_S3_LOG")
assert_contains "$line" '"range": "bytes=99000-"' "logged Range header"
assert_contains "$line" '"authorization": "yes"' "logged authorization presence"
assert_not_contains "$(cat "$FAKE_S3_LOG")" "Signature=" "log"

step "SIGTERM ends it; --max-seconds ends it by itself"
pid=$FAKE_S3_PID
fake_s3_stop
pid_alive "$pid" && fail "fake_s3 still running after fake_s3_stop"
FAKE_S3_MAX_SECONDS=1 fake_s3_start "$T/fake2"
pid=$FAKE_S3_PID
for ((i = 0; i < 100; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
done
pid_alive "$pid" && fail "fake_s3 outlived --max-seconds 1"
assert_file_contains "$T/fake2/fake_s3.err" "lifetime of 1 s reached"
wait "$pid" || fail "fake_s3 exited with status $? at the end of its lifetime"
step "ok"
