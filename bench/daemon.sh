#!/usr/bin/env bash
# Benchmark (not a test): what the operator's view of issue 7 costs, on loopback with the real
# binaries, in a temporary directory.
#
# 1. status on a large catalog: BENCH_JOBS postgres jobs (default 20) x 3 local stores x
#    BENCH_SNAPSHOTS snapshots (default 1000): 60,000 snapshot rows and 20,000 runs. The catalog is
#    created by a real `permafrost run` of a cheap mirror job (so the schema and migrations are the
#    real ones), then the rows are bulk-inserted with sqlite3 in one transaction: one successful run
#    per job every 6 hours, the last one an hour ago, each stored to the three stores. Measured,
#    interleaved, BENCH_RUNS times (median wall time, largest peak RSS from /usr/bin/time %M):
#      permafrost status | status --json | status --metrics | list --json
#      sqlite3: "last run per job", the query an operator's script would run (the peer)
#      sqlite3: every query status itself runs (last run and last success per job, store usage,
#               run counts), for a like-for-like figure
# 2. the daemon, with the same jobs scheduled (every 6 hours, at hours at least 2 h from now, so
#    none fires while it is measured) and metrics_listen on a free loopback port: VmRSS/VmHWM once
#    it serves /healthz, the CPU time (utime + stime of all threads, /proc/PID/stat) and the context
#    switches (all threads) over BENCH_IDLE_SECS idle seconds (default 30: it must stay ~0, no busy
#    loop), then BENCH_SCRAPES GETs of /metrics (default 50) from one python3 process (urllib,
#    median / p90 / max latency, response size), the daemon's CPU per scrape and its VmHWM after.
#    node_exporter is not installed, so there is no exporter to compare with: the peer figure is
#    the sqlite3 run of every status query above (a fresh process, as a textfile-collector script
#    would be).
# 3. notification overhead of `permafrost run` of a cheap mirror job (two local directories, five
#    small files, nothing to copy after the first run): 0 channels against BENCH_CHANNELS channels
#    (default 8: slack, discord, matrix, ntfy, mastodon, healthchecks and two plain webhooks, `on =
#    start, success, failure, warning`) all pointing at tests/lib/http_sink.py on 127.0.0.1,
#    interleaved, BENCH_RUNS times each; the added time per channel is the difference of the
#    medians over the channel count. A second sink is the same script with TCP_NODELAY set on its
#    handler: the stock one sends headers and body in two segments, so on a kept-alive connection
#    each answer waits ~40 ms for the client's delayed ACK, which is the sink's cost, not
#    permafrost's. Both sinks' logs are checked for the requests of every run.
#
# The measured permafrost and sqlite3 processes are pinned to one core (taskset -c BENCH_CPU,
# default 0); the HTTP clients and the sink to the other one when there are two. The load average
# is printed before and after: wall times are only comparable on a quiet machine.
#
# Environment:
#   PERMAFROST       binary (default build/permafrost; a debugoptimized build, not ASan)
#   BENCH_RUNS       repetitions of each timed command (default 10)
#   BENCH_SNAPSHOTS  snapshots per job and store, = runs per job (default 1000)
#   BENCH_JOBS       jobs with snapshots (default 20)
#   BENCH_SCRAPES    GETs of /metrics (default 50)
#   BENCH_IDLE_SECS  idle time of the daemon measured (default 30)
#   BENCH_CHANNELS   notification channels, 1 to 8 (default 8)
#   BENCH_CPU        the core the measured processes run on (default 0)
# Needs sqlite3, curl, /usr/bin/python3, GNU time (/usr/bin/time) and taskset.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
SERVERS_LOG_PREFIX=bench

