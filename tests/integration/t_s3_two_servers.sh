#!/usr/bin/env bash
# Two independent test S3 servers ("two geographies", tests/lib/s3.sh s3_start_second), checked with
# rclone and s3cmd only: separate bucket namespaces and users, and bytes copied from one to the
# other by rclone come back unchanged from the second through s3cmd.
# needs: s3 s3b
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"

test_init_dirs
s3_use_or_start "$T/ceph-a"
s3_start_second "$T/ceph-b"
echo "S3 servers: A $S3_ENDPOINT, B $S3B_ENDPOINT"
rc_fast=(--retries 1 --low-level-retries 1)

step "two servers on two endpoints with different users"
assert_ne "$S3_ENDPOINT" "$S3B_ENDPOINT" "endpoints"
assert_ne "$S3_ACCESS_KEY" "$S3B_ACCESS_KEY" "access keys"
if [[ -n ${S3_CEPH_DIR:-} || -n ${S3B_CEPH_DIR:-} ]]; then
    assert_ne "${S3_CEPH_DIR:-}" "${S3B_CEPH_DIR:-}" "cluster directories"
fi

step "a bucket made on A is not on B, and B can make one of the same name"
bucket=$(s3_new_bucket geo)
assert_ok s3_rclone "${rc_fast[@]}" lsf s3:
assert_contains "$OUT" "$bucket/" "buckets on A"
assert_ok s3_rclone "${rc_fast[@]}" lsf s3b:
assert_not_contains "$OUT" "$bucket/" "buckets on B"
assert_ok s3_s3cmd -c "$S3B_S3CMD_CONF" mb "s3://$bucket"

step "A's keys are unknown to B"
sed "s/^\(host_base\|host_bucket\) = .*/\1 = ${S3B_ENDPOINT#http://}/" "$S3_S3CMD_CONF" \
    >"$T/s3cmd-a-keys-on-b.cfg"
assert_fails s3_s3cmd -c "$T/s3cmd-a-keys-on-b.cfg" ls "s3://$bucket/"
assert_contains "$ERR" "InvalidAccessKeyId" "A's keys on B"

step "rclone copies A to B (no server-side copy possible); s3cmd reads the same bytes from B"
head -c $((1024 * 1024 + 3)) /dev/urandom >"$T/x.bin"
for i in 1 2 3; do
    cp "$T/x.bin" "$T/x$i.bin"
    printf '%d' "$i" >>"$T/x$i.bin"
    assert_ok s3_s3cmd put "$T/x$i.bin" "s3://$bucket/snap/x$i.bin"
done
assert_ok s3_rclone "${rc_fast[@]}" copy "s3:$bucket/snap" "s3b:$bucket/mirror"
assert_ok s3_rclone "${rc_fast[@]}" lsf "s3b:$bucket/mirror"
assert_eq $'x1.bin\nx2.bin\nx3.bin' "$OUT" "objects on B"
for i in 1 2 3; do
    assert_ok s3_s3cmd -c "$S3B_S3CMD_CONF" get --force "s3://$bucket/mirror/x$i.bin" "$T/y$i.bin"
    assert_ok cmp "$T/x$i.bin" "$T/y$i.bin"
done
# The copy did not appear on A.
assert_ok s3_rclone "${rc_fast[@]}" lsf "s3:$bucket"
assert_not_contains "$OUT" "mirror" "objects on A"
echo "t_s3_two_servers: ok"
