#!/usr/bin/env bash
# Benchmark (not a test): a Redis snapshot with Permafrost against what operators use today, on a
# ~1 GB (used_memory) Mastodon-shaped dataset (tests/lib/redis_dataset.py) in a throwaway
# redis-server 7.0 with repl-diskless-sync yes and repl-diskless-sync-delay 0:
#
#   A  redis-cli --rdb FILE                       (the replication transfer, uncompressed)
#   B  redis-cli --rdb - | zstd -3 -T0 > FILE     (the compressed peer; keeps the 40-byte EOF mark)
#   D  permafrost run                             method = sync, its default compression (zstd:1
#                                                 for redis jobs), to a local store
#
# Each is run BENCH_RUNS times, interleaved (A B D, A B D, ...), after one warm-up transfer; the
# table shows the median wall time, the output size and the peak RSS, then the targets: D/A wall
# <= 1.10 (the issue's target), D/B wall <= 1.10, D size within 5% of B, Permafrost's own peak RSS
# <= 64 MB. Peak RSS: /usr/bin/time's %M, the largest process of the tree (for D, permafrost
# itself). The server's fork is not counted.
# Ends with a markdown block for docs/benchmarks.md.
#
# Environment:
#   PERMAFROST          binary (default build/permafrost)
#   BENCH_TARGET_BYTES  used_memory to aim at (default 1000000000)
#   BENCH_RUNS          repetitions (default 3)
#   BENCH_DIR           keep the generated dataset (as an RDB) here and reuse it next time
#                       (default: a temporary directory, removed at exit)
#   BENCH_STRICT=1      exit 1 when a target is missed
# Needs redis-server, redis-cli, zstd, python3 and GNU time (/usr/bin/time, package 'time').
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/redis.sh
. "$root/tests/lib/redis.sh"
SERVERS_LOG_PREFIX=bench

PERMAFROST=${PERMAFROST:-$root/build/permafrost}
target_bytes=${BENCH_TARGET_BYTES:-1000000000}
runs=${BENCH_RUNS:-3}

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
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number"
[[ $target_bytes =~ ^[1-9][0-9]*$ ]] || die "BENCH_TARGET_BYTES must be a positive number"
for tool in redis-server redis-cli zstd python3 awk; do
    command -v "$tool" >/dev/null || die "'$tool' is missing"
done

servers_trap
if [[ -n ${BENCH_DIR:-} ]]; then
    mkdir -p "$BENCH_DIR"
    base=$(cd "$BENCH_DIR" && pwd)
else
    base=""
    make_tmpdir base
fi
work=$base/work
rm -rf "$work"
mkdir -p "$work"
at_exit rm -rf -- "$work"

# The dataset: generated and loaded once, then kept as an RDB in BENCH_DIR for the next run.
marker=$base/dataset.target_bytes
server_args=(--repl-diskless-sync yes --repl-diskless-sync-delay 0)
if [[ -f $base/dataset.rdb && $(cat "$marker" 2>/dev/null || true) == "$target_bytes" ]]; then
    say "loading the dataset kept in $base/dataset.rdb"
    redis_start_from_rdb "$work/redis" "$base/dataset.rdb" "${server_args[@]}"
    port=$REDIS_PORT
else
    say "generating a ~$((target_bytes / 1000000)) MB Mastodon-shaped dataset"
    redis_start "$work/redis" "${server_args[@]}"
    port=$REDIS_PORT
    python3 "$root/tests/lib/redis_dataset.py" --target-bytes "$target_bytes" >"$work/dataset.resp"
    redis_load "$port" "$work/dataset.resp" || die "loading the dataset failed"
    rm -f "$work/dataset.resp"
    rm -f "$marker"
    rcli "$port" --rdb "$base/dataset.rdb" >/dev/null 2>&1 || die "saving the dataset failed"
    echo "$target_bytes" >"$marker"
fi
used=$(redis_info_field "$port" used_memory)
keys=$(redis_keyspace "$port" | awk '{ split($2, a, "="); n += a[2] } END { print n }')
((used >= target_bytes * 8 / 10)) || say "note: used_memory is only $((used / 1048576)) MB"
say "redis-server on 127.0.0.1:$port: used_memory $((used / 1048576)) MB, $keys keys"

cat >"$work/bench.conf" <<EOF
[global]
state_dir = $work/state

[store "local"]
type = local
path = $work/store

[job "cache"]
kind = redis
url = redis://127.0.0.1:$port
method = sync
targets = local
keep = last 1
EOF

now()
{
    date +%s.%N
}

# measure NAME CMD...: runs CMD under /usr/bin/time; appends "NAME wall maxrss_kb" to results.
measure()
{
    local name=$1 t0 t1 rss
    shift
    sync
    t0=$(now)
    /usr/bin/time -f '%M' -o "$work/time.out" "$@"
    t1=$(now)
    rss=$(tail -n 1 "$work/time.out")
    printf '%s %s %s\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
        "$rss" >>"$work/results"
}

# Runs permafrost under /usr/bin/time, whose %M is permafrost's own peak RSS (it is the only process:
# no sampler beside it, which on 2 cores would take CPU from the run it measures); appends "D ..."
# and "D-own 0 rss_kb".
measure_permafrost()
{
    measure D "$PERMAFROST" -c "$work/bench.conf" -q run cache >"$work/pf.out" 2>"$work/pf.err" || {
        cat "$work/pf.err" >&2
        die "permafrost run failed"
    }
    printf 'D-own 0 %s\n' "$(tail -n 1 "$work/time.out")" >>"$work/results"
}

