#!/usr/bin/env bash
# Benchmark (not a test): upload one 2 GiB file of random bytes to Ceph radosgw on 127.0.0.1 with
# Permafrost and with the tools operators use today, in the same run, against the same server:
#
#   P    permafrost store put         multipart, part_size 16 MiB, concurrency 4
#   R    rclone copyto                its defaults: --s3-chunk-size 5M --s3-upload-concurrency 4
#   R16  rclone copyto                --s3-chunk-size 16M --s3-upload-concurrency 4 (Permafrost's
#                                     part size and parts in flight: the like-for-like comparison)
#   S    s3cmd put                    its defaults: multipart, 15 MB chunks, one part at a time
#
# Each is run BENCH_RUNS times, interleaved (P R R16 S, P R R16 S, ...), to a new key each time;
# after each upload the object's size is checked with `rclone lsjson` and the object is deleted
# (the OSD's sparse block file is 20 GiB). On the first run Permafrost's object is downloaded with
# `rclone cat` and its SHA-256 compared with the file's (a multipart ETag is not an MD5).
# The table shows the median wall time and throughput, the client's CPU time (user + system) and
# the largest peak RSS (/usr/bin/time %M: each client is one process), then the targets:
#   permafrost / rclone (R16) throughput >= 1.0 (R, rclone's defaults, is shown as well), and
#   permafrost's peak RSS <= (concurrency + 1) x part_size + 32 MB.
# The server runs on the same machine, so client and server share its CPUs: the load average
# before and after is printed, and the numbers are for comparing tools within one run.
#
# Environment:
#   PERMAFROST     binary (default build/permafrost; use a release-like build, not ASan)
#   BENCH_SIZE_MB  file size in MiB (default 2048)
#   BENCH_RUNS     repetitions (default 3)
#   BENCH_DIR      keep the generated file here and reuse it next time (default: a temporary
#                  directory, removed at exit); the Ceph cluster always lives in a temporary
#                  directory under it and is stopped (only its own PIDs) at exit
#   BENCH_STRICT=1 exit 1 when a target is missed
# Needs root and the packages of tests/lib/ceph.sh (radosgw ceph-mon ceph-osd ceph-common), rclone,
# s3cmd, python3 and GNU time (/usr/bin/time, package 'time').
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
SERVERS_LOG_PREFIX=bench

