#!/usr/bin/env bash
# Benchmark (not a test): mirror a Mastodon-shaped media bucket with Permafrost and with rclone, in
# the same run, against the same Ceph radosgw servers on 127.0.0.1:
#
#   P  permafrost run media --json    a `kind = mirror` job (concurrency 64, the default)
#   R  rclone sync                    its defaults (--transfers 4 --checkers 8, size + modtime,
#                                     which costs a HEAD per object, per-directory listing)
#   T  rclone sync --fast-list --checksum --transfers 64 --checkers 64   (tuned)
#   A  (only when BENCH_TOOLS names it) P with `acl = public-read`, what Mastodon's media need,
#      instead of the default `copy` from an S3 source, which reads each copied object's ACL
#
# Data: a generator writes a local tree with Mastodon's layout (media_attachments/files/<id
# partition>/{original,small}/<hex>.jpg, accounts/avatars, accounts/headers, preview_cards/images,
# a few MB-sized videos, and a cache/ share of about 30%), mostly 10-200 KB, sliced out of a few
# random blobs; `rclone copy --transfers 32` uploads it once to the source bucket SRC0. SRC1 is a
# server-side copy of SRC0 with 1% of the objects added, 0.5% changed (same size, new bytes, newer
# mtime) and 0.5% deleted.
#
# Scenarios, for each tool, into a destination bucket of its own:
#   full     SRC0 -> empty destination
#   nochange SRC0 -> the destination the full copy left (nothing to do)
#   changed  SRC1 -> the same destination (1% added, 0.5% changed, 0.5% deleted)
# The tools are interleaved within each scenario (P R T). After `full` and `changed` the destination
# is compared with its source by `rclone check` (size and MD5); a difference stops the benchmark.
# Topologies: `two` (source on server A, destination on server B: no server-side copy possible) and
# `one` (both buckets on server A: server-side CopyObject).
#
# Memory: many zero-byte objects (Mastodon keys) uploaded to a source bucket and, identically, to a
# destination bucket (on server B when it runs), then a no-change sync between them, where both
# listings hold every key: peak RSS of permafrost against rclone --fast-list (the tuned flags), at
# two object counts (the second adds objects to the same buckets). Uploading the objects is what
# takes the time: radosgw served about 300 zero-byte PUTs per second on this 2-core machine.
#
# Reported: wall time (median of BENCH_RUNS), client CPU time, peak RSS (/usr/bin/time %M: each
# client is one process), rclone's time divided by permafrost's, and permafrost's requests by type
# from --json, then the targets:
#   full copy: permafrost >= 1.5x faster than tuned rclone;
#   no-change re-sync: >= 5x faster than default rclone and not slower than tuned rclone, with no
#     request beyond the LISTs;
#   peak RSS <= 1/10 of rclone --fast-list (at the largest count run) and constant in the count.
# Servers and clients share the machine's CPUs: the load average is printed with the results.
#
# Environment:
#   PERMAFROST          binary (default build/permafrost; a release-like build, not ASan)
#   BENCH_OBJECTS       objects in SRC0 (default 5000; BIG=1: 20000)
#   BIG=1               the larger sizes (BENCH_OBJECTS 20000, BENCH_MEM_COUNTS "200000 1000000")
#   BENCH_MEM_COUNTS    object counts of the memory scenario, ascending (default "20000 60000";
#                       "" skips it)
#   BENCH_TOPOLOGIES    "two one" (default), or one of them
#   BENCH_TOOLS         some of "P R T A" (default "P R T"; the others show as "not run")
#   BENCH_RUNS          repetitions of the three scenarios (default 1; the median is shown)
#   BENCH_DIR           keep the generated trees here and reuse them (default: a temporary
#                       directory); the Ceph clusters always live in a temporary directory
#   BENCH_REUSE_S3=1    use the radosgw servers described by the exported S3_* and S3B_* variables
#                       (tests/lib/s3.sh) instead of starting two
#   BENCH_STRICT=1      exit 1 when a target is missed
# Needs root and the packages of tests/lib/ceph.sh, rclone, python3 and GNU time (/usr/bin/time).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
SERVERS_LOG_PREFIX=bench

