#!/usr/bin/env bash
# Benchmark (not a test): a PostgreSQL snapshot with Permafrost against the ways operators take one
# today, on a >= 1 GB Mastodon-shaped database on a throwaway PostgreSQL 15.
#
#   A  pg_dump -Fc                       > file   (pg_dump's default gzip: what most scripts do)
#   B  pg_dump -Fc -Z0 | zstd -3 -T0     > file   (the fast pipeline Permafrost builds on)
#   C  pg_dump -Fc -Z0                   > /dev/null   (the floor: pg_dump and the server alone)
#   D  permafrost run                    to a local store (zstd:3, all cores)
#   E  permafrost run, encrypted         the same, with `encrypt = age1...` (zstd:3, then age)
#
# Each is run BENCH_RUNS times, interleaved (A B C D E, A B C E D, ...), after one warm-up dump; the
# table shows the median wall time, the output size and the peak RSS, then the targets:
# D/B wall <= 1.10, D/A wall <= 0.30, D size within 5% of A, Permafrost's own peak RSS <= 64 MB
# (D and E), and the overhead of encryption E/D wall <= 1.10.
# Peak RSS: /usr/bin/time's %M is the largest process of the tree (for D that is usually pg_dump);
# Permafrost's own peak is the peak_rss_kb of its `run --json` report (getrusage, RUSAGE_SELF).
#
# Environment:
#   PERMAFROST     binary (default build/permafrost)
#   BENCH_SIZE_MB  database size to generate (default 1600, i.e. ~1.6 GB)
#   BENCH_RUNS     repetitions (default 3)
#   BENCH_DIR      keep the cluster and the generated database here and reuse them next time
#                  (default: a temporary directory, removed at exit; generating 1.6 GB takes ~2 min)
#   BENCH_STRICT=1 exit 1 when a target is missed
#   BENCH_AGE=0    leave out E (the encrypted variant); E's recipient is made with `permafrost
#                  keygen` on each run of the script
# Needs root (initdb runs as 'postgres'), zstd, python3 and GNU time (/usr/bin/time, package 'time').
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
SERVERS_LOG_PREFIX=bench

PERMAFROST=${PERMAFROST:-$root/build/permafrost}
size_mb=${BENCH_SIZE_MB:-1600}
runs=${BENCH_RUNS:-3}
with_age=${BENCH_AGE:-1}

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
[[ $(id -u) == 0 ]] || die "run as root: PostgreSQL's initdb runs as the 'postgres' user"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number"
for tool in zstd python3 awk; do
    command -v "$tool" >/dev/null || die "'$tool' is missing"
done

servers_trap
if [[ -n ${BENCH_DIR:-} ]]; then
    mkdir -p "$BENCH_DIR"
    chmod 0711 "$BENCH_DIR"
    base=$(cd "$BENCH_DIR" && pwd)
else
    base=""
    make_tmpdir base
fi
work=$base/work
rm -rf "$work"
mkdir -p "$work"
at_exit rm -rf -- "$work"

say "PostgreSQL 15 in $base/pg"
pg_start "$base/pg"
conninfo=$(pg_conninfo mastodon_production)
export PGPASSWORD=$DB_PASS

marker=$base/generated.size_mb
if [[ $(cat "$marker" 2>/dev/null || true) != "$size_mb" ]]; then
    say "generating a ~$size_mb MB Mastodon-shaped database (once per BENCH_DIR)"
    "$root/tools/gen-mastodon-db.sh" --replace --size-mb "$size_mb" "$conninfo"
    echo "$size_mb" >"$marker"
fi
db_bytes=$(psql_su -At -c "SELECT pg_database_size('mastodon_production')")
((db_bytes >= 1000000000)) || say "note: the database is only $((db_bytes / 1048576)) MB (< 1 GB)"

cat >"$work/bench.conf" <<EOF
[global]
state_dir = $work/state

[store "local"]
type = local
path = $work/store

[job "db"]
kind = postgres
database = $conninfo
password = env:PGPASSWORD
targets = local
keep = last 1
compression = zstd:3
pg_dump = $PG_BIN/pg_dump
EOF
if [[ $with_age == 1 ]]; then
    # The same job with encryption: same database, same store, same compression.
    recipient=$("$PERMAFROST" keygen -o "$work/age-identity.txt") || die "permafrost keygen failed"
    cat >>"$work/bench.conf" <<EOF

