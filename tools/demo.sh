#!/usr/bin/env bash
# `make demo`: backs up a Mastodon-shaped database on a throwaway PostgreSQL 15, replicates the
# snapshot to two buckets of a throwaway S3 server, restores it from the second bucket and proves
# that the restored copy equals the source.
#
#   1. starts PostgreSQL 15 and a Ceph radosgw (tests/lib/ceph.sh) in a temporary directory
#      (127.0.0.1, free ports), and makes two buckets
#   2. generates a ~100 MB Mastodon-shaped database (tools/gen-mastodon-db.sh)
#   3. writes examples/demo.conf with the real port and paths, and runs `permafrost config check`
#   4. `permafrost run` (local store, then copies to both buckets), then `permafrost list`
#   5. checks the artifact with stock tools (zstd -d | pg_restore --list, sha256sum vs the manifest,
#      and rclone: the same bytes in both buckets)
#   6. `permafrost restore db latest --from spaces-ams --create` into a new database
#   7. compares per-table row counts, an order-independent content checksum of every table and
#      sequence, and the schema (pg_dump --schema-only) of the source and the restored database
#   8. mirrors a Mastodon-shaped media bucket (~200 objects, a cache/ share) to a second bucket with a
#      `kind = mirror` job (preset = mastodon), checks it with `rclone check` (cache/ excluded) and
#      re-syncs it to show that an unchanged bucket costs listings only
#   9. snapshots a Mastodon-shaped Redis (sync, diskless) to the local store and a bucket, checks the
#      RDB with redis-check-rdb, restores it from the bucket as a dump.rdb that a new server loads,
#      and into a running server, and compares DEBUG DIGEST with the source
#  10. makes an age identity with `permafrost keygen`, takes an encrypted snapshot of the database,
#      decrypts it with Debian's `age` (age -d | zstd -d | pg_restore --list), and runs restore
#      drills (`permafrost verify --restore`) of the encrypted database and the Redis snapshot,
#      which `permafrost list` then shows as verified
#  11. runs `permafrost daemon` with the media job on `* * * * *` (catch_up = yes), notifications to a
#      JSON webhook and a healthchecks-style check on a local HTTP sink, checks what the sink
#      received, /metrics and /healthz, stops it with SIGTERM and prints `permafrost status`
#  12. prints a report, stops its servers and removes its files
#
# Environment: PERMAFROST (default build/permafrost), DEMO_SIZE_MB (default 100), DEMO_KEEP=1 keeps
# the temporary directory (the server is stopped all the same), TMPDIR.
# Exit status: 0 when everything matched, 1 otherwise. Needs root (initdb runs as 'postgres').
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/mirror.sh
. "$root/tests/lib/mirror.sh"
# shellcheck source=tests/lib/redis.sh
. "$root/tests/lib/redis.sh"
SERVERS_LOG_PREFIX=demo

PERMAFROST=${PERMAFROST:-$root/build/permafrost}
size_mb=${DEMO_SIZE_MB:-100}

say()
{
    printf 'demo: %s\n' "$*"
}

die()
{
    printf 'demo: error: %s\n' "$*" >&2
    exit 1
}

now()
{
    date +%s.%N
}