PERMAFROST=${PERMAFROST:-$root/build/permafrost}
runs=${BENCH_RUNS:-10}
snapshots=${BENCH_SNAPSHOTS:-1000}
njobs=${BENCH_JOBS:-20}
scrapes=${BENCH_SCRAPES:-50}
idle_secs=${BENCH_IDLE_SECS:-30}
nchannels=${BENCH_CHANNELS:-8}
cpu=${BENCH_CPU:-0}
PY=/usr/bin/python3

die()
{
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

say()
{
    printf 'bench: %s\n' "$*" >&2
}

[[ -x $PERMAFROST ]] || die "'$PERMAFROST' not found: build it first (make build), or set PERMAFROST"
[[ $PERMAFROST == /* ]] || PERMAFROST=$PWD/$PERMAFROST
for v in runs snapshots njobs scrapes idle_secs nchannels; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number (got '${!v}')"
done
((nchannels <= 8)) || die "BENCH_CHANNELS must be 1 to 8"
((njobs <= 99)) || die "BENCH_JOBS must be at most 99"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
[[ -x $PY ]] || die "$PY is missing"
for tool in sqlite3 curl taskset awk; do
    command -v "$tool" >/dev/null || die "'$tool' is missing"
done
# The other core, for the HTTP clients and the sink (the same one on a single-core machine).
other=$cpu
(($(nproc) > 1)) && other=$(((cpu + 1) % $(nproc)))

servers_trap
base=""
make_tmpdir base
work=$base
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before: $load_before"

closed=$(free_port)
metrics_port=$(free_port)
mkdir -p "$work/media" "$work/media_copy" "$work/s1" "$work/s2" "$work/s3"
for i in 1 2 3 4 5; do
    head -c $((i * 3000)) /dev/urandom >"$work/media/f$i.png"
done

# Hours for a 6-hourly schedule none of whose runs is due in the next two hours (UTC).
h0=$(((10#$(date -u +%H) + 3) % 24))
hours=$(printf '%s\n' "$h0" $(((h0 + 6) % 24)) $(((h0 + 12) % 24)) $(((h0 + 18) % 24)) | sort -n |
    paste -sd, -)

# write_conf FILE STATE_DIR METRICS_LISTEN CHANNELS [ENV_PREFIX [SCHEDULED]]: the jobs, stores,
# and CHANNELS [notify] sections (URLs from the environment: ENV_PREFIX1.., default N1..N8); the
# postgres jobs are scheduled unless SCHEDULED is "no".
write_conf()
{
    local file=$1 state=$2 listen=$3 channels=$4 env=${5:-N} scheduled=${6:-yes} j c
    {
        printf '[global]\nstate_dir = %s\ntimezone = UTC\nmetrics_listen = %s\n\n' "$state" "$listen"
        for s in s1 s2 s3; do
            printf '[store "%s"]\ntype = local\npath = %s/%s\n\n' "$s" "$work" "$s"
        done
        printf '[store "media_src"]\ntype = local\npath = %s/media\n\n' "$work"
        printf '[store "media_dst"]\ntype = local\npath = %s/media_copy\n\n' "$work"
        printf '[job "media"]\nkind = mirror\nsource = media_src\ndestination = media_dst\n\n'
        for ((j = 1; j <= njobs; j++)); do
            printf '[job "db%02d"]\nkind = postgres\n' "$j"
            printf 'database = host=127.0.0.1 port=%s dbname=mastodon_production user=mastodon\n' \
                "$closed"
            printf 'targets = s1, s2, s3\n'
            [[ $scheduled == no ]] || printf 'schedule = %d %s * * *\n' $(((j * 7) % 60)) "$hours"
            printf '\n'
        done
        for ((c = 1; c <= channels; c++)); do
            printf '[notify "c%d"]\nurl = env:%s%d\non = start, success, failure, warning\n\n' \
                "$c" "$env" "$c"
        done
    } >"$file"
}

# ---- 1. the catalog ----

write_conf "$work/big.conf" "$work/state" off 0
write_conf "$work/nosched.conf" "$work/state" off 0 N no
say "creating the catalog with a real run of the mirror job"
"$PERMAFROST" -c "$work/big.conf" -q run media >/dev/null 2>"$work/seed.err" || {
    cat "$work/seed.err" >&2
    die "the seeding run failed"
}
catalog=$work/state/catalog.db
[[ -f $catalog ]] || die "no catalog at $catalog"
now=$(date +%s)
say "inserting $((njobs * snapshots)) runs and $((njobs * snapshots * 3)) snapshots"
t0=$EPOCHREALTIME
sqlite3 "$catalog" <<SQL || die "the bulk insert failed"
BEGIN;
CREATE TEMP TABLE gen AS
WITH RECURSIVE
  j(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM j WHERE n < $njobs),
  k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < $snapshots - 1)
SELECT printf('db%02d', j.n) AS job, j.n AS jn, k.n AS kn,
       $now - 3600 - ($snapshots - 1 - k.n) * 21600 + j.n * 60 - 1200 AS t,
       180000000 + (k.n * 7919 + j.n * 104729) % 40000000 AS sb
FROM j, k;
ALTER TABLE gen ADD COLUMN id TEXT;
UPDATE gen SET id = strftime('%Y%m%dT%H%M%SZ', t, 'unixepoch') || '-' ||
  substr('abcdefghijklmnopqrstuvwxyz234567', (jn * 7 + kn) % 32 + 1, 1) ||
  substr('abcdefghijklmnopqrstuvwxyz234567', (kn / 32) % 32 + 1, 1) ||
  substr('abcdefghijklmnopqrstuvwxyz234567', (kn / 1024) % 32 + 1, 1) ||
  substr('abcdefghijklmnopqrstuvwxyz234567', jn % 32 + 1, 1);
INSERT INTO runs (job, snapshot_id, started_at, ended_at, result, error, stored_bytes, raw_bytes,
                  kind, duration_ms)
  SELECT job, id, t, t + 240 + kn % 60, 'ok', NULL, sb * 3, sb * 4, 'postgres',
         (240 + kn % 60) * 1000 + kn % 997
  FROM gen ORDER BY t;
INSERT INTO snapshots (job, id, store, time, stored_bytes, raw_bytes, kind)
  SELECT job, id, s.store, t, sb, sb * 4, 'postgres'
  FROM gen, (SELECT 's1' AS store UNION ALL SELECT 's2' UNION ALL SELECT 's3') s ORDER BY t;
INSERT OR IGNORE INTO jobs_seen (job, first_seen) SELECT job, min(t) FROM gen GROUP BY job;
COMMIT;
SQL
t1=$EPOCHREALTIME
nruns=$(sqlite3 "$catalog" 'SELECT count(*) FROM runs')
nsnaps=$(sqlite3 "$catalog" 'SELECT count(*) FROM snapshots')
catalog_kb=$(($(stat -c %s "$catalog") / 1024))
say "catalog: $nruns runs, $nsnaps snapshots, $catalog_kb KiB (insert took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"

# The peer: the last run of each job, as an operator's script would ask for it (SQLite gives the
# bare columns of the row holding the max).
q_last="SELECT job, max(started_at), result, duration_ms, stored_bytes FROM runs GROUP BY job;"
# Everything status reads (src/core/catalog.c), in one sqlite3 process.
q_all="$q_last
SELECT job, max(started_at), snapshot_id FROM runs WHERE result = 'ok' GROUP BY job;
SELECT store, job, count(*), total(stored_bytes), max(time) FROM snapshots GROUP BY store, job
  ORDER BY store, job;
SELECT job, result, count(*) FROM runs WHERE result IS NOT NULL GROUP BY job, result
  ORDER BY job, result;
SELECT job, first_seen FROM jobs_seen;"

# measure NAME CMD...: runs CMD on core $cpu under /usr/bin/time, output to /dev/null; appends
# "NAME wall_s maxrss_kb" to $results. Exit status 1 is accepted (status: a stale job).
measure()
{
    local name=$1 t0 t1 rc=0
    shift
    t0=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$work/time.out" taskset -c "$cpu" "$@" >/dev/null 2>"$work/cmd.err" ||
        rc=$?
    t1=$EPOCHREALTIME
    if ((rc > 1)); then
        cat "$work/cmd.err" >&2
        die "$name failed (exit status $rc)"
    fi
    printf '%s %s %s\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" \
        "$(tail -n 1 "$work/time.out")" >>"$results"
}

pfc()
{
    "$PERMAFROST" -c "$work/big.conf" "$@"
}

rc=0
pfc status >"$work/status.txt" || rc=$?
((rc == 0)) || {
    cat "$work/status.txt" >&2
    die "status exits $rc on the generated catalog (a job stale or failed?)"
}
declare -A out_bytes
out_bytes[status]=$(wc -c <"$work/status.txt")
out_bytes[status_nosched]=$("$PERMAFROST" -c "$work/nosched.conf" status | wc -c)
out_bytes[status_json]=$(pfc status --json | wc -c)
out_bytes[status_metrics]=$(pfc status --metrics | wc -c)
out_bytes[list_json]=$(pfc list --json | wc -c)
out_bytes[sqlite_last]=$(sqlite3 -readonly "$catalog" "$q_last" | wc -c)
out_bytes[sqlite_all]=$(sqlite3 -readonly "$catalog" "$q_all" | wc -c)

say "timing status, status --json, status --metrics, list --json and sqlite3 ($runs runs each)"
# run 0 is the warm-up (page cache), not counted
for ((r = 0; r <= runs; r++)); do
    results=$work/results
    ((r > 0)) || results=$work/warmup
    measure status "$PERMAFROST" -c "$work/big.conf" status
    measure status_json "$PERMAFROST" -c "$work/big.conf" status --json
    measure status_nosched "$PERMAFROST" -c "$work/nosched.conf" status
    measure status_metrics "$PERMAFROST" -c "$work/big.conf" status --metrics
    measure list_json "$PERMAFROST" -c "$work/big.conf" list --json
    measure sqlite_last sqlite3 -readonly "$catalog" "$q_last"
    measure sqlite_all sqlite3 -readonly "$catalog" "$q_all"
done

# median NAME FILE -> "median_wall_s max_rss_kb"
median()
{
    awk -v n="$1" '$1 == n { print $2, $3 }' "$2" | sort -n |
        awk '{ w[NR] = $1; if ($2 > r) r = $2 } END { printf "%.6f %d\n", w[int((NR + 1) / 2)], r }'
}

# ---- 2. the daemon ----

write_conf "$work/daemon.conf" "$work/state" "127.0.0.1:$metrics_port" 0
say "starting the daemon ($njobs scheduled jobs, metrics on 127.0.0.1:$metrics_port)"
taskset -c "$cpu" "$PERMAFROST" -c "$work/daemon.conf" daemon --log-format=json \
    2>"$work/daemon.log" >/dev/null </dev/null &
dpid=$!
track_pid "$dpid"
for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:$metrics_port/healthz" 2>/dev/null && break
    pid_alive "$dpid" || {
        cat "$work/daemon.log" >&2
        die "the daemon exited"
    }
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$metrics_port/healthz" || die "no /healthz from the daemon"
sleep 1

# proc_kb FIELD: a field of the daemon's /proc/PID/status, in kB.
proc_kb()
{
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$dpid/status"
}

# CPU ticks (utime + stime of the whole process; the fields after the command name's ")").
proc_ticks()
{
    local stat
    stat=$(<"/proc/$dpid/stat")
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

# Context switches of all the daemon's threads: every wake-up is one.
proc_switches()
{
    cat "/proc/$dpid/task/"*/status |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 } END { print n }'
}

threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$dpid/status")
rss_start=$(proc_kb VmRSS)
hwm_start=$(proc_kb VmHWM)
hz=$(getconf CLK_TCK)
say "daemon idle for $idle_secs s"
ticks0=$(proc_ticks)
sw0=$(proc_switches)
sleep "$idle_secs"
ticks1=$(proc_ticks)
sw1=$(proc_switches)
idle_cpu_ms=$(((ticks1 - ticks0) * 1000 / hz))
idle_switches=$((sw1 - sw0))
rss_idle=$(proc_kb VmRSS)

say "scraping /metrics $scrapes times"
metrics_url="http://127.0.0.1:$metrics_port/metrics"
curl -fsS -o "$work/metrics.prom" "$metrics_url" || die "GET /metrics failed"
series=$(grep -vc '^#' "$work/metrics.prom" || true)
ticks2=$(proc_ticks)
taskset -c "$other" "$PY" - "$metrics_url" "$scrapes" >"$work/scrape.out" <<'PYEOF' ||
import sys, time, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
times, size = [], 0
for _ in range(n):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        if r.status != 200:
            sys.exit("status %d" % r.status)
        size = len(r.read())
    times.append(time.perf_counter() - t0)
times.sort()
print("%.2f %.2f %.2f %.2f %d" % (times[(n - 1) // 2] * 1000, times[min(n - 1, (n * 9) // 10)] * 1000,
      times[-1] * 1000, times[0] * 1000, size))
PYEOF
    die "scraping /metrics failed"
ticks3=$(proc_ticks)
read -r scrape_med scrape_p90 scrape_max scrape_min scrape_bytes <"$work/scrape.out"
scrape_cpu_ms=$(awk -v t=$((ticks3 - ticks2)) -v hz="$hz" -v n="$scrapes" \
    'BEGIN { printf "%.1f", t * 1000 / hz / n }')
rss_after=$(proc_kb VmRSS)
hwm_after=$(proc_kb VmHWM)
kill -TERM "$dpid"
drc=0
wait "$dpid" || drc=$?
((drc == 0)) || say "note: the daemon exited with status $drc"
runs_by_daemon=$(grep -c '"message":"job .* started' "$work/daemon.log" || true)

# ---- 3. notification overhead ----

# start_sink NAME VAR [nodelay]: tests/lib/http_sink.py on the other core, its log in
# $work/NAME.log; sets VAR to its port (not `$(start_sink)`: the pid tracking would be lost). With "nodelay" its handler sets TCP_NODELAY (Python's disable_nagle_algorithm):
# the stock sink writes the status line and headers, then the body, in two segments, and on a
# reused connection the body waits for the client's delayed ACK (about 40 ms on Linux).
start_sink()
{
    local name=$1 var=$2 i
    local args=(--port-file "$work/$name.port" --log "$work/$name.log" --max-seconds 3600)
    if [[ ${3:-} == nodelay ]]; then
        taskset -c "$other" "$PY" -c 'import sys
sys.path.insert(0, sys.argv[1])
import http_sink
http_sink.Handler.disable_nagle_algorithm = True
sys.argv = ["http_sink.py"] + sys.argv[2:]
http_sink.main()' "$root/tests/lib" "${args[@]}" >/dev/null 2>"$work/$name.err" &
    else
        taskset -c "$other" "$PY" "$root/tests/lib/http_sink.py" "${args[@]}" >/dev/null 2>"$work/$name.err" &
    fi
    track_pid $!
    for ((i = 0; i < 100; i++)); do
        [[ -s $work/$name.port ]] && break
        sleep 0.1
    done
    [[ -s $work/$name.port ]] || die "the HTTP sink $name did not start"
    printf -v "$var" '%s' "$(cat "$work/$name.port")"
}

say "starting the HTTP sinks"
hp="" hq=""
start_sink sink hp
start_sink sink_nodelay hq nodelay
# channel_urls PREFIX PORT: exports PREFIX1..PREFIX8 (the tokens are dummies)
channel_urls()
{
    local p=$1 port=$2
    export "${p}1=slack+http://127.0.0.1:$port/slack/T0/B0/benchtoken"
    export "${p}2=discord+http://127.0.0.1:$port/discord/123/benchtoken"
    export "${p}3=matrix://syt_benchtoken@127.0.0.1:$port/#ops:example.org"
    export "${p}4=ntfy://:tk_benchtoken@127.0.0.1:$port/backups"
    export "${p}5=mastodon://benchtoken@127.0.0.1:$port/@admin"
    export "${p}6=hc+http://127.0.0.1:$port/hc/0b9d4f5e-bench"
    export "${p}7=http://127.0.0.1:$port/hook/a"
    export "${p}8=http://127.0.0.1:$port/hook/b"
}
channel_urls N "$hp"
channel_urls M "$hq"
confs=(n0 "n$nchannels" "nd$nchannels")
write_conf "$work/n0.conf" "$work/nstate" off 0
write_conf "$work/n$nchannels.conf" "$work/nstate" off "$nchannels" N
write_conf "$work/nd$nchannels.conf" "$work/nstate" off "$nchannels" M
# warm-up: the first run copies the files; each configuration once
for conf in "${confs[@]}"; do
    "$PERMAFROST" -c "$work/$conf.conf" -q run media >/dev/null 2>"$work/cmd.err" || {
        cat "$work/cmd.err" >&2
        die "run media ($conf) failed"
    }
done
say "timing run media with 0 and $nchannels channels, two sinks ($runs runs each)"
results=$work/nresults
req_before=$(wc -l <"$work/sink.log")
reqd_before=$(wc -l <"$work/sink_nodelay.log")
for ((r = 1; r <= runs; r++)); do
    # rotate the order, so that none always runs first
    for ((k = 0; k < ${#confs[@]}; k++)); do
        conf=${confs[(k + r) % ${#confs[@]}]}
        measure "$conf" "$PERMAFROST" -c "$work/$conf.conf" -q run media
    done
done
reqs_per_run=$((($(wc -l <"$work/sink.log") - req_before) / runs))
reqsd_per_run=$((($(wc -l <"$work/sink_nodelay.log") - reqd_before) / runs))
((reqs_per_run >= 2 * nchannels && reqsd_per_run == reqs_per_run)) ||
    die "the sinks got $reqs_per_run and $reqsd_per_run requests per run, expected >= $((2 * nchannels))"
bad=$(cat "$work/sink.log" "$work/sink_nodelay.log" | "$PY" -c '
import json, sys
print(sum(1 for l in sys.stdin if l.strip() and json.loads(l).get("status") != 200))')

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----

ms()
{
    awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'
}

mb()
{
    awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

read -r peer_last _ <<<"$(median sqlite_last "$work/results")"
read -r peer_all _ <<<"$(median sqlite_all "$work/results")"
{
    printf '\n## %s, %s\n' "$("$PERMAFROST" --version 2>/dev/null | head -n 1)" \
        "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'load average before: %s, after: %s; measured processes on core %s (taskset)\n\n' \
        "$load_before" "$load_after" "$cpu"
    printf '### 1. status on a catalog of %s runs and %s snapshots (%s jobs x 3 stores, %.1f MiB), median of %s\n\n' \
        "$nruns" "$nsnaps" "$njobs" "$(awk -v k="$catalog_kb" 'BEGIN { print k / 1024 }')" "$runs"
    printf '| command | wall ms | peak RSS MiB | output bytes | / sqlite3 last run per job | / sqlite3 all status queries |\n'
    printf '|---|---:|---:|---:|---:|---:|\n'
    for name in status status_json status_metrics status_nosched list_json sqlite_last sqlite_all; do
        read -r wall rss <<<"$(median "$name" "$work/results")"
        case $name in
        status) label='`permafrost status`' ;;
        status_json) label='`permafrost status --json`' ;;
        status_nosched) label='`permafrost status`, the same jobs without `schedule`' ;;
        status_metrics) label='`permafrost status --metrics`' ;;
        list_json) label='`permafrost list --json`' ;;
        sqlite_last) label='`sqlite3` last run per job (peer)' ;;
        sqlite_all) label='`sqlite3` every query status runs' ;;
        esac
        printf '| %s | %s | %s | %s | %.2f | %.2f |\n' "$label" "$(ms "$wall")" "$(mb "$rss")" \
            "${out_bytes[$name]}" "$(awk -v a="$wall" -v b="$peer_last" 'BEGIN { print a / b }')" \
            "$(awk -v a="$wall" -v b="$peer_all" 'BEGIN { print a / b }')"
    done
    printf '\n### 2. the daemon: %s scheduled jobs, metrics_listen on 127.0.0.1, the catalog above\n\n' "$njobs"
    printf '| measure | value |\n|---|---:|\n'
    printf '| threads | %s |\n' "$threads"
    printf '| VmRSS / VmHWM once serving /healthz | %s / %s MiB |\n' "$(mb "$rss_start")" "$(mb "$hwm_start")"
    printf '| CPU over %s s idle (utime + stime) | %s ms |\n' "$idle_secs" "$idle_cpu_ms"
    printf '| context switches over %s s idle (all threads) | %s |\n' "$idle_secs" "$idle_switches"
    printf '| VmRSS after the idle time | %s MiB |\n' "$(mb "$rss_idle")"
    printf '| /metrics response | %s bytes, %s samples |\n' "$scrape_bytes" "$series"
    printf '| /metrics latency, %s GETs (median / p90 / max / min) | %s / %s / %s / %s ms |\n' \
        "$scrapes" "$scrape_med" "$scrape_p90" "$scrape_max" "$scrape_min"
    printf '| daemon CPU per scrape | %s ms |\n' "$scrape_cpu_ms"
    printf '| VmRSS / VmHWM after the scrapes | %s / %s MiB |\n' "$(mb "$rss_after")" "$(mb "$hwm_after")"
    printf '| peer: `sqlite3` every query status runs (fresh process) | %s ms |\n' "$(ms "$peer_all")"
    printf '| jobs the daemon started while measured | %s |\n' "$runs_by_daemon"
    read -r w0 _ <<<"$(median n0 "$work/nresults")"
    printf '\n### 3. `permafrost run` of a mirror job (5 files, nothing to copy), median of %s\n\n' "$runs"
    printf '| channels | sink | wall ms | added ms | added ms per channel | peak RSS MiB | each run, ms |\n'
    printf '|---:|---|---:|---:|---:|---:|---|\n'
    for conf in "${confs[@]}"; do
        read -r w rss <<<"$(median "$conf" "$work/nresults")"
        case $conf in
        n0) label="| 0 | – |" ;;
        n[0-9]*) label="| $nchannels | http_sink.py as it is |" ;;
        nd*) label="| $nchannels | http_sink.py with TCP_NODELAY |" ;;
        esac
        printf '%s %s | %s | %s | %s | %s |\n' "$label" "$(ms "$w")" \
            "$(ms "$(awk -v a="$w" -v b="$w0" 'BEGIN { print a - b }')")" \
            "$(ms "$(awk -v a="$w" -v b="$w0" -v n="$nchannels" 'BEGIN { print (a - b) / n }')")" \
            "$(mb "$rss")" "$(awk -v n="$conf" '$1 == n { printf "%.0f ", $2 * 1000 }' "$work/nresults")"
    done
    printf '\n%s requests per run reached each sink (start and success per channel, plus the matrix alias lookup); %s answered other than 200\n' \
        "$reqs_per_run" "$bad"
}
exit 0
