#!/usr/bin/env bash
# A `kind = mirror` job between two buckets of one radosgw with the same keys: every copy is a
# server-side CopyObject (no byte goes through permafrost), `rclone check` finds no difference, the
# ACLs (acl = copy, the default for an S3 source) and the metadata are kept, and a re-sync sends only
# listings. Filters: `preset = mastodon` leaves cache/ out on both sides.
# needs: s3
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
# shellcheck source=tests/lib/mirror.sh
. "$root/tests/lib/mirror.sh"

mirror_init
s3_use_or_start "$T/ceph"
src=$(s3_new_bucket same-src)
dst=$(s3_new_bucket same-dst)
rc_fast=(--retries 1 --low-level-retries 2)

step "a Mastodon-shaped bucket with a 12 MiB object"
mtool gen --count 150 --seed t-mirror-same --specials --big-mib 12 >"$T/tree.jsonl"
mtool put --server S3 "$src" "$T/tree.jsonl" || fail "could not fill the source bucket"
n=$(spec_sum "$T/tree.jsonl" count)
bytes=$(spec_sum "$T/tree.jsonl" bytes)

mconf_begin "$T/pf.conf"
mconf_s3 src S3 "$src"
mconf_s3 dst S3 "$dst"
mconf_job media "source = src" "destination = dst" "acl = copy"

step "every object is copied by the server"
mrun
assert_eq 0 "$RC" "exit status"
mj_check "{\"result\": \"ok\", \"copied.objects\": $n, \"copied.bytes\": $bytes,
    \"server_side_copies\": $n, \"bytes_transferred\": 0, \"failed.objects\": 0,
    \"requests.PUT\": 0}"
copies=$(mj requests.COPY)
((copies >= n)) || fail "requests.COPY is $copies, below the $n objects copied"
assert_ok s3_rclone "${rc_fast[@]}" check "s3:$src" "s3:$dst"
mtool digest --server S3 "$src" >"$T/digest-src"
mtool digest --server S3 "$dst" >"$T/digest-dst"
digest_cmp "$T/digest-src" "$T/digest-dst"

step "ACLs and metadata kept by the server-side copies"
assert_eq public-read "$(mtool acl --server S3 "$dst" specials/meta/download.pdf)" "public-read"
assert_eq private "$(mtool acl --server S3 "$dst" specials/private/secret.bin)" "private"
jpg=$(spec_key "$T/tree.jsonl" '^media_attachments/.*\.jpg$')
assert_eq public-read "$(mtool acl --server S3 "$dst" "$jpg")" "ACL of $jpg"
mtool head --server S3 "$dst" specials/meta/download.pdf >"$T/head.json"
head_json=$(cat "$T/head.json")
assert_contains "$head_json" '"content-type": "application/pdf"'
assert_contains "$head_json" '"content-disposition": "attachment; filename=\"report 2024.pdf\""'
assert_contains "$head_json" '"x-amz-meta-mastodon-id": "109348123456789000"'
assert_contains "$head_json" '"cache-control": "public, max-age=315576000, immutable"'
mtool head --server S3 "$dst" specials/meta/style.css.gz >"$T/head.json"
assert_file_contains "$T/head.json" '"content-encoding": "gzip"'
assert_file_contains "$T/head.json" '"cache-control": "max-age=60"'

step "a re-sync sends listings only"
mrun
mj_check "{\"result\": \"ok\", \"unchanged.objects\": $n, \"copied.objects\": 0,
    \"requests.HEAD\": 0, \"requests.GET\": 0, \"requests.PUT\": 0, \"requests.COPY\": 0,
    \"requests.DELETE\": 0}"

step "acl = public-read overrides the source's private ACL; a change is copied again"
printf '%s\n' '{"key": "specials/private/secret.bin", "size": 501, "seed": "changed", "acl": "private"}' |
    mtool put --server S3 "$src"
sed -i 's/^acl = copy$/acl = public-read/' "$CONF"
mrun
mj_check '{"result": "ok", "updated.objects": 1, "server_side_copies": 1}'
assert_eq public-read "$(mtool acl --server S3 "$dst" specials/private/secret.bin)" \
    "ACL with acl = public-read"

step "preset = mastodon: cache/ is neither copied nor deleted"
dst2=$(s3_new_bucket same-preset)
printf '%s\n' '{"key": "cache/custom_emojis/images/000/000/001/original/dst-only.png", "size": 10, "seed": "x"}' |
    mtool put --server S3 "$dst2"
mconf_begin "$T/preset.conf"
mconf_s3 src S3 "$src"
mconf_s3 dst S3 "$dst2"
mconf_job media "source = src" "destination = dst" "preset = mastodon"
mrun
assert_eq 0 "$RC" "exit status with preset = mastodon"
cache_n=$(spec_keys "$T/tree.jsonl" | grep -c '^cache/')
((cache_n > 0)) || fail "the tree has no cache/ objects"
mj_check "{\"copied.objects\": $((n - cache_n)), \"deleted.objects\": 0}"
assert_ok s3_rclone "${rc_fast[@]}" check --exclude '/cache/**' "s3:$src" "s3:$dst2"
assert_ok s3_rclone "${rc_fast[@]}" lsf -R --files-only "s3:$dst2/cache"
assert_eq "custom_emojis/images/000/000/001/original/dst-only.png" "$OUT" \
    "cache/ at the destination: only what was there"
step "above the CopyObject limit: UploadPartCopy keeps the metadata and the ACL"
# The limit is lowered for the test (5 GiB in production), so the 12 MiB object goes in parts.
dst3=$(s3_new_bucket same-partcopy)
mconf_begin "$T/partcopy.conf"
mconf_s3 src S3 "$src"
mconf_s3 dst S3 "$dst3"
mconf_job media "source = src" "destination = dst" "acl = copy" "include = /media_attachments/**"
PERMAFROST_TEST_S3_COPY_LIMIT=5242880 mrun
assert_eq 0 "$RC" "exit status with UploadPartCopy"
mj_check '{"result": "ok", "failed.objects": 0}'
# 12 MiB in 5 MiB parts: three UploadPartCopy requests where a CopyObject would be one.
pc_copies=$(mj requests.COPY)
pc_objects=$(mj copied.objects)
((pc_copies == pc_objects + 2)) || fail "requests.COPY is $pc_copies for $pc_objects objects"
big=$(spec_key "$T/tree.jsonl" '^media_attachments/.*\.mp4$')
assert_ok s3_rclone "${rc_fast[@]}" check --include '/media_attachments/**' "s3:$src" "s3:$dst3"
mtool head --server S3 "$dst3" "$big" >"$T/head-big.json"
assert_file_contains "$T/head-big.json" '"content-type": "video/mp4"'
assert_eq "$(mtool acl --server S3 "$src" "$big")" "$(mtool acl --server S3 "$dst3" "$big")" \
    "ACL of the object copied in parts"
echo "t_mirror_same_server: ok"
