#!/usr/bin/env bash
# Benchmark (not a test): age encryption and decryption throughput of Permafrost's io/age.c (through
# tests/tools/age_tool) against Debian's `age` on the same 1 GiB file of random bytes, each pinned
# to one core (`taskset -c 0`), output to /dev/null:
#
#   enc  age_tool encrypt -r R      vs  age -r R
#   dec  age_tool decrypt -i KEY    vs  age -d -i KEY      (both read the file age_tool wrote)
#
# Each is run BENCH_RUNS times, interleaved; the table shows the median wall time, the throughput
# in MB/s (10^6 bytes of plaintext per second), CPU time (user + system), throughput per CPU second
# (steadier than wall time on a shared machine) and the largest peak RSS (/usr/bin/time %M), then
# age_tool / age ratios. Before timing, the file written by age_tool is decrypted by `age` and by
# age_tool, and a file written by `age` by age_tool, and each SHA-256 compared with the plaintext's
# (BENCH_SIZE_MB=4096 makes this the multi-GB interoperability check).
# Target: age_tool encrypts at >= 500 MB/s on one core.
#
# Environment:
#   AGE_TOOL       binary (default build/tests/tools/age_tool; use a release-like build, not ASan)
#   BENCH_SIZE_MB  file size in MiB (default 1024)
#   BENCH_RUNS     repetitions (default 3)
#   BENCH_DIR      where the plaintext and the ciphertext go (default /dev/shm, a tmpfs, so the disk
#                  is not measured; /tmp on this machine is on disk); files are removed at exit
#   BENCH_STRICT=1 exit 1 when the target is missed
# Needs age (Debian's package), GNU time (/usr/bin/time), taskset (util-linux).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AGE_TOOL=${AGE_TOOL:-$root/build/tests/tools/age_tool}
size_mb=${BENCH_SIZE_MB:-1024}
runs=${BENCH_RUNS:-3}
base=${BENCH_DIR:-/dev/shm}
target_mbps=500

die()
{
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

say()
{
    printf 'bench: %s\n' "$*" >&2
}

[[ -x $AGE_TOOL ]] || die "'$AGE_TOOL' not found: build it first (make build), or set AGE_TOOL"
command -v age >/dev/null || die "age not found (apt-get install age)"
[[ -x /usr/bin/time ]] || die "GNU time not found (apt-get install time)"
command -v taskset >/dev/null || die "taskset not found (util-linux)"
[[ -d $base ]] || base=/tmp

work=$(mktemp -d "$base/bench-age.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

bytes=$((size_mb * 1024 * 1024))
say "writing $size_mb MiB of random bytes to $work"
head -c "$bytes" /dev/urandom >"$work/plain"
age-keygen -o "$work/key" 2>/dev/null
recipient=$(age-keygen -y "$work/key")
plain_sha=$(sha256sum <"$work/plain" | cut -d' ' -f1)

say "checking interoperability on the benchmark file"
"$AGE_TOOL" encrypt -r "$recipient" <"$work/plain" >"$work/cipher"
[[ $(age -d -i "$work/key" "$work/cipher" | sha256sum | cut -d' ' -f1) == "$plain_sha" ]] ||
    die "age -d does not give back the plaintext from age_tool's file"
[[ $("$AGE_TOOL" decrypt -i "$work/key" <"$work/cipher" | sha256sum | cut -d' ' -f1) == "$plain_sha" ]] ||
    die "age_tool decrypt does not give back the plaintext"
# and the other way: a file `age` wrote, read by age_tool (streamed, so any size fits)
[[ $(age -r "$recipient" <"$work/plain" | "$AGE_TOOL" decrypt -i "$work/key" | sha256sum |
    cut -d' ' -f1) == "$plain_sha" ]] ||
    die "age_tool decrypt does not give back the plaintext of age's file"
say "interoperability: both directions give back the $size_mb MiB plaintext (sha256)"

# One timed run: appends "wall cpu rss_kb" to $work/$1.times.
timed()
{
    local name=$1 input=$2
    shift 2
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S %M' -o "$work/time.out" taskset -c 0 "$@" <"$input" >/dev/null ||
        die "$name failed"
    end=$(date +%s.%N)
    read -r user sys rss <"$work/time.out"
    printf '%s %s %s\n' "$(echo "$end - $start" | bc -l)" "$(echo "$user + $sys" | bc -l)" "$rss" \
        >>"$work/$name.times"
}

for ((i = 1; i <= runs; i++)); do
    say "run $i of $runs"
    timed tool_enc "$work/plain" "$AGE_TOOL" encrypt -r "$recipient"
    timed age_enc "$work/plain" age -r "$recipient"
    timed tool_dec "$work/cipher" "$AGE_TOOL" decrypt -i "$work/key"
    timed age_dec "$work/cipher" age -d -i "$work/key"
done

# name -> "median_wall median_cpu max_rss_kb"
summary()
{
    sort -n "$work/$1.times" | awk '{w[NR]=$1; c[NR]=$2; if ($3 > r) r = $3}
        END {m = int((NR + 1) / 2); printf "%s %s %d\n", w[m], c[m], r}'
}

mbps()
{
    echo "$bytes / 1000000 / $1" | bc -l
}

printf '\nage, %d MiB of random bytes, one core (taskset -c 0), median of %d runs, output to /dev/null\n' \
    "$size_mb" "$runs"
printf '%-28s %9s %9s %9s %11s %10s\n' "" "wall s" "MB/s" "cpu s" "MB/cpu-s" "peak RSS"
declare -A rate cpu_rate
for name in tool_enc age_enc tool_dec age_dec; do
    read -r wall cpu rss <<<"$(summary "$name")"
    rate[$name]=$(mbps "$wall")
    cpu_rate[$name]=$(mbps "$cpu")
    case $name in
    tool_enc) label="age_tool encrypt" ;;
    age_enc) label="age -r (1.1.1) encrypt" ;;
    tool_dec) label="age_tool decrypt" ;;
    age_dec) label="age -d (1.1.1) decrypt" ;;
    esac
    printf '%-28s %9.2f %9.0f %9.2f %11.0f %7d MB\n' "$label" "$wall" "${rate[$name]}" "$cpu" \
        "${cpu_rate[$name]}" $((rss / 1024))
done
enc_ratio=$(echo "${rate[tool_enc]} / ${rate[age_enc]}" | bc -l)
dec_ratio=$(echo "${rate[tool_dec]} / ${rate[age_dec]}" | bc -l)
printf '\nage_tool / age throughput: encrypt %.2f, decrypt %.2f (per CPU second: %.2f, %.2f)\n' \
    "$enc_ratio" "$dec_ratio" "$(echo "${cpu_rate[tool_enc]} / ${cpu_rate[age_enc]}" | bc -l)" \
    "$(echo "${cpu_rate[tool_dec]} / ${cpu_rate[age_dec]}" | bc -l)"
printf 'load average now: %s (wall times are only comparable on a quiet machine)\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
if (($(echo "${rate[tool_enc]} >= $target_mbps" | bc -l))); then
    printf 'target: encrypt >= %d MB/s on one core: met (%.0f MB/s)\n' "$target_mbps" "${rate[tool_enc]}"
else
    printf 'target: encrypt >= %d MB/s on one core: MISSED (%.0f MB/s)\n' "$target_mbps" "${rate[tool_enc]}"
    [[ ${BENCH_STRICT:-0} == 1 ]] && exit 1
fi
exit 0
