#!/usr/bin/env bash
# Snapshots replicated to several geographies on real S3 servers (Ceph radosgw): a local store, two
# buckets on server A (the second copy server-side) and one on server B (streamed). Independent
# tools (rclone, s3cmd, zstd, pg_restore) agree with what permafrost wrote; what they write,
# permafrost reads. Multipart uploads on the real server, per-target retention, a failing target
# that leaves the others complete, a killed upload cleaned up by the next run, and the disaster
# restore with the local store and the catalog gone.
# needs: s3 s3b
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
test_init
s3_use_or_start "$T/ceph-a"
s3_start_second "$T/ceph-b"

step "a ~12 MB artifact (three 5 MiB parts) of a Mastodon-shaped database"
pg_new_db rep
"$root/tools/gen-mastodon-db.sh" -q --size-mb 8 -- -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" \
    -U mastodon -d rep
psql_db rep -q -c "create table blobs (id int primary key, data text);
    insert into blobs select i, (select string_agg(md5(random()::text || i || j), '')
        from generate_series(1, 32) j) from generate_series(1, 20000) i;" >/dev/null
pg_fingerprint rep >"$T/src.fp"

bucket_a1=$(s3_new_bucket nyc)
bucket_a2=$(s3_new_bucket nyc-copy)
bucket_b=$(s3_new_bucket ams S3B)
export A_KEY=$S3_ACCESS_KEY A_SECRET=$S3_SECRET_KEY B_KEY=$S3B_ACCESS_KEY B_SECRET=$S3B_SECRET_KEY
s3_store()
{
    local name=$1 endpoint=$2 bucket=$3 key=$4 secret=$5
    printf '[store "%s"]\ntype = s3\nendpoint = %s\nregion = %s\nbucket = %s\n' \
        "$name" "$endpoint" "$S3_REGION" "$bucket"
    printf 'prefix = mastodon/backups\naccess_key = env:%s\nsecret_key = env:%s\n' "$key" "$secret"
    printf 'part_size = 5MiB\nconcurrency = 3\n\n'
}
write_rep_conf()
{
    {
        printf '[global]\nstate_dir = %s/state\n\n' "$T"
        printf '[store "local"]\ntype = local\npath = %s/store\n\n' "$T"
        s3_store spaces-nyc "$S3_ENDPOINT" "$bucket_a1" A_KEY A_SECRET
        s3_store spaces-nyc-copy "$S3_ENDPOINT" "$bucket_a2" A_KEY A_SECRET
        s3_store spaces-ams "$S3B_ENDPOINT" "$bucket_b" B_KEY B_SECRET
        printf '[job "db"]\nkind = postgres\ndatabase = %s\npassword = env:DB_PASS\n' \
            "$(pg_conninfo rep)"
        printf 'targets = local, spaces-nyc, spaces-nyc-copy, spaces-ams\n'
        printf 'keep = last 3\nkeep.spaces-nyc-copy = last 1\n'
    } >"$T/pf.conf"
    CONF=$T/pf.conf
}
write_rep_conf
assert_ok pf config check
# json_store_count STORE: snapshots in `list --json` (stdin) held by STORE.
json_store_count()
{
    python3 -c '
import json, sys
print(sum(1 for s in json.load(sys.stdin) if sys.argv[1] in s.get("stores", [])))' "$1"
}

step "run: written once, copied server-side within server A, streamed to server B"
assert_ok pf --json run db
printf '%s\n' "$OUT" >"$T/run1.json"
python3 - "$T/run1.json" <<'EOF' || fail "per-target report (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
r = r[0] if isinstance(r, list) else r
r = r.get("jobs", [r])[0] if "jobs" in r else r
stores = {s["store"]: s for s in r["stores"]}
assert all(s["ok"] for s in stores.values()), stores
assert stores["local"]["transfer"] == "written", stores["local"]
# local -> s3 is streamed; the copy between two buckets of server A could be server-side only
# when the source is on A too, which it is not (the first target is local).
assert stores["spaces-ams"]["transfer"] == "copied", stores["spaces-ams"]
print("per-target report ok:", {k: v["transfer"] for k, v in stores.items()})
EOF
snap=$(basename "$(snapshot_dirs db | tail -n 1)")
artifact=rep.dump.zst
key=mastodon/backups/db/$snap/$artifact
m_sha=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print([a for a in m["artifacts"] if a["name"]==sys.argv[2]][0]["sha256"])' \
    "$T/store/db/$snap/manifest.json" "$artifact")

step "rclone and s3cmd list and download the same bytes from every bucket"
for remote in "s3:$bucket_a1" "s3:$bucket_a2" "s3b:$bucket_b"; do
    assert_ok s3_rclone lsf -R "$remote/mastodon/backups/db/$snap/"
    assert_contains "$OUT" "$artifact"
    assert_contains "$OUT" "manifest.json"
    s3_rclone cat "$remote/$key" >"$T/dl.zst" || fail "rclone cat $remote/$key"
    assert_eq "$m_sha" "$(sha256sum <"$T/dl.zst" | cut -d' ' -f1)" "sha256 of $remote/$key"
done
assert_ok s3_s3cmd get "s3://$bucket_a1/$key" "$T/s3cmd.zst"
assert_ok cmp "$T/s3cmd.zst" "$T/store/db/$snap/$artifact"
assert_ok s3_s3cmd -c "$S3B_S3CMD_CONF" get "s3://$bucket_b/mastodon/backups/db/$snap/manifest.json" \
    "$T/manifest-b.json"
