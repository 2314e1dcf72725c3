#!/usr/bin/env bash
# A `kind = mirror` job between two radosgw servers (no server-side copy possible): a Mastodon-shaped
# bucket (id-partitioned media_attachments, accounts, preview cards, a cache/ share), keys with
# spaces, '+', '%', unicode and 1,000 bytes, zero-byte objects, objects with Content-Type,
# Cache-Control, Content-Disposition, Content-Encoding, x-amz-meta-* and public-read or private ACLs,
# and one 100 MiB object uploaded in parts. After the mirror, the real `rclone check` and a byte for
# byte comparison (MD5 of every object, downloaded) find no difference; metadata and ACLs are kept
# (read back over S3, and by anonymous GETs: 200 for public-read, 403 for private); a second run
# makes no per-object request; added, changed (same size and other size) and deleted objects
# converge with exactly those counts; --dry-run changes nothing; with a trash, deleted and replaced
# objects end up under the trash prefix.
# needs: s3 s3b
# timeout: 900 (a 100 MiB object and some 200 others between two radosgw, under ASan)
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
s3_use_or_start "$T/ceph-a"
s3_start_second "$T/ceph-b"
src=$(s3_new_bucket msrc)
dst=$(s3_new_bucket mdst S3B)
echo "source s3://$src on $S3_ENDPOINT, destination s3://$dst/mirror/ on $S3B_ENDPOINT"
rc_fast=(--retries 1 --low-level-retries 2)

