#!/usr/bin/env bash
# The native S3 client against a real radosgw through the two ways an operator names a bucket: an
# `[store] type = s3` section, and an rclone.conf remote of type s3 (`type = rclone`), which must be
# served natively (the rclone binary is made unavailable). Keys with spaces, '+', '%', unicode and
# '~' under a prefix survive; keys from the AWS_* environment variables work; wrong keys, a missing
# bucket and an unreachable endpoint fail with one clear error naming the store.
# needs: s3
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
test_init
s3_use_or_start "$T/ceph"

pg_new_db nat
"$root/tools/gen-mastodon-db.sh" -q --size-mb 4 -- -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" \
    -U mastodon -d nat
pg_fingerprint nat >"$T/src.fp"
bucket=$(s3_new_bucket native)

# conf FILE STORE-LINES...: a job "db" with one target, the store "remote".
conf()
{
    local file=$1 line
    shift
    {
        printf '[global]\nstate_dir = %s/state\n\n[store "remote"]\n' "$T"
        for line in "$@"; do
            printf '%s\n' "$line"
        done
        printf '\n[job "db"]\nkind = postgres\ndatabase = %s\npassword = env:DB_PASS\n' \
            "$(pg_conninfo nat)"
        printf 'targets = remote\nkeep = last 2\n'
    } >"$file"
    CONF=$file
}
restore_check()
{
    pg_drop_db "$1"
    assert_ok pf restore db latest --to "$(pg_conninfo "$1")" --create --password env:DB_PASS
    pg_fingerprint "$1" >"$T/$1.fp"
    assert_ok cmp "$T/src.fp" "$T/$1.fp"
}

step "type = s3 with a prefix"
export K_ID=$S3_ACCESS_KEY K_SECRET=$S3_SECRET_KEY
prefix=mastodon/backups
conf "$T/s3.conf" "type = s3" "endpoint = $S3_ENDPOINT" "region = $S3_REGION" \
    "bucket = $bucket" "prefix = $prefix" "access_key = env:K_ID" "secret_key = env:K_SECRET"
assert_ok pf run db
assert_ok s3_rclone lsf -R "s3:$bucket/$prefix/db/"
assert_contains "$OUT" "nat.dump.zst"
restore_check nat_r1

step "keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when the store names none"
conf "$T/env.conf" "type = s3" "endpoint = $S3_ENDPOINT" "region = $S3_REGION" \
    "bucket = $bucket" "prefix = envkeys"
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY assert_ok pf run db
assert_ok s3_rclone lsf -R "s3:$bucket/envkeys/db/"
assert_contains "$OUT" "manifest.json"
assert_exit 3 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$PERMAFROST" -c "$CONF" run db
assert_contains "$ERR" "no credentials"

step "an rclone.conf remote of type s3 (a path with a space and '+'), served natively"
export RCLONE_CONFIG=$T/rclone.conf
s3_rclone_conf "$RCLONE_CONFIG" geo
conf "$T/rclone-store.conf" "type = rclone" "remote = geo:$bucket/via rclone/x+y" \
    "rclone = /nonexistent/rclone"
assert_ok pf run db
assert_ok pf run db
assert_ok s3_rclone lsf --dirs-only "s3:$bucket/via rclone/x+y/db/"
assert_eq 2 "$(grep -c . <<<"$OUT")" "snapshots written through the rclone.conf remote"
restore_check nat_r2
unset RCLONE_CONFIG

step "objects written by s3cmd are read back by permafrost"
mapfile -t snaps < <(s3_rclone lsf --dirs-only "s3:$bucket/via rclone/x+y/db/")
snap=${snaps[0]%/}
s3_rclone copy "s3:$bucket/via rclone/x+y/db/$snap" "$T/copy/$snap" || fail "rclone copy"
assert_ok s3_s3cmd put --recursive "$T/copy/$snap" "s3://$bucket/s3cmd-writes/db/"
conf "$T/s3cmd.conf" "type = s3" "endpoint = $S3_ENDPOINT" "region = $S3_REGION" \
    "bucket = $bucket" "prefix = s3cmd-writes" "access_key = env:K_ID" "secret_key = env:K_SECRET"
assert_ok pf catalog rebuild
restore_check nat_r3

step "wrong secret key: 403 SignatureDoesNotMatch, one line naming the store"
export BAD_SECRET=not-the-secret
conf "$T/bad.conf" "type = s3" "endpoint = $S3_ENDPOINT" "region = $S3_REGION" \
    "bucket = $bucket" "access_key = env:K_ID" "secret_key = env:BAD_SECRET"
assert_exit 1 pf run db
assert_contains "$ERR" "store 'remote'"
assert_contains "$ERR" "SignatureDoesNotMatch"
assert_not_contains "$ERR" "not-the-secret"

step "wrong access key: 403 InvalidAccessKeyId"
export BAD_ID=AKIANOSUCHKEY000
conf "$T/bad.conf" "type = s3" "endpoint = $S3_ENDPOINT" "region = $S3_REGION" \
    "bucket = $bucket" "access_key = env:BAD_ID" "secret_key = env:K_SECRET"
assert_exit 1 pf run db
assert_contains "$ERR" "InvalidAccessKeyId"

step "a missing bucket: 404 NoSuchBucket"
conf "$T/bad.conf" "type = s3" "endpoint = $S3_ENDPOINT" "region = $S3_REGION" \
    "bucket = no-such-bucket-$RANDOM" "access_key = env:K_ID" "secret_key = env:K_SECRET"
assert_exit 1 pf run db
assert_contains "$ERR" "store 'remote'"
assert_contains "$ERR" "NoSuchBucket"