assert_ok cmp "$T/manifest-b.json" "$T/store/db/$snap/manifest.json"
assert_ok zstd -q -t "$T/s3cmd.zst"
zstd -q -dc "$T/s3cmd.zst" >"$T/raw.dump" || fail "zstd -d"
toc=$("$PG_BIN/pg_restore" --list "$T/raw.dump") || fail "pg_restore --list"
assert_contains "$toc" "TABLE DATA public blobs"

step "the artifact was a multipart upload on the real server (ETag with a part count)"
assert_ok s3_rclone lsjson --hash --original "s3:$bucket_a1/$key"
etag=$(s3_s3cmd info "s3://$bucket_a1/$key" | sed -n 's/^ *MD5 sum: *//p' || true)
assert_match "$etag" '-[0-9]+$' "multipart ETag of $key"

step "a snapshot uploaded by s3cmd (written without permafrost) is listed and restored"
bucket_x=$(s3_new_bucket imported)
assert_ok s3_s3cmd put --recursive "$T/store/db/$snap" "s3://$bucket_x/db/"
{
    printf '\n[store "imported"]\ntype = s3\nendpoint = %s\nregion = %s\nbucket = %s\n' \
        "$S3_ENDPOINT" "$S3_REGION" "$bucket_x"
    printf 'access_key = env:A_KEY\nsecret_key = env:A_SECRET\n'
} >>"$T/pf.conf"
assert_ok pf catalog rebuild
assert_ok pf --json list db
assert_eq 1 "$(json_store_count imported <<<"$OUT")" "snapshots found in the s3cmd-written bucket"
pg_drop_db rep_imported
assert_ok pf restore db latest --from imported --to "$(pg_conninfo rep_imported)" --create \
    --password env:DB_PASS
pg_fingerprint rep_imported >"$T/imported.fp"
assert_ok cmp "$T/src.fp" "$T/imported.fp"

step "more runs: keep = last 3, keep.spaces-nyc-copy = last 1, applied per target"
write_rep_conf
assert_ok pf run db
assert_ok pf run db
assert_ok pf run db
count_snaps()
{
    s3_rclone lsf --dirs-only "$1/mastodon/backups/db/" | grep -c . || true
}
assert_eq 3 "$(count_snaps "s3:$bucket_a1")" "snapshots on spaces-nyc"
assert_eq 1 "$(count_snaps "s3:$bucket_a2")" "snapshots on spaces-nyc-copy (keep.spaces-nyc-copy)"
assert_eq 3 "$(count_snaps "s3b:$bucket_b")" "snapshots on spaces-ams"
assert_eq 3 "$(snapshot_dirs db | grep -c .)" "snapshots on local"

step "a target that fails leaves the others complete and the run fails naming it"
sed -i "s/^bucket = $bucket_b\$/bucket = no-such-bucket-$RANDOM/" "$T/pf.conf"
assert_exit 1 pf run db
assert_contains "$OUT$ERR" "spaces-ams"
assert_contains "$ERR" "NoSuchBucket"
newest=$(basename "$(snapshot_dirs db | tail -n 1)")
assert_ok s3_rclone lsf "s3:$bucket_a1/mastodon/backups/db/$newest/"
assert_contains "$OUT" "manifest.json"
write_rep_conf

step "a run killed in the middle of an upload; the next run aborts the unfinished upload"
pg_new_db big
psql_db big -q -c "create table blobs (id int primary key, data text);
    insert into blobs select i, (select string_agg(md5(random()::text || i || j), '')
        from generate_series(1, 32) j) from generate_series(1, 120000) i;" >/dev/null
{
    printf '[global]\nstate_dir = %s/state-big\n\n' "$T"
    s3_store nyc "$S3_ENDPOINT" "$bucket_a1" A_KEY A_SECRET
    printf '[job "big"]\nkind = postgres\ndatabase = %s\npassword = env:DB_PASS\n' \
        "$(pg_conninfo big)"
    printf 'targets = nyc\n'
} >"$T/big.conf"
"$PERMAFROST" -c "$T/big.conf" run big >"$T/big.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
    s3_s3cmd multipart "s3://$bucket_a1" 2>/dev/null | grep -q "mastodon/backups/big/" && break
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
uploads=$(s3_s3cmd multipart "s3://$bucket_a1" | grep -c "mastodon/backups/big/" || true)
((uploads >= 1)) || fail "expected an unfinished multipart upload after kill -9, found none"
assert_ok "$PERMAFROST" -c "$T/big.conf" run big
uploads=$(s3_s3cmd multipart "s3://$bucket_a1" | grep -c "mastodon/backups/big/" || true)
assert_eq 0 "$uploads" "unfinished multipart uploads after the next run"
assert_ok "$PERMAFROST" -c "$T/big.conf" --json list big
assert_eq 1 "$(json_store_count nyc <<<"$OUT")" "complete snapshots of big"

step "disaster: the local store and the catalog are gone; restore from server B"
rm -rf "$T/store" "$T/state"
pg_drop_db rep_dr
assert_ok pf restore db latest --from spaces-ams --to "$(pg_conninfo rep_dr)" --create \
    --password env:DB_PASS
pg_fingerprint rep_dr >"$T/dr.fp"
assert_ok cmp "$T/src.fp" "$T/dr.fp"
assert_ok pf catalog rebuild
assert_ok pf --json list db
assert_eq 3 "$(json_store_count spaces-ams <<<"$OUT")" "snapshots on spaces-ams after catalog rebuild"