# anon_status PREFIX BUCKET KEY: the HTTP status of an anonymous GET of the object.
anon_status()
{
    local endpoint=${1}_ENDPOINT path
    path=$("$MIRROR_PYTHON" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$3")
    curl -s -o /dev/null -m 10 -w '%{http_code}' "${!endpoint}/$2/$path"
}
# meta_cmp KEY: Content-Type, Cache-Control, Content-Disposition, Content-Encoding and every
# x-amz-meta-* header of KEY are the same at the source and the destination.
meta_cmp()
{
    mtool head --server S3 "$src" "$1" >"$T/head-src.json" || fail "HEAD $1 at the source"
    mtool head --server S3B "$dst/mirror/" "$1" >"$T/head-dst.json" || fail "HEAD $1 at the dest"
    "$MIRROR_PYTHON" -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
names = ["content-type", "cache-control", "content-disposition", "content-encoding",
         "content-length"] + sorted(k for k in set(a) | set(b) if k.startswith("x-amz-meta-")
                                    and k not in ("x-amz-meta-mtime", "x-amz-meta-md5chksum"))
bad = ["%s: %r at the source, %r at the destination" % (n, a.get(n), b.get(n))
       for n in names if a.get(n) != b.get(n)]
if bad:
    sys.exit("\n".join(bad))
print("same: " + ", ".join(n for n in names if n in a))
' "$T/head-src.json" "$T/head-dst.json" || fail "metadata of '$1' differs"
}
# check_same [all]: rclone check and the MD5 of every object agree between source and destination
# (with "all" the 100 MiB object is read too; the other checks compare its size only).
check_same()
{
    local max=()
    [[ ${1:-} == all ]] || max=(--max-size 50000000)
    assert_ok s3_rclone "${rc_fast[@]}" check "s3:$src" "s3b:$dst/mirror"
    mtool digest --server S3 "$src" "${max[@]}" >"$T/digest-src" || fail "digest of the source"
    mtool digest --server S3B "$dst/mirror/" "${max[@]}" >"$T/digest-dst" ||
        fail "digest of the destination"
    digest_cmp "$T/digest-src" "$T/digest-dst" "source and destination"
}

step "a Mastodon-shaped source bucket: $(date +%T)"
mtool gen --count 200 --seed t-mirror-s3 --specials --big-mib 100 >"$T/tree.jsonl"
mtool put --server S3 "$src" "$T/tree.jsonl" || fail "could not fill the source bucket"
n=$(spec_sum "$T/tree.jsonl" count)
bytes=$(spec_sum "$T/tree.jsonl" bytes)
echo "source: $n objects, $bytes bytes"
((n > 200)) || fail "expected more than 200 objects, got $n"

mconf_begin "$T/pf.conf"
mconf_s3 src S3 "$src"
mconf_s3 dst S3B "$dst"
mconf_job media "source = src" "destination = dst:mirror/"

step "the first mirror copies everything, streamed (no server-side copy between two servers)"
mrun
assert_eq 0 "$RC" "exit status of the first mirror"
mj_check "{\"kind\": \"mirror\", \"ok\": true, \"result\": \"ok\", \"dry_run\": false,
    \"source.objects\": $n, \"source.bytes\": $bytes, \"destination.objects\": 0,
    \"copied.objects\": $n, \"copied.bytes\": $bytes, \"updated.objects\": 0,
    \"deleted.objects\": 0, \"failed.objects\": 0, \"skipped.objects\": 0,
    \"server_side_copies\": 0, \"listing_complete\": true, \"deletions_refused\": null,
    \"error\": null, \"requests.COPY\": 0, \"requests.DELETE\": 0}"
xfer=$(mj bytes_transferred)
((xfer >= bytes)) || fail "bytes_transferred $xfer is below the $bytes bytes copied"
check_same all

step "metadata and ACLs are kept"
for key in specials/meta/download.pdf specials/meta/style.css.gz "specials/a key with spaces.txt" \
    "$(spec_key "$T/tree.jsonl" '^media_attachments/.*/original/.*\.jpg$')"; do
    meta_cmp "$key"
done
assert_eq public-read "$(mtool acl --server S3B "$dst/mirror/" specials/meta/download.pdf)" \
    "ACL of a public-read object"
assert_eq private "$(mtool acl --server S3B "$dst/mirror/" specials/private/secret.bin)" \
    "ACL of a private object"
jpg=$(spec_key "$T/tree.jsonl" '^accounts/avatars/')
assert_eq 200 "$(anon_status S3B "$dst" "mirror/$jpg")" "anonymous GET of a public-read object"
assert_eq 200 "$(anon_status S3B "$dst" "mirror/specials/unicode-éü-日本語-😀.txt")" \
    "anonymous GET of a public-read object with a unicode key"
assert_eq 403 "$(anon_status S3B "$dst" "mirror/specials/private/secret.bin")" \
    "anonymous GET of a private object"
# The source says the same (the test data is what it claims to be).
assert_eq 403 "$(anon_status S3 "$src" "specials/private/secret.bin")" "private at the source"

step "the 100 MiB object went in parts"
big=$(spec_key "$T/tree.jsonl" '^media_attachments/files/110/000/000/000/000/001/original/.*\.mp4$')
mtool list --server S3B "$dst/mirror/" >"$T/dst.list"
big_etag=$("$MIRROR_PYTHON" -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(l)
    if o["key"] == sys.argv[2]:
        print(o["etag"], o["size"])' "$T/dst.list" "$big")
assert_match "$big_etag" '^[0-9a-f]{32}-[0-9]+ 104857600$' "ETag and size of the 100 MiB copy"

step "a second run copies nothing and sends no per-object request"
mrun
assert_eq 0 "$RC" "exit status of the re-sync"
mj_check "{\"result\": \"ok\", \"unchanged.objects\": $n, \"unchanged.bytes\": $bytes,
    \"copied.objects\": 0, \"updated.objects\": 0, \"deleted.objects\": 0,
    \"requests.HEAD\": 0, \"requests.GET\": 0, \"requests.PUT\": 0, \"requests.COPY\": 0,
    \"requests.DELETE\": 0, \"bytes_transferred\": 0}"
lists=$(mj requests.LIST)
((lists >= 2)) || fail "expected listings of both sides, got $lists LIST requests"

step "add 3, change 2 at the same size, 2 at another size, delete 3 at the source"
cat >"$T/added.jsonl" <<'EOF'
{"key": "media_attachments/files/112/000/000/000/000/001/original/00000000000000a1.jpg", "size": 4000, "seed": "add-1", "headers": {"Content-Type": "image/jpeg"}, "acl": "public-read"}
{"key": "accounts/avatars/112/000/000/000/000/002/original/00000000000000a2.png", "size": 0, "seed": "add-2", "headers": {"Content-Type": "image/png"}, "acl": "public-read"}
{"key": "specials/new key + ü %.txt", "size": 77, "seed": "add-3", "headers": {"Content-Type": "text/plain"}, "acl": "private"}
EOF
spec_pick "$T/tree.jsonl" 2 0 | spec_reseed /dev/stdin >"$T/same-size.jsonl"
spec_pick "$T/tree.jsonl" 2 2 | spec_reseed /dev/stdin 1000 >"$T/other-size.jsonl"
spec_pick "$T/tree.jsonl" 3 4 >"$T/deleted.jsonl"
cat "$T/same-size.jsonl" "$T/other-size.jsonl" >"$T/changed.jsonl"
mtool put --server S3 "$src" "$T/added.jsonl"
mtool put --server S3 "$src" "$T/changed.jsonl"
mapfile -t gone < <(spec_keys "$T/deleted.jsonl")
mtool delete --server S3 "$src" "${gone[@]}"
added_bytes=$(spec_sum "$T/added.jsonl" bytes)
changed_bytes=$(spec_sum "$T/changed.jsonl" bytes)
deleted_bytes=$(spec_sum "$T/deleted.jsonl" bytes)
mrun
assert_eq 0 "$RC" "exit status after the changes"
mj_check "{\"result\": \"ok\", \"source.objects\": $((n + 3 - 3)),
    \"copied.objects\": 3, \"copied.bytes\": $added_bytes,
    \"updated.objects\": 4, \"updated.bytes\": $changed_bytes,
    \"deleted.objects\": 3, \"deleted.bytes\": $deleted_bytes,
    \"unchanged.objects\": $((n - 4 - 3)), \"failed.objects\": 0, \"trashed.objects\": 0,
    \"requests.HEAD\": 0}"
check_same
assert_eq private "$(mtool acl --server S3B "$dst/mirror/" "specials/new key + ü %.txt")" \
    "ACL of a new private object"
n=$((n + 3 - 3))

step "--dry-run prints the plan and changes nothing"
spec_pick "$T/tree.jsonl" 1 10 | spec_reseed /dev/stdin 5 >"$T/dry-change.jsonl"
spec_pick "$T/tree.jsonl" 1 11 >"$T/dry-delete.jsonl"
dry_add='{"key": "preview_cards/images/112/000/000/000/000/003/original/00000000000000b3.jpg", "size": 1234, "seed": "dry", "headers": {"Content-Type": "image/jpeg"}, "acl": "public-read"}'
printf '%s\n' "$dry_add" | mtool put --server S3 "$src"
mtool put --server S3 "$src" "$T/dry-change.jsonl"
mtool delete --server S3 "$src" "$(spec_keys "$T/dry-delete.jsonl")"
mtool digest --server S3B "$dst/mirror/" >"$T/digest-before-dry"
run "$PERMAFROST" -c "$CONF" run media --dry-run
assert_eq 0 "$RC" "exit status of --dry-run"
plan="$OUT
$ERR"
for key in "$(spec_keys "$T/dry-change.jsonl")" "$(spec_keys "$T/dry-delete.jsonl")" \
    preview_cards/images/112/000/000/000/000/003/original/00000000000000b3.jpg; do
    assert_contains "$plan" "$key" "the dry-run plan"
done
mrun --dry-run
assert_eq 0 "$RC" "exit status of --dry-run --json"
mj_check '{"dry_run": true, "copied.objects": 1, "updated.objects": 1, "deleted.objects": 1,
    "requests.PUT": 0, "requests.COPY": 0, "requests.DELETE": 0, "requests.GET": 0}'
mtool digest --server S3B "$dst/mirror/" >"$T/digest-after-dry"
digest_cmp "$T/digest-before-dry" "$T/digest-after-dry" "the destination before and after --dry-run"
mrun
assert_eq 0 "$RC" "exit status after the dry run"
mj_check '{"copied.objects": 1, "updated.objects": 1, "deleted.objects": 1}'
check_same

step "with a trash, a deleted and a replaced object are moved under .trash/"
mconf_begin "$T/trash.conf"
mconf_s3 src S3 "$src"
mconf_s3 dst S3B "$dst"
mconf_job media "source = src" "destination = dst:mirror/" "trash = .trash/" "trash_days = 30"
spec_pick "$T/tree.jsonl" 1 20 >"$T/trash-delete.jsonl"
spec_pick "$T/tree.jsonl" 1 21 >"$T/trash-old.jsonl"
spec_reseed "$T/trash-old.jsonl" >"$T/trash-new.jsonl"
del_key=$(spec_keys "$T/trash-delete.jsonl")
upd_key=$(spec_keys "$T/trash-old.jsonl")
del_md5=$(grep -F "$del_key" "$T/digest-dst" | cut -f3)
upd_md5=$(grep -F "$upd_key" "$T/digest-dst" | cut -f3)
[[ -n $del_md5 && -n $upd_md5 ]] || fail "no digest for the trash test's objects"
mtool delete --server S3 "$src" "$del_key"
mtool put --server S3 "$src" "$T/trash-new.jsonl"
mrun
assert_eq 0 "$RC" "exit status with a trash"
mj_check '{"deleted.objects": 1, "updated.objects": 1, "copied.objects": 0}'
trashed=$(mj trashed.objects)
((trashed >= 1)) || fail "trashed.objects is $trashed"
check_same
mtool digest --server S3B "$dst/.trash/" >"$T/digest-trash"
cat "$T/digest-trash"
grep -q "$del_key	" "$T/digest-trash" || fail "the deleted object is not in the trash"
assert_eq "$del_md5" "$(grep -F "$del_key	" "$T/digest-trash" | cut -f3)" \
    "content of the deleted object in the trash"
assert_eq "$upd_md5" "$(grep -F "$upd_key	" "$T/digest-trash" | cut -f3)" \
    "content of the replaced object in the trash"
mtool list --server S3B "$dst/mirror/" >"$T/dst.list"
assert_not_contains "$(cat "$T/dst.list")" "\"$del_key\"" "the destination after the deletion"
# Nothing else appeared in the destination bucket.
mtool list --server S3B "$dst" | "$MIRROR_PYTHON" -c '
import json, sys
bad = [json.loads(l)["key"] for l in sys.stdin
       if not json.loads(l)["key"].startswith(("mirror/", ".trash/"))]
sys.exit("outside mirror/ and .trash/: %s" % bad if bad else 0)' || fail "stray objects"
mrun
mj_check '{"result": "ok", "copied.objects": 0, "updated.objects": 0, "deleted.objects": 0,
    "requests.PUT": 0, "requests.DELETE": 0}'
echo "t_mirror_s3: ok"