# secs START END: the difference, with one decimal.
secs()
{
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

mb()
{
    awk -v n="$1" 'BEGIN { printf "%.1f MB", n / 1048576 }'
}

[[ -x $PERMAFROST ]] || die "'$PERMAFROST' not found: build it first (make build), or set PERMAFROST"
[[ $PERMAFROST == /* ]] || PERMAFROST=$PWD/$PERMAFROST
[[ $(id -u) == 0 ]] || die "run as root: PostgreSQL's initdb runs as the 'postgres' user"
for tool in zstd python3 sha256sum rclone s3cmd radosgw age "$PG_BIN/pg_restore"; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (tools/install-deps.sh installs it)"
done

servers_trap
make_tmpdir T
if [[ ${DEMO_KEEP:-0} == 1 ]]; then
    # Keep the files for a look afterwards: drop the rm registered by make_tmpdir.
    _SERVERS_CLEANUPS=()
    at_exit say "files kept in $T"
fi

say "starting PostgreSQL 15 in $T/pg"
pg_start "$T/pg"
say "server on 127.0.0.1:$PGPORT_TEST (pid $PGPID_TEST)"
say "starting a Ceph radosgw S3 server in $T/ceph (about 20 s)"
unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
s3_use_or_start "$T/ceph"
bucket_nyc=$(s3_new_bucket demo-nyc)
bucket_ams=$(s3_new_bucket demo-ams)
bucket_media=$(s3_new_bucket demo-media)
bucket_media_copy=$(s3_new_bucket demo-media-copy)
say "S3 on $S3_ENDPOINT, buckets $bucket_nyc and $bucket_ams (backups), $bucket_media and $bucket_media_copy (media)"
export DEMO_S3_ACCESS_KEY=$S3_ACCESS_KEY DEMO_S3_SECRET_KEY=$S3_SECRET_KEY

t0=$(now)
PGPASSWORD=$DB_PASS "$root/tools/gen-mastodon-db.sh" --size-mb "$size_mb" \
    "$(pg_conninfo mastodon_production)"
t1=$(now)
gen_s=$(secs "$t0" "$t1")
src_bytes=$(psql_su -At -c "SELECT pg_database_size('mastodon_production')")

conf=$T/demo.conf
sed -e "s|@STATE_DIR@|$T/state|" -e "s|@STORE_DIR@|$T/store|" -e "s|@PORT@|$PGPORT_TEST|" \
    -e "s|@S3_ENDPOINT@|$S3_ENDPOINT|" -e "s|@S3_REGION@|$S3_REGION|" \
    -e "s|@BUCKET_NYC@|$bucket_nyc|" -e "s|@BUCKET_AMS@|$bucket_ams|" \
    "$root/examples/demo.conf" >"$conf"
pf()
{
    "$PERMAFROST" -c "$conf" "$@"
}

say "permafrost config check"
pf config check

say "permafrost run"
t0=$(now)
pf run
t1=$(now)
run_s=$(secs "$t0" "$t1")

say "permafrost list"
pf list
json=$(pf list --json db)
field()
{
    python3 -c 'import json, sys; print(json.loads(sys.argv[1])[-1][sys.argv[2]])' "$json" "$1"
}
snap=$(field id)
size_bytes=$(field size_bytes)
raw_bytes=$(field raw_bytes)
ratio=$(printf '%.2f' "$(field ratio)")

snapdir=$T/store/db/$snap
artifact=$snapdir/mastodon_production.dump.zst
[[ -f $artifact && -f $snapdir/manifest.json ]] || die "snapshot files missing in $snapdir"

say "checking the artifact with stock tools"
stock_ok=yes
toc_entries=0
# To a file: pg_restore --list reads only the table of contents, which would cut a pipe short.
if zstd -q -t "$artifact" && zstd -q -dc "$artifact" >"$T/raw.dump" &&
    toc=$("$PG_BIN/pg_restore" --list "$T/raw.dump"); then
    toc_entries=$(grep -cv '^;' <<<"$toc" || true)
    grep -q 'TABLE DATA public statuses' <<<"$toc" || stock_ok=no
else
    stock_ok=no
fi
rm -f "$T/raw.dump"
sha_file=$(sha256sum "$artifact" | cut -d' ' -f1)
sha_manifest=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print([a for a in m["artifacts"] if a["name"] == sys.argv[2]][0]["sha256"])
' "$snapdir/manifest.json" "${artifact##*/}") || sha_manifest=missing
sha_ok=no
[[ $sha_file == "$sha_manifest" ]] && sha_ok=yes
say "checking both buckets with rclone"
s3_ok=yes
for b in "$bucket_nyc" "$bucket_ams"; do
    sha_s3=$(s3_rclone cat "s3:$b/mastodon/db/$snap/${artifact##*/}" | sha256sum | cut -d' ' -f1)
    if [[ $sha_s3 != "$sha_manifest" ]]; then
        say "bucket $b: sha256 $sha_s3 differs from the manifest's $sha_manifest"
        s3_ok=no
    fi
    listing=$(s3_rclone lsf "s3:$b/mastodon/db/$snap/") || s3_ok=no
    grep -qx manifest.json <<<"$listing" || {
        say "bucket $b: no manifest.json under mastodon/db/$snap/"
        s3_ok=no
    }
done

say "permafrost restore db latest --from spaces-ams --create (into mastodon_restored)"
t0=$(now)
pf restore db latest --from spaces-ams --to "$(pg_conninfo_socket mastodon_restored)" --create
t1=$(now)
restore_s=$(secs "$t0" "$t1")

say "comparing source and restored database"
pg_fingerprint mastodon_production >"$T/source.fp"
pg_fingerprint mastodon_restored >"$T/restored.fp"
pg_schema mastodon_production >"$T/source.schema"
pg_schema mastodon_restored >"$T/restored.schema"

tables=$(awk -F'\t' '$3 !~ /\// { n++ } END { print n + 0 }' "$T/source.fp")
rows=$(awk -F'\t' '$3 !~ /\// { s += $2 } END { print s + 0 }' "$T/source.fp")
counts_ok=yes
cut -f1,2 "$T/source.fp" | cmp -s - <(cut -f1,2 "$T/restored.fp") || counts_ok=no
content_ok=yes
cmp -s "$T/source.fp" "$T/restored.fp" || content_ok=no
schema_ok=yes
cmp -s "$T/source.schema" "$T/restored.schema" || schema_ok=no
if [[ $content_ok == no ]]; then
    say "differences (table, rows, md5: source < > restored):"
    diff "$T/source.fp" "$T/restored.fp" || true
fi
if [[ $schema_ok == no ]]; then
    say "schema differences:"
    diff "$T/source.schema" "$T/restored.schema" | head -n 40 || true
fi

say "media mirror: a Mastodon-shaped bucket of about 200 objects, cache/ included"
mtool gen --count 200 --seed demo --cache-share 0.2 >"$T/media.jsonl"
mtool put --server S3 "$bucket_media" "$T/media.jsonl"
media_n=$(spec_sum "$T/media.jsonl" count)
media_cache=$(spec_keys "$T/media.jsonl" | grep -c '^cache/' || true)
{
    for s in "media $bucket_media" "media-copy $bucket_media_copy"; do
        printf '\n[store "%s"]\ntype = s3\nendpoint = %s\nregion = %s\nbucket = %s\n' \
            "${s% *}" "$S3_ENDPOINT" "$S3_REGION" "${s#* }"
        printf 'access_key = env:DEMO_S3_ACCESS_KEY\nsecret_key = env:DEMO_S3_SECRET_KEY\n'
    done
    printf '\n[job "media"]\nkind = mirror\nsource = media\ndestination = media-copy\n'
    printf 'preset = mastodon\n'
} >>"$conf"
say "permafrost run media"
mirror_ok=yes
t0=$(now)
pf run media || mirror_ok=no
t1=$(now)
mirror_s=$(secs "$t0" "$t1")
say "checking the copy with rclone check (cache/ excluded: Mastodon fetches it again)"
s3_rclone check --exclude '/cache/**' "s3:$bucket_media" "s3:$bucket_media_copy" || mirror_ok=no
copy_cache=$(s3_rclone lsf -R --files-only "s3:$bucket_media_copy/cache" 2>/dev/null | grep -c . || true)
[[ $copy_cache == 0 ]] || {
    say "the copy holds $copy_cache objects under cache/"
    mirror_ok=no
}
say "permafrost run --json media (again: nothing changed)"
resync=$(pf run --json media) || mirror_ok=no
# The re-sync: changes, unchanged objects, per-object requests (HEAD+GET+PUT+COPY+DELETE), listings.
resync_fields=$(python3 -c '
import json, sys
m = [e for e in json.loads(sys.argv[1]) if e.get("kind") == "mirror"][0]
r = m["requests"]
print(m["copied"]["objects"] + m["updated"]["objects"] + m["deleted"]["objects"],
      m["unchanged"]["objects"], sum(r[k] for k in ("HEAD", "GET", "PUT", "COPY", "DELETE")),
      r["LIST"])' "$resync") || resync_fields="? ? ? ?"
read -r resync_changes resync_unchanged resync_objreq resync_lists <<<"$resync_fields"
[[ $resync_changes == 0 && $resync_objreq == 0 && $resync_unchanged == $((media_n - media_cache)) ]] ||
    mirror_ok=no

say "redis: a Mastodon-shaped Redis (feeds, Sidekiq queues and retries, a stream, TTLs)"
redis_start "$T/redis" --repl-diskless-sync yes --repl-diskless-sync-delay 0
redis_src=$REDIS_PORT
redis_load_dataset "$redis_src" --scale 0.05 --seed 7
redis_keys=$(redis_keyspace "$redis_src" | awk -F'[ =]' '{ s += $3 } END { print s + 0 }')
redis_digest_src=$(redis_digest "$redis_src")
printf '\n[job "redis"]\nkind = redis\nurl = redis://127.0.0.1:%s\ntargets = local, spaces-nyc\n' \
    "$redis_src" >>"$conf"
redis_ok=yes
say "permafrost run redis"
t0=$(now)
pf run redis || redis_ok=no
t1=$(now)
redis_run_s=$(secs "$t0" "$t1")
redis_snap=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])[-1]["id"])' \
    "$(pf list --json redis)") || redis_ok=no