[job "dbage"]
kind = postgres
database = $conninfo
password = env:PGPASSWORD
targets = local
keep = last 1
compression = zstd:3
pg_dump = $PG_BIN/pg_dump
encrypt = $recipient
EOF
fi

pg_dump_cmd=("$PG_BIN/pg_dump" -d "$conninfo" -Fc)

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

# measure_permafrost NAME JOB: runs permafrost's JOB; appends "NAME wall maxrss_kb" (the tree's
# largest process, as /usr/bin/time sees it) and "NAME-own 0 peak_kb" (permafrost's own peak RSS,
# from getrusage in its `run --json` report: no sampler competing for the CPU).
measure_permafrost()
{
    local name=$1 job=$2 t0 t1 own rc=0
    sync
    t0=$(now)
    /usr/bin/time -f '%M' -o "$work/time.out" "$PERMAFROST" -c "$work/bench.conf" --json run \
        "$job" >"$work/pf.out" 2>"$work/pf.err" || rc=$?
    t1=$(now)
    if ((rc != 0)); then
        cat "$work/pf.err" >&2
        die "permafrost run failed (exit $rc)"
    fi
    own=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
jobs = d["jobs"] if isinstance(d, dict) and "jobs" in d else (d if isinstance(d, list) else [d])
print(max(j["peak_rss_kb"] for j in jobs))
' "$work/pf.out") || die "no peak_rss_kb in permafrost's --json report"
    printf '%s %s %s\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
        "$(tail -n 1 "$work/time.out")" >>"$work/results"
    printf '%s-own 0 %s\n' "$name" "$own" >>"$work/results"
}

# newest_artifact JOB NAME: the newest file NAME among JOB's snapshots in the store.
newest_artifact()
{
    find "$work/store/$1" -name "$2" -newer "$work/bench.conf" -printf '%T@ %p\n' | sort -n |
        tail -n 1 | cut -d' ' -f2-
}

file_size()
{
    stat -c %s "$1"
}

run_d()
{
    say "run $1 of $runs: D (permafrost run)"
    measure_permafrost D db
    artifact=$(newest_artifact db mastodon_production.dump.zst)
    [[ -n $artifact ]] || die "no artifact found in $work/store/db"
    echo "D $(file_size "$artifact")" >>"$work/sizes"
}

run_e()
{
    say "run $1 of $runs: E (permafrost run, encrypted)"
    measure_permafrost E dbage
    artifact=$(newest_artifact dbage mastodon_production.dump.zst.age)
    [[ -n $artifact ]] || die "no encrypted artifact found in $work/store/dbage"
    [[ $(head -c 21 "$artifact") == age-encryption.org/v1 ]] || die "$artifact is not an age file"
    echo "E $(file_size "$artifact")" >>"$work/sizes"
}

say "warm-up: pg_dump -Fc -Z0 > /dev/null (loads the database into the page cache)"
"${pg_dump_cmd[@]}" -Z0 >/dev/null

: >"$work/results"
: >"$work/sizes"
for ((r = 1; r <= runs; r++)); do
    say "run $r of $runs: A (pg_dump -Fc)"
    measure A "${pg_dump_cmd[@]}" -f "$work/a.dump"
    echo "A $(file_size "$work/a.dump")" >>"$work/sizes"
    rm -f "$work/a.dump"

    say "run $r of $runs: B (pg_dump -Fc -Z0 | zstd -3 -T0)"
    # shellcheck disable=SC2016 # expanded by the inner bash
    measure B bash -c 'set -o pipefail; out=$1; shift; "$@" -Z0 | zstd -3 -T0 -q -f -o "$out"' \
        bench "$work/b.dump.zst" "${pg_dump_cmd[@]}"
    echo "B $(file_size "$work/b.dump.zst")" >>"$work/sizes"
    rm -f "$work/b.dump.zst"

    say "run $r of $runs: C (pg_dump -Fc -Z0 > /dev/null)"
    measure C bash -c '"$@" -Z0 >/dev/null' bench "${pg_dump_cmd[@]}"

    # D and E swap places every other run, so that neither always follows the other.
    if [[ $with_age == 1 ]] && ((r % 2 == 0)); then
        run_e "$r"
        run_d "$r"
    else
        run_d "$r"
        if [[ $with_age == 1 ]]; then
            run_e "$r"
        fi
    fi