PERMAFROST=${PERMAFROST:-$root/build/permafrost}
if [[ ${BIG:-0} == 1 ]]; then
    objects=${BENCH_OBJECTS:-20000}
    mem_counts=${BENCH_MEM_COUNTS-200000 1000000}
else
    objects=${BENCH_OBJECTS:-5000}
    mem_counts=${BENCH_MEM_COUNTS-20000 60000}
fi
topologies=${BENCH_TOPOLOGIES:-two one}
runs=${BENCH_RUNS:-1}
tools=${BENCH_TOOLS:-P R T}
tuned=(--fast-list --checksum --transfers 64 --checkers 64)

die()
{
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

say()
{
    printf 'bench: %s\n' "$*" >&2
}

for t in $tools; do
    [[ $t == P || $t == R || $t == T || $t == A ]] || die "BENCH_TOOLS: P, R, T, A, not '$t'"
done
[[ " $tools " != *" P "* && " $tools " != *" A "* || -x $PERMAFROST ]] || die "'$PERMAFROST' not found: build it first (make build), or set PERMAFROST"
[[ $PERMAFROST == /* ]] || PERMAFROST=$PWD/$PERMAFROST
[[ $(id -u) == 0 ]] || die "run as root: Ceph's daemons are started by tests/lib/ceph.sh"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number"
if ! [[ $objects =~ ^[1-9][0-9]*$ ]] || ((objects < 200)); then
    die "BENCH_OBJECTS must be a number of at least 200"
fi
for c in $mem_counts; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || die "BENCH_MEM_COUNTS must hold positive numbers"
done
for t in $topologies; do
    [[ $t == one || $t == two ]] || die "BENCH_TOPOLOGIES: 'one' and/or 'two', not '$t'"
done
for tool in rclone python3 radosgw curl; do
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
mkdir -p "$work/out"
chmod 0700 "$work"
at_exit rm -rf -- "$work"

# gen_media DIR COUNT: the Mastodon-shaped trees (see the header) in DIR/tree0, DIR/add,
# DIR/change and DIR/delete.txt; deterministic, so BENCH_DIR can keep them.
gen_media()
{
    python3 - "$1" "$2" <<'PY'
import os, random, sys

out, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(4)
# A few distinct random blobs; objects are slices of them at random offsets.
BLOB = 16 << 20
blobs = [os.urandom(BLOB) for _ in range(4)]
T0 = 1700000000      # mtime of every object of tree0 and add/
T1 = T0 + 86400 * 30  # mtime of the changed objects (newer)

next_id = [109348000000000000]
def snowflake():
    next_id[0] += rng.randrange(1 << 16, 1 << 24)
    s = "%018d" % next_id[0]
    return "/".join(s[i:i + 3] for i in range(0, 18, 3))

def hexname(ext):
    return "%016x.%s" % (rng.getrandbits(64), ext)

def size(lo, hi):
    return rng.randint(lo * 1000, hi * 1000)

def entity():
    """One Mastodon upload: a list of (key, size)."""
    r = rng.random()
    if r < 0.004:   # a video: the original and its small preview image
        pid, name = snowflake(), hexname("mp4")
        return [("media_attachments/files/%s/original/%s" % (pid, name), size(1000, 8000)),
                ("media_attachments/files/%s/small/%s" % (pid, name[:-3] + "png"), size(10, 40))]
    if r < 0.55:    # an image attachment: original and small
        pid, name = snowflake(), hexname("jpg")
        return [("media_attachments/files/%s/original/%s" % (pid, name), size(50, 200)),
                ("media_attachments/files/%s/small/%s" % (pid, name), size(10, 40))]
    if r < 0.70:
        return [("accounts/avatars/%s/original/%s" % (snowflake(), hexname("png")), size(10, 100))]
    if r < 0.80:
        return [("accounts/headers/%s/original/%s" % (snowflake(), hexname("jpg")), size(50, 200))]
    return [("preview_cards/images/%s/original/%s" % (snowflake(), hexname("jpg")), size(10, 60))]

def objects(n):
    """n (key, size) pairs: about 30% under cache/ (remote media), the rest local uploads."""
    got = []
    while len(got) < n:
        cache = rng.random() < 0.30
        for key, sz in entity():
            got.append(("cache/" + key if cache else key, sz))
    return got[:n]

def write(root, key, sz, mtime):
    path = os.path.join(out, root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    b = blobs[rng.randrange(len(blobs))]
    off = rng.randrange(0, BLOB - sz)
    with open(path, "wb") as f:
        f.write(b[off:off + sz])
    os.utime(path, (mtime, mtime))

base = objects(count)
for key, sz in base:
    write("tree0", key, sz, T0)
n_add = max(1, count // 100)
n_change = max(1, count // 200)
n_delete = max(1, count // 200)
# Added objects are new uploads (later ids); changed and deleted ones are picked at random.
for key, sz in objects(n_add):
    write("add", key, sz, T0)
picked = rng.sample(range(len(base)), n_change + n_delete)
for i in picked[:n_change]:
    key, sz = base[i]
    write("change", key, sz, T1)   # same size, other bytes, newer mtime
with open(os.path.join(out, "delete.txt"), "w") as f:
    for i in sorted(picked[n_change:]):
        f.write(base[i][0] + "\n")
total = sum(sz for _, sz in base)
print("%d objects, %.1f MB; +%d added, %d changed, %d deleted" %
      (count, total / 1e6, n_add, n_change, n_delete))
PY
}

# gen_empty DIR FROM TO: zero-byte files for objects FROM..TO-1 of the memory scenario, with
# Mastodon keys (attachments original+small, avatars, preview cards; no cache/ distinction needed).
gen_empty()
{
    python3 - "$1" "$2" "$3" <<'PY'
import os, sys
out, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(lo, hi):
    n = i // 2
    s = "%018d" % (109348000000000000 + n * 7919 * 1000)
    part = "/".join(s[j:j + 3] for j in range(0, 18, 3))
    kind = n % 10
    if kind < 6:
        key = "media_attachments/files/%s/%s/%016x.jpg" % (part, ("original", "small")[i % 2],
                                                          (n * 2654435761) % (1 << 64))
    elif kind < 8:
        key = "accounts/avatars/%s/original/%016x.png.%d" % (part, (n * 40503) % (1 << 64), i % 2)
    else:
        key = "preview_cards/images/%s/original/%016x.jpg.%d" % (part, (n * 97) % (1 << 64), i % 2)
    path = os.path.join(out, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
PY
}

gen=$base/media-$objects
if [[ ! -e $gen/done ]]; then
    say "generating $objects Mastodon-shaped objects in $gen (once per BENCH_DIR)"
    rm -rf "$gen"
    mkdir -p "$gen"
    gen_media "$gen" "$objects" >"$gen/summary"
    touch "$gen/done"
fi
say "data: $(cat "$gen/summary")"

# The servers: two independent Ceph clusters (about 20 s each).
if [[ ${BENCH_REUSE_S3:-0} != 1 ]]; then
    unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_CEPH_DIR
    unset S3B_ENDPOINT S3B_ACCESS_KEY S3B_SECRET_KEY S3B_CEPH_DIR
fi
T=$work
say "starting Ceph radosgw A"
s3_use_or_start "$work/cephA"
if [[ " $topologies " == *" two "* ]]; then
    say "starting Ceph radosgw B"
    s3_start_second "$work/cephB"
fi
# rclone with the wrappers' remotes: s3: (server A) and s3b: (server B).
rclone_cmd=(env -u AWS_CA_BUNDLE rclone --config "$S3_RCLONE_CONF")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

src0=$(s3_new_bucket src0)
src1=$(s3_new_bucket src1)
say "uploading the source (rclone copy --transfers 32) to s3:$src0"
t0=$SECONDS
s3_rclone copy -q --transfers 32 --checkers 32 --no-check-dest "$gen/tree0" "s3:$src0"
say "uploaded in $((SECONDS - t0)) s; making s3:$src1 (server-side copy, then the changes)"
s3_rclone copy -q --fast-list --transfers 64 --checkers 64 --no-check-dest "s3:$src0" "s3:$src1"
s3_rclone copy -q --transfers 32 --no-check-dest "$gen/add" "s3:$src1"
s3_rclone copy -q --transfers 32 --no-check-dest "$gen/change" "s3:$src1"
s3_rclone delete -q --files-from "$gen/delete.txt" "s3:$src1"
n_src0=$(find "$gen/tree0" -type f | wc -l)
n_src1=$((n_src0 + $(find "$gen/add" -type f | wc -l) - $(wc -l <"$gen/delete.txt")))

# count_objects REMOTE:BUCKET: the number of objects (rclone size --fast-list).
count_objects()
{
    s3_rclone size --fast-list --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}
[[ $(count_objects "s3:$src0") == "$n_src0" ]] || die "s3:$src0 does not hold $n_src0 objects"
[[ $(count_objects "s3:$src1") == "$n_src1" ]] || die "s3:$src1 does not hold $n_src1 objects"

# pf_conf FILE SRC_PREFIX SRC_BUCKET DST_PREFIX DST_BUCKET [LINE]: a config with one mirror job
# "media" from store "src" to store "dst" (PREFIX: S3 for server A, S3B for server B), with LINE
# added to the job.
pf_conf()
{
    local file=$1 extra=${6:-} p
    {
        printf '[global]\nstate_dir = %s\n' "$work/state"
        for p in "src $2 $3" "dst $4 $5"; do
            # shellcheck disable=SC2086 # three words on purpose
            set -- $p
            local ep=${2}_ENDPOINT rg=${2}_REGION
            printf '\n[store "%s"]\ntype = s3\nendpoint = %s\nregion = %s\nbucket = %s\n' \
                "$1" "${!ep}" "${!rg}" "$3"
            printf 'access_key = env:%s_ACCESS_KEY\nsecret_key = env:%s_SECRET_KEY\n' "$2" "$2"
        done
        printf '\n[job "media"]\nkind = mirror\nsource = src\ndestination = dst\n'
        [[ -z $extra ]] || printf '%s\n' "$extra"
    } >"$file"
}

now()
{
    date +%s.%N
}

# rgw_counters: "requests GETs PUTs" that the radosgw servers have served so far (their perf
# counters, read over the admin socket; GET counts HEAD too), summed over A and B; "- - -" when
# the servers are not ours.
rgw_counters()
{
    local socks=() d
    for d in "${S3_CEPH_DIR:-}" "${S3B_CEPH_DIR:-}"; do
        [[ -n $d && -S $d/run/ceph-client.rgw.a.asok ]] && socks+=("$d/run/ceph-client.rgw.a.asok")
    done
    if ((${#socks[@]} == 0)); then
        echo '- - -'
        return
    fi
    for d in "${socks[@]}"; do
        ceph --admin-daemon "$d" perf dump rgw 2>/dev/null || echo '{}'
    done | python3 -c '
import json, sys
dec, text, tot, pos = json.JSONDecoder(), sys.stdin.read(), [0, 0, 0], 0
while True:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    doc, pos = dec.raw_decode(text, pos)
    rgw = doc.get("rgw", {})
    for i, k in enumerate(("req", "get", "put")):
        tot[i] += int(rgw.get(k, 0))
print(*tot)'
}

# measure LABEL CMD...: runs CMD under /usr/bin/time; appends "LABEL rc wall_s cpu_s maxrss_kb
# requests gets puts" (the last three as counted by radosgw) to the results and keeps stdout (permafrost's --json) and stderr in $work/out/LABEL.{out,err}.
measure()
{
    local label=$1 t0 t1 user sys rss rc=0 c0 c1
    shift
    sync
    c0=$(rgw_counters)
    t0=$(now)
    /usr/bin/time -f '%U %S %M' -o "$work/time.out" "$@" >"$work/out/$label.out" \
        2>"$work/out/$label.err" || rc=$?
    t1=$(now)
    c1=$(rgw_counters)
    read -r user sys rss < <(tail -n 1 "$work/time.out")
    printf '%s %s %s %s %s %s\n' "$label" "$rc" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss" \
        "$(awk -v a="$c0" -v b="$c1" 'BEGIN { n = split(a, x, " "); split(b, y, " ");
            for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), (x[i] == "-" ? "-" : y[i] - x[i]) }')" \
        >>"$work/results"
    if ((rc != 0)); then
        say "$label FAILED (exit $rc); the end of its stderr:"
        tail -n 20 "$work/out/$label.err" >&2
        return 1
    fi
    say "$label: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, peak RSS $((rss / 1024)) MiB"
}

# verify LABEL SRC DST: the destination equals its source (rclone check: sizes and MD5s, both ways).
verify()
{
    if ! s3_rclone check -q --fast-list --checkers 32 "$2" "$3" 2>"$work/out/$1.check"; then
        tail -n 20 "$work/out/$1.check" >&2
        die "$1: the destination differs from the source ($2 vs $3); details in $work/out/$1.check"
    fi
}

: >"$work/results"
for topo in $topologies; do
    if [[ $topo == two ]]; then
        dprefix=S3B dremote=s3b
    else
        dprefix=S3 dremote=s3
    fi
    for ((r = 1; r <= runs; r++)); do
        declare -A dst=()
        for tool in $tools; do
            dst[$tool]=$(s3_new_bucket "dst-$topo-$tool" "$dprefix")
        done
        for scen in full nochange changed; do
            if [[ $scen == changed ]]; then
                sb=$src1
            else
                sb=$src0
            fi
            for tool in $tools; do
                label=$topo.$scen.$tool.$r
                say "topology $topo, run $r of $runs: $scen, $tool"
                case $tool in
                P)
                    pf_conf "$work/$label.conf" S3 "$sb" "$dprefix" "${dst[P]}"
                    measure "$label" "$PERMAFROST" -q -c "$work/$label.conf" run media --json ||
                        continue
                    ;;
                A)
                    pf_conf "$work/$label.conf" S3 "$sb" "$dprefix" "${dst[A]}" "acl = public-read"
                    measure "$label" "$PERMAFROST" -q -c "$work/$label.conf" run media --json ||
                        continue
                    ;;
                R)
                    measure "$label" "${rclone_cmd[@]}" -q sync "s3:$sb" "$dremote:${dst[R]}" ||
                        continue
                    ;;
                T)
                    measure "$label" "${rclone_cmd[@]}" -q "${tuned[@]}" sync "s3:$sb" \
                        "$dremote:${dst[T]}" || continue
                    ;;
                esac
                [[ $scen == nochange ]] || verify "$label" "s3:$sb" "$dremote:${dst[$tool]}"
            done
        done
        unset dst
    done
done

# The memory scenario: zero-byte objects, added in steps to two identical buckets; at each count a
# no-change sync from one to the other (see the header).
if [[ -n ${mem_counts// /} ]]; then
    if [[ -n ${S3B_ENDPOINT:-} ]]; then
        mprefix=S3B mremote=s3b
    else
        mprefix=S3 mremote=s3
    fi
    ms=$(s3_new_bucket mem-src)
    md=$(s3_new_bucket mem-dst "$mprefix")
    have=0
    for c in $mem_counts; do
        ((c > have)) || die "BENCH_MEM_COUNTS must be ascending"
        step=$base/empty-$have-$c
        if [[ ! -e $step.done ]]; then
            say "memory: generating $((c - have)) zero-byte files"
            rm -rf "$step"
            gen_empty "$step" "$have" "$c"
            touch "$step.done"
        fi
        say "memory: uploading $((c - have)) zero-byte objects to both buckets (rclone copy, 64 each)"
        t0=$SECONDS
        s3_rclone copy -q --transfers 64 --checkers 16 --no-check-dest --s3-no-head "$step" \
            "s3:$ms" &
        pid=$!
        s3_rclone copy -q --transfers 64 --checkers 16 --no-check-dest --s3-no-head "$step" \
            "$mremote:$md" || die "uploading to $mremote:$md failed"
        wait "$pid" || die "uploading to s3:$ms failed"
        say "memory: uploaded in $((SECONDS - t0)) s"
        have=$c
        [[ $(count_objects "s3:$ms") == "$c" ]] || die "s3:$ms does not hold $c objects"
        [[ $(count_objects "$mremote:$md") == "$c" ]] || die "$mremote:$md does not hold $c objects"
        pf_conf "$work/mem.conf" S3 "$ms" "$mprefix" "$md"
        if [[ " $tools " == *" P "* ]]; then
            measure "mem.$c.P.1" "$PERMAFROST" -q -c "$work/mem.conf" run media --json || true
        fi
        if [[ " $tools " == *" T "* ]]; then
            measure "mem.$c.T.1" "${rclone_cmd[@]}" -q "${tuned[@]}" sync "s3:$ms" "$mremote:$md" ||
                true
        fi
        [[ $(count_objects "$mremote:$md") == "$c" ]] || die "$mremote:$md changed in a no-change sync"
    done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

pf_version=$("$PERMAFROST" version 2>/dev/null | head -n 1 || echo '?')
python3 - "$work" "$runs" "$(cat "$gen/summary")" "$topologies" "$mem_counts" "$pf_version" \
    "$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$(rclone version 2>/dev/null | head -n 1)" \
    "$(radosgw --version 2>/dev/null | sed -E 's/ \(.*//')" "$load_before" "$load_after" \
    "${BENCH_STRICT:-0}" <<'PY'
import json, os, statistics, sys
(work, runs, summary, topologies, mem_counts, pf_version, ncpu, cpu, rclonev, rgwv, load_before,
 load_after, strict) = sys.argv[1:14]
res = {}
srv = {}
for line in open(os.path.join(work, "results")):
    label, rc, w, c, r, req, get, put = line.split()
    res[label] = (int(rc), float(w), float(c), int(r))
    srv[label] = (req, get, put)

def pf_json(label):
    try:
        doc = json.load(open(os.path.join(work, "out", label + ".out")))
        return doc[0] if isinstance(doc, list) else doc
    except (OSError, ValueError, IndexError, KeyError):
        return None

def cell(topo, scen, tool):
    """(median wall, median cpu, max rss KiB, failed) over the runs."""
    got = [res.get("%s.%s.%s.%d" % (topo, scen, tool, r + 1)) for r in range(int(runs))]
    ok = [g for g in got if g is not None and g[0] == 0]
    if not ok:
        return None if any(g is not None for g in got) else "not run"
    return (statistics.median(g[1] for g in ok), statistics.median(g[2] for g in ok),
            max(g[3] for g in ok), len(ok) < len(got))

print()
print("Permafrost media mirror benchmark")
print("  machine     %s CPUs, %s" % (ncpu, cpu))
print("  versions    %s; %s; %s" % (pf_version, rclonev, rgwv))
print("  data        %s; median of %s runs" % (summary, runs))
print("  load avg    before %s, after %s" % (load_before, load_after))
tools = [("P", "permafrost"), ("R", "rclone default"), ("T", "rclone tuned")]
if any(l.split(".")[2] == "A" for l in res if not l.startswith("mem.")):
    tools.append(("A", "permafrost, acl = public-read"))
names = {"two": "two servers (GET->PUT)", "one": "one server (server-side copy)"}
checks = []
def check(label, value, ok, target):
    checks.append(ok)
    print("  %-62s %8s   target %-8s %s" % (label, value, target, "met" if ok else "MISSED"))

for topo in topologies.split():
    print()
    print("### " + names[topo])
    print()
    print("| scenario | tool | wall s | CPU s | peak RSS MiB | R/P | T/P | requests (GET+HEAD, PUT) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for scen in ("full", "nochange", "changed"):
        for key, name in tools:
            c = cell(topo, scen, key)
            if c is None or c == "not run":
                print("| %s | %s | %s | | | | | |" % (scen, name, c or "failed"))
                continue
            ratios = ["", ""]
            if key in ("P", "A"):
                for i, other in enumerate(("R", "T")):
                    o = cell(topo, scen, other)
                    if o is not None and o != "not run":
                        ratios[i] = "%.2f" % (o[0] / c[0])
            q = srv.get("%s.%s.%s.1" % (topo, scen, key), ("-", "-", "-"))
            print("| %s | %s | %.2f%s | %.2f | %.1f | %s | %s | %s (%s, %s) |" % (
                scen, name, c[0], " (some runs failed)" if c[3] else "", c[1], c[2] / 1024.0,
                ratios[0], ratios[1], q[0], q[1], q[2]))
    print()
    print("permafrost's --json (run 1): requests by type, actions")
    for scen, pk in [(s, k) for k in ("P", "A") for s in ("full", "nochange", "changed")]:
        j = pf_json("%s.%s.%s.1" % (topo, scen, pk))
        scen = scen if pk == "P" else scen + " (A)"
        if j is None:
            if pk == "P":
                print("  %-12s (no JSON)" % scen)
            continue
        rq = j.get("requests", {})
        act = " ".join("%s %s/%.1fMB" % (a, j.get(a, {}).get("objects", "?"),
                                         j.get(a, {}).get("bytes", 0) / 1e6)
                       for a in ("copied", "updated", "deleted"))
        print("  %-12s %s; %s; retries %s; server-side copies %s; %s ms" % (
            scen, " ".join("%s %s" % (k, rq.get(k, "?"))
                           for k in ("LIST", "HEAD", "GET", "PUT", "COPY", "DELETE")),
            act, j.get("retries", "?"), j.get("server_side_copies", "?"), j.get("duration_ms", "?")))
    print()
    def run_cell(scen, k):
        c = cell(topo, scen, k)
        return None if c == "not run" else c
    p, r, t = (run_cell("full", k) for k in "PRT")
    if p and t:
        check("%s: full copy, tuned rclone / permafrost" % topo, "%.2f" % (t[0] / p[0]),
              t[0] / p[0] >= 1.5, ">= 1.5")
    p, r, t = (run_cell("nochange", k) for k in "PRT")
    if p and r:
        check("%s: no-change re-sync, default rclone / permafrost" % topo, "%.2f" % (r[0] / p[0]),
              r[0] / p[0] >= 5.0, ">= 5")
    if p and t:
        check("%s: no-change re-sync, tuned rclone / permafrost" % topo, "%.2f" % (t[0] / p[0]),
              t[0] / p[0] >= 1.0, ">= 1.0")
    j = pf_json("%s.nochange.P.1" % topo)
    if j is not None:
        rq = j.get("requests", {})
        extra = sum(int(rq.get(k, 0)) for k in ("HEAD", "GET", "PUT", "COPY", "DELETE"))
        check("%s: no-change re-sync, requests other than LIST" % topo, str(extra), extra == 0, "0")

counts = [int(c) for c in mem_counts.split()]
if counts:
    print()
    print("### memory: no-change sync of N zero-byte objects")
    print()
    print("| objects | tool | wall s | CPU s | peak RSS MiB | requests |")
    print("|---:|---|---:|---:|---:|---:|")
    rss = {}
    for c in counts:
        for key, name in (("P", "permafrost"), ("T", "rclone --fast-list (tuned)")):
            g = res.get("mem.%d.%s.1" % (c, key))
            if g is None or g[0] != 0:
                print("| %d | %s | %s | | | |" % (c, name, "not run" if g is None else "failed"))
                continue
            rss[(c, key)] = g[3] / 1024.0
            lists = srv.get("mem.%d.%s.1" % (c, key), ("-",))[0]
            print("| %d | %s | %.2f | %.2f | %.1f | %s |" % (c, name, g[1], g[2], g[3] / 1024.0,
                                                          lists))
    print()
    top = counts[-1]
    if (top, "P") in rss and (top, "T") in rss:
        q = rss[(top, "P")] / rss[(top, "T")]
        check("memory at %d objects: permafrost / rclone --fast-list RSS" % top, "%.3f" % q,
              q <= 0.1, "<= 0.1")
    if len(counts) > 1 and (counts[0], "P") in rss and (top, "P") in rss:
        g = rss[(top, "P")] / rss[(counts[0], "P")]
        check("memory: permafrost RSS at %d / at %d objects" % (top, counts[0]), "%.2f" % g,
              g <= 1.25, "<= 1.25")
print()
print("bench: %d of %d targets met" % (sum(checks), len(checks)))
if strict == "1" and not all(checks):
    sys.exit(1)
PY