say "checking the RDB with redis-check-rdb"
zstd -q -d -c "$T/store/redis/$redis_snap/dump.rdb.zst" >"$T/redis-artifact.rdb" || redis_ok=no
redis-check-rdb "$T/redis-artifact.rdb" | grep -q 'Checksum OK' || redis_ok=no
say "permafrost restore redis --to-file, then a server started from the file"
mkdir -p "$T/redis-file"
t0=$(now)
pf restore redis latest --from spaces-nyc --to-file "$T/redis-file/dump.rdb" \
    --target-version redis-7.0 || redis_ok=no
t1=$(now)
redis_restore_s=$(secs "$t0" "$t1")
redis_start_from_rdb "$T/redis-placed" "$T/redis-file/dump.rdb"
redis_digest_file=$(redis_digest "$REDIS_PORT")
redis_stop "$REDIS_PORT"
say "permafrost restore redis --to redis://... into a running server"
redis_start "$T/redis-live"
redis_live=$REDIS_PORT
pf restore redis latest --to "redis://127.0.0.1:$redis_live" || redis_ok=no
redis_digest_live=$(redis_digest "$redis_live")
[[ $redis_digest_file == "$redis_digest_src" && $redis_digest_live == "$redis_digest_src" ]] ||
    redis_ok=no

