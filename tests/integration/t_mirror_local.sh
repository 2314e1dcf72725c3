#!/usr/bin/env bash
# `kind = mirror` with local directories (instances that keep their media in public/system):
# local → S3, S3 → local and local → local, each checked byte for byte (and by `rclone check` where
# rclone can), with sizes and modification times, and converging after changes. Keys that cannot be
# written locally ('..' segments, a leading '/', control characters), stored in the source bucket by
# a low-level client, are skipped with a warning and nothing is written outside the destination.
# `preset = mastodon` leaves cache/ alone on both sides.
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
bucket=$(s3_new_bucket local)
rc_fast=(--retries 1 --low-level-retries 2)
sys=$T/live/public/system

# mtimes_not_older SRC-LIST DIR: every file of DIR named in SRC-LIST (mtool list output of the
# source, or "local:DIR2") has a modification time not older than the source's (in whole seconds).
mtimes_not_older()
{
    "$MIRROR_PYTHON" -c '
import datetime, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
times = {}
if src.startswith("local:"):
    base = src[6:]
    for d, _, files in os.walk(base):
        for f in files:
            p = os.path.join(d, f)
            times[os.path.relpath(p, base)] = os.stat(p).st_mtime
else:
    for l in open(src, encoding="utf-8"):
        o = json.loads(l)
        t = datetime.datetime.strptime(o["mtime"][:19], "%Y-%m-%dT%H:%M:%S")
        times[o["key"]] = t.replace(tzinfo=datetime.timezone.utc).timestamp()
bad, checked = [], 0
for key, t in times.items():
    p = os.path.join(dst, key)
    if not os.path.isfile(p):
        continue
    checked += 1
    if int(os.stat(p).st_mtime) < int(t):
        bad.append("%s: %d < %d" % (key, os.stat(p).st_mtime, t))
print("mtimes checked: %d" % checked)
if bad or not checked:
    sys.exit("older at the destination: %s" % bad[:5])' "$1" "$2" || fail "modification times"
}

step "a public/system tree on disk"
mtool gen --count 120 --seed t-mirror-local --specials >"$T/tree.jsonl"
mtool write-local "$sys" "$T/tree.jsonl"
mtool digest-local "$sys" >"$T/digest-sys"
n=$(grep -c . "$T/digest-sys")
# The single 991-byte segment is no file name; everything else is on disk.
assert_eq "$(($(spec_sum "$T/tree.jsonl" count) - 1))" "$n" "files written"

mconf_begin "$T/pf.conf"
mconf_local sys "$sys"
mconf_s3 s3 S3 "$bucket"
mconf_local back "$T/back"
mconf_local copy "$T/copy"
mconf_job media "source = sys" "destination = s3:media/"
mconf_job down "source = s3:media/" "destination = back"
mconf_job l2l "source = sys" "destination = copy" "preset = mastodon"

step "local → S3"
mrun
assert_eq 0 "$RC" "exit status local → S3"
mj_check "{\"result\": \"ok\", \"copied.objects\": $n, \"failed.objects\": 0,
    \"skipped.objects\": 0, \"server_side_copies\": 0}"
assert_ok s3_rclone "${rc_fast[@]}" check "$sys" "s3:$bucket/media"
mtool digest --server S3 "$bucket/media/" >"$T/digest-s3"
digest_cmp "$T/digest-sys" "$T/digest-s3" "the tree and the bucket"
assert_eq private "$(mtool acl --server S3 "$bucket/media/" specials/empty-1)" \
    "ACL from a local source (private by default)"
mrun
mj_check "{\"result\": \"ok\", \"unchanged.objects\": $n, \"copied.objects\": 0,
    \"requests.HEAD\": 0, \"requests.GET\": 0, \"requests.PUT\": 0, \"requests.DELETE\": 0}"

step "local changes (same size with a newer mtime, another size, added, deleted) converge"
mapfile -t files < <(cd "$sys" && find media_attachments -type f | sort | sed -n 1,3p)
head -c "$(stat -c %s "$sys/${files[0]}")" /dev/urandom >"$T/same-size"
cp "$T/same-size" "$sys/${files[0]}"
touch -d "@$(($(date +%s) + 5))" "$sys/${files[0]}"
printf 'grown' >>"$sys/${files[1]}"
rm "$sys/${files[2]}"
mkdir -p "$sys/media_attachments/files/112/000/000/000/000/021/original"
printf 'new file' >"$sys/media_attachments/files/112/000/000/000/000/021/original/00000000000000e1.jpg"
mrun
assert_eq 0 "$RC" "exit status after local changes"
mj_check '{"result": "ok", "copied.objects": 1, "updated.objects": 2, "deleted.objects": 1}'
assert_ok s3_rclone "${rc_fast[@]}" check "$sys" "s3:$bucket/media"
mtool digest-local "$sys" >"$T/digest-sys"
n=$(grep -c . "$T/digest-sys")