done
raw_bytes=$(python3 -c '
import glob, json, os, sys
ms = sorted(glob.glob(sys.argv[1] + "/*/manifest.json"), key=os.path.getmtime)
m = json.load(open(ms[-1]))
print(sum(a.get("raw_bytes", 0) for a in m["artifacts"]))
' "$work/store/db" 2>/dev/null || echo 0)

pf_version=$("$PERMAFROST" version 2>/dev/null | head -n 1 || echo '?')
python3 - "$work/results" "$work/sizes" "$runs" "$db_bytes" "$raw_bytes" "$pf_version" \
    "$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$("$PG_BIN/pg_dump" --version)" "$(zstd --version | sed -E 's/.*(v[0-9.]+).*/zstd \1/')" \
    "${BENCH_STRICT:-0}" <<'PY'
import statistics, sys
results, sizes, runs, db_bytes, raw_bytes, pf_version, ncpu, cpu, pgv, zstdv, strict = sys.argv[1:12]
wall, rss, size = {}, {}, {}
for line in open(results):
    name, w, r = line.split()
    wall.setdefault(name, []).append(float(w))
    rss.setdefault(name, []).append(int(r))
for line in open(sizes):
    name, s = line.split()
    size.setdefault(name, []).append(int(s))
med = lambda xs: statistics.median(xs)
MB = 1048576.0

print()
print("Permafrost PostgreSQL snapshot benchmark")
print("  machine     %s CPUs, %s" % (ncpu, cpu))
print("  versions    %s; %s; %s" % (pgv, zstdv, pf_version))
print("  database    %.0f MB (pg_database_size), raw custom dump %.0f MB, median of %s runs"
      % (int(db_bytes) / MB, int(raw_bytes) / MB, runs))
print()
rows = [
    ("A", "pg_dump -Fc (gzip, default)"),
    ("B", "pg_dump -Fc -Z0 \\| zstd -3 -T0"),
    ("C", "pg_dump -Fc -Z0 > /dev/null"),
    ("D", "permafrost run (zstd:3)"),
    ("E", "permafrost run (zstd:3, age)"),
]
print("| %-32s | %8s | %9s | %-30s |" % ("variant", "wall s", "size MB", "peak RSS MB"))
print("|%s|%s|%s|%s|" % ("-" * 34, "-" * 10, "-" * 11, "-" * 32))
for key, label in rows:
    if key not in wall:
        continue
    s = ("%9.1f" % (med(size[key]) / MB)) if key in size else "%9s" % "-"
    r = "%.1f" % (max(rss[key]) / 1024.0)
    if key in ("D", "E"):
        r = "%.1f own (%s with pg_dump)" % (max(rss[key + "-own"]) / 1024.0, r)
    print("| %-32s | %8.2f | %s | %-30s |" % (label, med(wall[key]), s, r))
print()

checks = []
def check(label, value, ok, target):
    checks.append(ok)
    print("  %-44s %8s   target %-8s %s" % (label, value, target, "met" if ok else "MISSED"))

d_b = med(wall["D"]) / med(wall["B"])
d_a = med(wall["D"]) / med(wall["A"])
size_diff = (med(size["D"]) - med(size["A"])) / med(size["A"])
own = max(rss["D-own"] + rss.get("E-own", [])) / 1024.0
check("permafrost / zstd pipe, wall time", "%.2f" % d_b, d_b <= 1.10, "<= 1.10")
check("permafrost / pg_dump -Fc, wall time", "%.2f" % d_a, d_a <= 0.30, "<= 0.30")
check("permafrost size vs pg_dump -Fc", "%+.1f%%" % (100 * size_diff), size_diff <= 0.05,
      "<= +5%")
check("permafrost's own peak RSS (getrusage)", "%.1f MB" % own, own <= 64, "<= 64 MB")
if "E" in wall:
    e_d = med(wall["E"]) / med(wall["D"])
    check("encrypted / unencrypted permafrost, wall", "%.2f" % e_d, e_d <= 1.10, "<= 1.10")
    e_size = (med(size["E"]) - med(size["D"])) / med(size["D"])
    print("  %-44s %8s" % ("encrypted size vs unencrypted", "%+.3f%%" % (100 * e_size)))
print()
print("bench: %d of %d targets met" % (sum(checks), len(checks)))
if strict == "1" and not all(checks):
    sys.exit(1)
PY