say "permafrost keygen, then an encrypted (age) snapshot of the database"
enc_ok=yes
recipient=$(pf -q keygen -o "$T/age-identity.txt") || enc_ok=no
cat >>"$conf" <<EOF

[job "db-encrypted"]
kind = postgres
database = host=127.0.0.1 port=$PGPORT_TEST dbname=mastodon_production user=mastodon
password = env:DB_PASS
targets = local, spaces-ams
encrypt = $recipient
identity = file:$T/age-identity.txt
EOF
t0=$(now)
pf run db-encrypted || enc_ok=no
t1=$(now)
enc_run_s=$(secs "$t0" "$t1")
enc_snap=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])[-1]["id"])' \
    "$(pf list --json db-encrypted)") || enc_ok=no
enc_artifact=$T/store/db-encrypted/$enc_snap/mastodon_production.dump.zst.age
say "decrypting it with Debian's age: age -d -i KEY | zstd -d | pg_restore --list"
# The TOC into a variable first: grep -q would stop reading early and fail the pipe (pipefail).
if age -d -i "$T/age-identity.txt" "$enc_artifact" | zstd -q -d >"$T/dec.dump" &&
    toc=$("$PG_BIN/pg_restore" --list "$T/dec.dump"); then
    grep -q 'TABLE DATA public statuses' <<<"$toc" || enc_ok=no
else
    enc_ok=no
fi
rm -f "$T/dec.dump"
grep -q "$recipient" "$T/store/db-encrypted/$enc_snap/manifest.json" || enc_ok=no
if grep -rq AGE-SECRET-KEY "$T/store" "$T/state"; then
    enc_ok=no
fi

say "permafrost verify --restore: restore drills of the encrypted database and the Redis snapshot"
verify_ok=yes
t0=$(now)
pf verify db-encrypted redis --snapshot latest --restore || verify_ok=no
t1=$(now)
verify_s=$(secs "$t0" "$t1")
pf list db-encrypted
listed=$(pf list --json db-encrypted)
grep -q '"restore' <<<"$listed" || verify_ok=no

say "the daemon: media on '* * * * *' with catch_up, notifications to a local webhook and a"
say "healthchecks-style check (an HTTP sink on 127.0.0.1), /metrics, then permafrost status"
daemon_ok=yes
"$root/tests/lib/http_sink.py" --port-file "$T/sink.port" --log "$T/sink.jsonl" 2>"$T/sink.err" &
track_pid $!
for _ in $(seq 100); do
    [[ -s $T/sink.port ]] && break
    sleep 0.1
done
sink_port=$(cat "$T/sink.port")
metrics_port=$(free_port)
hc_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
dconf=$T/daemon.conf
sed -e "s|^\[global\]$|[global]\nmetrics_listen = 127.0.0.1:$metrics_port|" \
    -e "s|^\[job \"media\"\]$|[job \"media\"]\nschedule = * * * * *\ncatch_up = yes|" "$conf" >"$dconf"
cat >>"$dconf" <<CONF

[notify "ops"]
url = http://127.0.0.1:$sink_port/hooks/ops
on = all