step "keys no file system path may take, stored in the bucket with a low-level client"
cat >"$T/unsafe.jsonl" <<'EOF'
{"key": "../escape-1.txt", "size": 11, "seed": "u1"}
{"key": "a/../../escape-2.txt", "size": 12, "seed": "u2"}
{"key": "/abs/escape-3.txt", "size": 13, "seed": "u3"}
{"key": "ctl/escape-4-\u0001.txt", "size": 14, "seed": "u4"}
{"key": "ctl/escape-5-\ttab.txt", "size": 15, "seed": "u5"}
EOF
mtool put --server S3 "$bucket/media/" "$T/unsafe.jsonl"
mtool list --server S3 "$bucket/media/" >"$T/s3.list"
stored=$(grep -c 'escape-' "$T/s3.list" || true)
echo "unsafe keys stored by the server: $stored of 5"
((stored >= 4)) || fail "the server kept only $stored of the unsafe keys"

step "S3 → local: the unsafe keys are skipped with a warning, the rest is copied"
MJOB=down mrun
echo "exit status with unsafe keys: $RC"
mj_check "{\"skipped.objects\": $stored, \"failed.objects\": 0, \"copied.objects\": $n,
    \"deleted.objects\": 0}"
assert_contains "$ERR" "escape-1.txt" "the warnings"
assert_contains "$ERR" "escape-2.txt" "the warnings"
escaped=$(find "$T" -name 'escape-*' -print)
assert_eq "" "$escaped" "files named escape-* anywhere"
assert_eq "" "$(find "$T/back" -name '*[[:cntrl:]]*' -print)" "control characters in names"
mtool digest-local "$T/back" >"$T/digest-back"
digest_cmp "$T/digest-sys" "$T/digest-back" "the tree and its copy through S3"
grep -v 'escape-' "$T/s3.list" >"$T/s3-safe.list"
mtimes_not_older "$T/s3-safe.list" "$T/back"
MJOB=down mrun
mj_check "{\"copied.objects\": 0, \"updated.objects\": 0, \"unchanged.objects\": $n,
    \"skipped.objects\": $stored, \"requests.GET\": 0}"

step "S3 → local: changes at the source converge"
change='{"key": "specials/a key with spaces.txt", "size": 4000, "seed": "down-change"}'
printf '%s\n' "$change" | mtool put --server S3 "$bucket/media/"
mtool delete --server S3 "$bucket/media/" "${files[1]}"
MJOB=down mrun
mj_check '{"updated.objects": 1, "deleted.objects": 1, "failed.objects": 0}'
assert_eq 4000 "$(stat -c %s "$T/back/specials/a key with spaces.txt")" "size of the changed file"
assert_missing "$T/back/${files[1]}"

step "local → local, with preset = mastodon"
mkdir -p "$T/copy/cache/accounts"
printf 'kept' >"$T/copy/cache/accounts/stay.txt"
MJOB=l2l mrun
assert_eq 0 "$RC" "exit status local → local"
cache_n=$(cd "$sys" && find cache -type f | wc -l)
((cache_n > 0)) || fail "the tree has no cache/ files"
mj_check "{\"result\": \"ok\", \"copied.objects\": $((n - cache_n)), \"deleted.objects\": 0}"
# Files only (an emptied source directory is no object): everything but cache/ is the same.
mtool digest-local "$sys" | grep -v '^cache/' >"$T/digest-l2l-src"
mtool digest-local "$T/copy" | grep -v '^cache/' >"$T/digest-l2l-dst"
digest_cmp "$T/digest-l2l-src" "$T/digest-l2l-dst" "the tree and its local copy"
assert_eq kept "$(cat "$T/copy/cache/accounts/stay.txt")" "a destination file under cache/"
assert_eq "stay.txt" "$(cd "$T/copy/cache" && find . -type f -printf '%f\n')" "cache/ at the copy"
mtimes_not_older "local:$sys" "$T/copy"
MJOB=l2l mrun
mj_check '{"copied.objects": 0, "updated.objects": 0, "deleted.objects": 0}'
f=$(cd "$sys" && find accounts -type f | sort | sed -n 1p)
head -c "$(stat -c %s "$sys/$f")" /dev/urandom >"$sys/$f"
touch -d "@$(($(date +%s) + 5))" "$sys/$f"
MJOB=l2l mrun
mj_check '{"updated.objects": 1, "copied.objects": 0}'
assert_ok cmp "$sys/$f" "$T/copy/$f"
echo "t_mirror_local: ok"
