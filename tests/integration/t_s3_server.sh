#!/usr/bin/env bash
# The test S3 server (Ceph radosgw from tests/lib/ceph.sh) checked end to end with independent
# clients only (rclone and s3cmd, no permafrost): buckets, bytes written by one client read back
# by the other, a listing of 1500 keys (more than one ListObjectsV2 page), the zonegroup region
# in force, and refused credentials. If this test fails, the S3 store tests cannot be trusted.
# needs: s3
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"

test_init_dirs
s3_use_or_start "$T/ceph"
echo "S3 server: $S3_ENDPOINT region $S3_REGION"

# Fewer retries: a refused request should fail at once, and a failure show up quickly.
rc_fast=(--retries 1 --low-level-retries 1)

step "a bucket by s3cmd (s3_new_bucket) and one by rclone (LocationConstraint $S3_REGION)"
bucket=$(s3_new_bucket "t_s3_server")
assert_match "$bucket" '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$' "bucket name"
second=$(s3_new_bucket "t_s3_server")
assert_ne "$bucket" "$second" "two bucket names for the same NAME"
rbucket=pf-rclone-$RANDOM$RANDOM
assert_ok s3_rclone "${rc_fast[@]}" mkdir "s3:$rbucket"
assert_ok s3_s3cmd ls
assert_contains "$OUT" "s3://$bucket" "s3cmd ls"
assert_contains "$OUT" "s3://$rbucket" "s3cmd ls"

step "a region other than the zonegroup's api_name is refused (so S3_REGION is in force)"
sed "s/^region = .*/region = us-west-1/" "$S3_RCLONE_CONF" >"$T/rclone-wrong-region.conf"
assert_fails s3_rclone --config "$T/rclone-wrong-region.conf" "${rc_fast[@]}" mkdir \
    "s3:pf-wrong-region-$RANDOM"
assert_contains "$ERR" "InvalidLocationConstraint" "rclone mkdir with region us-west-1"

step "rclone copyto, s3cmd get: the same bytes"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$T/a.bin"
assert_ok s3_rclone "${rc_fast[@]}" copyto "$T/a.bin" "s3:$bucket/dir/a b+c.bin"
assert_ok s3_s3cmd get --force "s3://$bucket/dir/a b+c.bin" "$T/a.back"
assert_ok cmp "$T/a.bin" "$T/a.back"

step "s3cmd put, rclone cat: the same bytes"
head -c 100001 /dev/urandom >"$T/b.bin"
assert_ok s3_s3cmd put "$T/b.bin" "s3://$rbucket/b.bin"
s3_rclone "${rc_fast[@]}" cat "s3:$rbucket/b.bin" >"$T/b.back"
assert_ok cmp "$T/b.bin" "$T/b.back"
# And an object that is not there is an error, not empty output.
assert_fails s3_s3cmd get --force "s3://$rbucket/missing.bin" "$T/missing.back"

step "1500 keys: rclone lsf and s3cmd ls list them all (more than one 1000-key page)"
mkdir -p "$T/many"
for ((i = 0; i < 1500; i++)); do
    printf '%d\n' "$i" >"$T/many/k$(printf '%05d' "$i")"
done
assert_ok s3_rclone "${rc_fast[@]}" --transfers 16 --checkers 16 copy "$T/many" "s3:$second/many"
( cd "$T/many" && printf '%s\n' k* ) | LC_ALL=C sort >"$T/many.want"
s3_rclone "${rc_fast[@]}" lsf "s3:$second/many" | LC_ALL=C sort >"$T/many.rclone"
assert_eq 1500 "$(wc -l <"$T/many.rclone")" "keys listed by rclone lsf"
assert_ok cmp "$T/many.want" "$T/many.rclone"
assert_ok s3_s3cmd ls "s3://$second/many/"
assert_eq 1500 "$(grep -c "s3://$second/many/k" <<<"$OUT")" "keys listed by s3cmd ls"
# Contents survive too (spot checks at both ends and across the page boundary).
for k in 00000 00999 01000 01499; do
    assert_eq "$((10#$k))" "$(s3_rclone "${rc_fast[@]}" cat "s3:$second/many/k$k")" "object k$k"
done

step "a wrong secret key is refused with 403 by s3cmd and by rclone"
sed "s/^secret_key = .*/secret_key = wrong${RANDOM}secret/" "$S3_S3CMD_CONF" >"$T/s3cmd-wrong.cfg"
assert_fails s3_s3cmd -c "$T/s3cmd-wrong.cfg" ls "s3://$bucket/"
assert_contains "$ERR" "403" "s3cmd with a wrong secret"
assert_contains "$ERR" "SignatureDoesNotMatch" "s3cmd with a wrong secret"
sed "s/^secret_access_key = .*/secret_access_key = wrong${RANDOM}secret/" "$S3_RCLONE_CONF" \
    >"$T/rclone-wrong.conf"
assert_fails s3_rclone --config "$T/rclone-wrong.conf" "${rc_fast[@]}" lsf "s3:$bucket/dir"
assert_contains "$ERR" "403" "rclone with a wrong secret"
assert_contains "$ERR" "SignatureDoesNotMatch" "rclone with a wrong secret"
# Nothing was written with the wrong key, and the right one still works.
assert_fails s3_s3cmd -c "$T/s3cmd-wrong.cfg" put "$T/b.bin" "s3://$bucket/intruder.bin"
assert_contains "$ERR" "403" "s3cmd put with a wrong secret"
assert_ok s3_rclone "${rc_fast[@]}" lsf "s3:$bucket"
assert_not_contains "$OUT" "intruder.bin" "bucket listing"

step "an unknown access key is refused with 403 InvalidAccessKeyId"
sed "s/^access_key = .*/access_key = PFUNKNOWN${RANDOM}KEY/" "$S3_S3CMD_CONF" >"$T/s3cmd-unknown.cfg"
assert_fails s3_s3cmd -c "$T/s3cmd-unknown.cfg" ls "s3://$bucket/"
assert_contains "$ERR" "403" "s3cmd with an unknown access key"
assert_contains "$ERR" "InvalidAccessKeyId" "s3cmd with an unknown access key"

step "the secret key is in no server log and no daemon's command line"
if [[ -n ${S3_CEPH_DIR:-} && -d $S3_CEPH_DIR/log ]]; then
    # grep -f reads the secret from a file descriptor: not on grep's own command line either.
    if grep -rqF -f <(printf '%s\n' "$S3_SECRET_KEY") "$S3_CEPH_DIR/log"; then
        fail "the S3 secret key appears in $S3_CEPH_DIR/log"
    fi
    while read -r pid _; do
        if [[ -r /proc/$pid/cmdline ]] &&
            tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qF -f <(printf '%s\n' "$S3_SECRET_KEY"); then
            fail "the S3 secret key is on the command line of pid $pid"
        fi
    done <"$S3_CEPH_DIR/pids"
else
    echo "(no CEPH_DIR: the server was not started by tests/lib/ceph.sh here; skipped)"
fi
echo "t_s3_server: ok"