[notify "deadman"]
url = hc+http://127.0.0.1:$sink_port/ping/$hc_uuid
jobs = media
CONF
"$PERMAFROST" -c "$dconf" notify list
"$PERMAFROST" -c "$dconf" daemon --check
"$PERMAFROST" -c "$dconf" daemon 2>"$T/daemon.log" &
daemon_pid=$!
t0=$(now)
# catch_up runs media at once when its last run began before the current minute; otherwise it runs
# when the next minute starts.
for _ in $(seq 900); do
    grep -q "^.*job 'media' finished" "$T/daemon.log" && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
t1=$(now)
daemon_s=$(secs "$t0" "$t1")
metrics=$(python3 -c '
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())
' "$metrics_port") || daemon_ok=no
healthz=$(python3 -c '
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=5).read().decode())
' "$metrics_port") || daemon_ok=no
kill -TERM "$daemon_pid"
daemon_rc=0
wait "$daemon_pid" || daemon_rc=$?
sed 's/^/  daemon | /' "$T/daemon.log"
grep -q "job 'media' finished: ok" "$T/daemon.log" || daemon_ok=no
[[ $daemon_rc == 0 ]] || daemon_ok=no
grep -q "^permafrost_job_last_success_timestamp_seconds{job=\"media\"} " <<<"$metrics" || daemon_ok=no
grep -q '^ok' <<<"$healthz" || daemon_ok=no
# What reached the sink: the webhook's start and success of media, the check's /start and success.
sink_summary=$(python3 -c '
import json, sys
hooks, pings = [], []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"].startswith("/hooks/ops"):
        body = json.loads(r["body"])
        if body.get("job") == "media":
            hooks.append(body["event"])
    elif r["path"].startswith("/ping/"):
        pings.append(r["path"].split("?")[0].split("/")[3:] or [""])
print(" ".join(hooks), "|", " ".join("/".join(p) or "success" for p in pings))
' "$T/sink.jsonl") || daemon_ok=no
say "sink received: webhook events for media: ${sink_summary%% |*}; healthchecks pings: ${sink_summary#*| }"
[[ $sink_summary == "start success"* ]] || daemon_ok=no
grep -q "$hc_uuid/start" "$T/sink.jsonl" || daemon_ok=no
say "permafrost status"
status_rc=0
"$PERMAFROST" -c "$dconf" status || status_rc=$?

result=PASS
for v in "$stock_ok" "$sha_ok" "$s3_ok" "$counts_ok" "$content_ok" "$schema_ok" "$mirror_ok" \
    "$redis_ok" "$enc_ok" "$verify_ok" "$daemon_ok"; do
    [[ $v == yes ]] || result=FAIL
done

cat <<EOF

Permafrost demo report
  source database      mastodon_production, $(mb "$src_bytes") on disk, $tables tables, $rows rows
  generated in         ${gen_s} s
  backup (run)         ${run_s} s  -> snapshot $snap
  artifact             $(mb "$size_bytes") zstd (raw pg_dump $(mb "$raw_bytes"), ratio ${ratio}x)
  stock tools          zstd -t, zstd -d + pg_restore --list: $stock_ok ($toc_entries entries); sha256sum = manifest: $sha_ok
  replicated           spaces-nyc ($bucket_nyc) and spaces-ams ($bucket_ams) on $S3_ENDPOINT: same sha256: $s3_ok
  restore              ${restore_s} s  (--from spaces-ams --create, into mastodon_restored)
  row counts match     $counts_ok
  content match        $content_ok  (md5 over every row of every table, sequences' values)
  schema match         $schema_ok  (pg_dump --schema-only)
  media mirror         ${mirror_s} s, $media_n objects ($media_cache under cache/, left out by preset = mastodon): $bucket_media -> $bucket_media_copy
  mirror checked       rclone check and re-sync: $mirror_ok ($resync_changes changes, $resync_unchanged unchanged, $resync_objreq per-object requests, $resync_lists listings)
  redis snapshot       ${redis_run_s} s, $redis_keys keys (sync, diskless) to local and spaces-nyc; redis-check-rdb on the artifact
  redis restores       to a file from spaces-nyc in ${redis_restore_s} s, and replayed into a running server
  redis match          $redis_ok  (DEBUG DIGEST of the file-placed and of the replayed server = the source's)
  encrypted snapshot   ${enc_run_s} s (age, to the recipient from permafrost keygen): age -d | zstd -d | pg_restore --list: $enc_ok
  restore drills       ${verify_s} s (verify --restore: scratch database row counts, throwaway redis-server key counts): $verify_ok
  daemon               media run by the schedule after ${daemon_s} s; notifications (webhook, healthchecks start/success), /metrics, /healthz, SIGTERM exit 0: $daemon_ok
  status               exit $status_rc (0: no job stale or failed)
  result               $result
EOF

[[ $result == PASS ]]