PERMAFROST=${PERMAFROST:-$root/build/permafrost}
size_mb=${BENCH_SIZE_MB:-2048}
runs=${BENCH_RUNS:-3}
part_mib=16
concurrency=4

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
[[ $(id -u) == 0 ]] || die "run as root: Ceph's daemons are started by tests/lib/ceph.sh"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number"
[[ $size_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive number"
for tool in rclone s3cmd python3 sha256sum radosgw curl; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (tools/install-deps.sh)"
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
chmod 0700 "$work"
at_exit rm -rf -- "$work"

src=$base/upload.bin
marker=$base/upload.size_mb
if [[ $(cat "$marker" 2>/dev/null || true) != "$size_mb" ]] || [[ ! -f $src ]]; then
    say "writing $size_mb MiB of random bytes to $src (once per BENCH_DIR)"
    rm -f "$marker"
    head -c "$((size_mb * 1048576))" /dev/urandom >"$src.tmp"
    mv "$src.tmp" "$src"
    echo "$size_mb" >"$marker"
fi
src_bytes=$(stat -c %s "$src")
((src_bytes == size_mb * 1048576)) || die "$src holds $src_bytes bytes, expected $((size_mb * 1048576))"

# Our own server, even when the environment names one (s3_use_or_start would reuse it).
unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_CEPH_DIR
say "starting Ceph radosgw (about 15 s)"
s3_use_or_start "$work/ceph"
bucket=$(s3_new_bucket bench)
say "radosgw at $S3_ENDPOINT, bucket '$bucket'"
# What s3_rclone and s3_s3cmd run, as commands /usr/bin/time can start (env execs the tool, so the
# measured process is the tool itself).
rclone_cmd=(env -u AWS_CA_BUNDLE rclone --config "$S3_RCLONE_CONF")
s3cmd_cmd=(env -u AWS_CA_BUNDLE s3cmd -c "$S3_S3CMD_CONF")

cat >"$work/bench.conf" <<EOF
[global]
state_dir = $work/state

[store "s3"]
type = s3
endpoint = $S3_ENDPOINT
region = $S3_REGION
bucket = $bucket
access_key = env:S3_ACCESS_KEY
secret_key = env:S3_SECRET_KEY
part_size = ${part_mib}MiB
concurrency = $concurrency
EOF

now()
{
    date +%s.%N
}

# object_size KEY: the size radosgw reports for KEY (via rclone, an independent client).
object_size()
{
    s3_rclone lsjson "s3:$bucket/$1" | python3 -c '
import json, sys
entries = json.load(sys.stdin)
print(entries[0]["Size"] if entries else -1)'
}

# measure NAME KEY CMD...: runs CMD under /usr/bin/time, checks the object's size and deletes it;
# appends "NAME wall_s cpu_s maxrss_kb" to the results.
measure()
{
    local name=$1 key=$2 t0 t1 got user sys rss rc=0
    shift 2
    sync
    t0=$(now)
    /usr/bin/time -f '%U %S %M' -o "$work/time.out" "$@" >"$work/cmd.out" 2>"$work/cmd.err" ||
        rc=$?
    t1=$(now)
    if ((rc != 0)); then
        cat "$work/cmd.err" >&2
        die "$name failed (exit $rc): $*"
    fi
    got=$(object_size "$key")
    [[ $got == "$src_bytes" ]] || die "$name: object '$key' has $got bytes, expected $src_bytes"
    if [[ $name == P && ! -e $work/verified ]]; then
        say "checking the SHA-256 of permafrost's object (downloaded by rclone)"
        [[ $(s3_rclone cat "s3:$bucket/$key" | sha256sum | cut -d' ' -f1) == "$src_sha" ]] ||
            die "permafrost's object '$key' differs from the file"
        touch "$work/verified"
    fi
    s3_rclone deletefile "s3:$bucket/$key"
    read -r user sys rss <"$work/time.out"
    printf '%s %s %s %s\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss" >>"$work/results"
}

say "reading the file once (page cache) and its SHA-256"
src_sha=$(sha256sum "$src" | cut -d' ' -f1)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

: >"$work/results"
for ((r = 1; r <= runs; r++)); do
    say "run $r of $runs: P (permafrost store put)"
    measure P "bench/pf-$r.bin" "$PERMAFROST" -q -c "$work/bench.conf" store put s3 \
        "bench/pf-$r.bin" "$src"

    say "run $r of $runs: R (rclone copyto, defaults)"
    measure R "bench/rclone-$r.bin" "${rclone_cmd[@]}" -q copyto "$src" "s3:$bucket/bench/rclone-$r.bin"

    say "run $r of $runs: R16 (rclone copyto --s3-chunk-size 16M --s3-upload-concurrency 4)"
    measure R16 "bench/rclone16-$r.bin" "${rclone_cmd[@]}" -q --s3-chunk-size 16M \
        --s3-upload-concurrency "$concurrency" copyto "$src" "s3:$bucket/bench/rclone16-$r.bin"

    say "run $r of $runs: S (s3cmd put)"
    measure S "bench/s3cmd-$r.bin" "${s3cmd_cmd[@]}" -q put "$src" "s3://$bucket/bench/s3cmd-$r.bin"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

pf_version=$("$PERMAFROST" version 2>/dev/null | head -n 1 || echo '?')
python3 - "$work/results" "$runs" "$src_bytes" "$part_mib" "$concurrency" "$pf_version" \
    "$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$(rclone version 2>/dev/null | head -n 1)" "$(s3cmd --version 2>/dev/null)" \
    "$(radosgw --version 2>/dev/null | sed -E 's/ \(.*//')" "$load_before" "$load_after" \
    "${BENCH_STRICT:-0}" <<'PY'
import statistics, sys
(results, runs, src_bytes, part_mib, concurrency, pf_version, ncpu, cpu, rclonev, s3cmdv, rgwv,
 load_before, load_after, strict) = sys.argv[1:15]
wall, cpu_s, rss = {}, {}, {}
for line in open(results):
    name, w, c, r = line.split()
    wall.setdefault(name, []).append(float(w))
    cpu_s.setdefault(name, []).append(float(c))
    rss.setdefault(name, []).append(int(r))
med = statistics.median
MiB = 1048576.0
size = int(src_bytes)
tput = lambda k: size / MiB / med(wall[k])

print()
print("Permafrost S3 upload benchmark")
print("  machine     %s CPUs, %s" % (ncpu, cpu))
print("  versions    %s; %s; %s; %s" % (pf_version, rclonev, s3cmdv, rgwv))
print("  upload      %.0f MiB of random bytes, median of %s runs" % (size / MiB, runs))
print("  load avg    before %s, after %s" % (load_before, load_after))
print()
rows = [
    ("P", "permafrost store put (16 MiB x 4)"),
    ("R", "rclone copyto (defaults: 5 MiB x 4)"),
    ("R16", "rclone copyto (16 MiB x 4)"),
    ("S", "s3cmd put (defaults: 15 MB x 1)"),
]
print("| %-36s | %8s | %8s | %10s | %12s |" % ("client", "wall s", "MiB/s", "CPU s", "peak RSS MiB"))
print("|%s|%s|%s|%s|%s|" % ("-" * 38, "-" * 10, "-" * 10, "-" * 12, "-" * 14))
for key, label in rows:
    print("| %-36s | %8.2f | %8.1f | %10.2f | %12.1f |"
          % (label, med(wall[key]), tput(key), med(cpu_s[key]), max(rss[key]) / 1024.0))
print()
print("  wall s per run: " + "; ".join("%s %s" % (k, " ".join("%.2f" % w for w in wall[k]))
                                      for k, _ in rows))
print()

checks = []
def check(label, value, ok, target):
    checks.append(ok)
    print("  %-46s %9s   target %-9s %s" % (label, value, target, "met" if ok else "MISSED"))

r16 = tput("P") / tput("R16")
rdef = tput("P") / tput("R")
bound_mb = ((int(concurrency) + 1) * int(part_mib) * MiB + 32e6) / MiB
own = max(rss["P"]) / 1024.0
check("permafrost / rclone (16 MiB x 4) throughput", "%.2f" % r16, r16 >= 1.0, ">= 1.0")
check("permafrost / rclone (defaults) throughput", "%.2f" % rdef, rdef >= 1.0, ">= 1.0")
check("permafrost peak RSS", "%.1f MiB" % own, own <= bound_mb, "<= %.1f MiB" % bound_mb)
print("  (RSS bound: (concurrency %s + 1) x part_size %s MiB + 32 MB)" % (concurrency, part_mib))
print()
print("bench: %d of %d targets met" % (sum(checks), len(checks)))
if strict == "1" and not all(checks):
    sys.exit(1)
PY