file_size()
{
    stat -c %s "$1"
}

say "warm-up: redis-cli --rdb"
redis-cli -p "$port" --rdb "$work/warm.rdb" >/dev/null 2>&1 || die "redis-cli --rdb failed"
rdb_bytes=$(file_size "$work/warm.rdb")
rm -f "$work/warm.rdb"

: >"$work/results"
: >"$work/sizes"
for ((r = 1; r <= runs; r++)); do
    say "run $r of $runs: A (redis-cli --rdb FILE)"
    measure A redis-cli -p "$port" --rdb "$work/a.rdb" >/dev/null 2>"$work/a.err" ||
        die "redis-cli --rdb failed: $(cat "$work/a.err")"
    echo "A $(file_size "$work/a.rdb")" >>"$work/sizes"
    rm -f "$work/a.rdb"

    say "run $r of $runs: B (redis-cli --rdb - | zstd -3 -T0)"
    # shellcheck disable=SC2016 # expanded by the inner bash
    measure B bash -c 'set -o pipefail; redis-cli -p "$1" --rdb - 2>/dev/null | zstd -3 -T0 -q -f -o "$2"' \
        bench "$port" "$work/b.rdb.zst"
    echo "B $(file_size "$work/b.rdb.zst")" >>"$work/sizes"
    rm -f "$work/b.rdb.zst"

    say "run $r of $runs: D (permafrost run)"
    measure_permafrost
    artifact=$(find "$work/store/cache" -name 'dump.rdb.zst' -newer "$work/bench.conf" \
        -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
    [[ -n $artifact ]] || die "no artifact found in $work/store/cache"
    echo "D $(file_size "$artifact")" >>"$work/sizes"
done

pf_version=$("$PERMAFROST" version 2>/dev/null | head -n 1 || echo '?')
python3 - "$work/results" "$work/sizes" "$runs" "$used" "$keys" "$rdb_bytes" "$pf_version" \
    "$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$(redis-server --version | sed -E 's/.*v=([0-9.]+).*/redis-server \1/')" \
    "$(zstd --version | sed -E 's/.*(v[0-9.]+).*/zstd \1/')" "${BENCH_STRICT:-0}" <<'PY'
import statistics, sys, time
(results, sizes, runs, used, keys, rdb_bytes, pf_version, ncpu, cpu, redisv, zstdv,
 strict) = sys.argv[1:13]
wall, rss, size = {}, {}, {}
for line in open(results):
    name, w, r = line.split()
    wall.setdefault(name, []).append(float(w))
    rss.setdefault(name, []).append(int(r))
for line in open(sizes):
    name, s = line.split()
    size.setdefault(name, []).append(int(s))
med = statistics.median
MB = 1048576.0

rows = [
    ("A", "A `redis-cli --rdb FILE`"),
    ("B", "B `redis-cli --rdb - \\| zstd -3 -T0 > FILE`"),
    ("D", "D `permafrost run` to a local store (sync, default zstd:1)"),
]
checks = []
d_a = med(wall["D"]) / med(wall["A"])
d_b = med(wall["D"]) / med(wall["B"])
size_diff = (med(size["D"]) - med(size["B"])) / med(size["B"])
own = max(rss["D-own"]) / 1024.0
targets = [
    ("permafrost / `redis-cli --rdb`, wall time <= 1.1", "%.2f" % d_a, d_a <= 1.10),
    ("permafrost / `redis-cli --rdb - \\| zstd`, wall time <= 1.1", "%.2f" % d_b, d_b <= 1.10),
    ("size no more than 5% above `redis-cli --rdb - \\| zstd -3`", "%+.1f%%" % (100 * size_diff),
     size_diff <= 0.05),
    ("permafrost's own peak RSS <= 64 MB", "%.1f MB" % own, own <= 64),
]

out = []
out.append("### Run: %s" % time.strftime("%Y-%m-%d %H:%M"))
out.append("")
out.append("Machine: %s CPUs, %s. Versions: %s; %s; %s." % (ncpu, cpu, redisv, zstdv, pf_version))
out.append("Dataset: `tests/lib/redis_dataset.py`, used_memory %.0f MB, %s keys, RDB %.0f MB; "
           "repl-diskless-sync yes, delay 0; median of %s runs, interleaved." %
           (int(used) / MB, keys, int(rdb_bytes) / MB, runs))
out.append("")
out.append("| variant | wall s | size MB | peak RSS MB |")
out.append("|---|---:|---:|---:|")
for key, label in rows:
    r = "%.1f" % (max(rss[key]) / 1024.0)
    if key == "D":
        r = "%.1f (permafrost)" % own
    elif key == "B":
        r += " (largest of redis-cli, zstd)"
    out.append("| %s | %.2f | %.1f | %s |" % (label, med(wall[key]), med(size[key]) / MB, r))
out.append("")
out.append("| target | measured | |")
out.append("|---|---:|---|")
for label, value, ok in targets:
    checks.append(ok)
    out.append("| %s | %s | %s |" % (label, value, "met" if ok else "MISSED"))
print()
print("\n".join(out))
print()
print("bench: %d of %d targets met" % (sum(checks), len(checks)))
if strict == "1" and not all(checks):
    sys.exit(1)
PY
