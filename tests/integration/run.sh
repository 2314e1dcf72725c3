#!/usr/bin/env bash
# Runs the integration tests: every tests/integration/t_*.sh (or the ones named), each against the
# permafrost binary given as the first argument, each in a fresh temporary directory, all sharing
# one throwaway PostgreSQL 15 server (each test uses its own databases and stores). When a selected
# test has a line `# needs: s3` (`# needs: s3 s3b`), one Ceph radosgw (and a second one) is started
# for the whole run as well and exported as S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY/S3_REGION
# (S3B_*); tests take their own buckets (tests/lib/s3.sh).
#
# usage: tests/integration/run.sh PERMAFROST-BINARY [t_name ...]
#
# A test that leaves a process behind fails (its processes carry PF_TEST_RUN in their environment).
# Prints "ok"/"FAIL"/"skip" per test (with the end of a failed test's log) and ends with
# "integration: N passed, N failed" (", N skipped" when a test exits 77); exits 1 if any failed.
# Environment: TEST_TIMEOUT (seconds per test, default 300; a test with a line `# timeout: N` gets
# at least N), KEEP_LOGS=1 keeps the logs directory.
# Needs root (initdb runs as the 'postgres' user, t_disk_full mounts a tmpfs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
SERVERS_LOG_PREFIX=integration

if (($# < 1)) || [[ $1 == -h || $1 == --help ]]; then
    sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 2
fi
bin=$1
shift
[[ $bin == /* ]] || bin=$PWD/$bin
if [[ ! -x $bin ]]; then
    echo "integration: '$bin' is not an executable" >&2
    echo "integration: 0 passed, 1 failed"
    exit 1
fi

tests=()
if (($#)); then
    for name in "$@"; do
        name=${name##*/}
        name=${name%.sh}
        [[ -f $here/$name.sh ]] || {
            echo "integration: no test '$name'" >&2
            exit 2
        }
        tests+=("$here/$name.sh")
    done
else
    for t in "$here"/t_*.sh; do
        [[ -e $t ]] && tests+=("$t")
    done
fi

servers_trap
run_dir=""
make_tmpdir run_dir
logs=$run_dir/logs
mkdir -p "$logs"
if [[ ${KEEP_LOGS:-0} == 1 ]]; then
    logs=$(mktemp -d /tmp/permafrost-integration-logs.XXXXXX)
fi

start=$SECONDS
if ! pg_start "$run_dir/pg" >"$logs/pg_start.log" 2>&1; then
    cat "$logs/pg_start.log" >&2
    echo "integration: 0 passed, ${#tests[@]} failed"
    exit 1
fi
echo "integration: PostgreSQL on 127.0.0.1:$PGPORT_TEST, binary $bin"

# S3 servers only when a selected test declares it needs them (starting one takes about 20 s).
need_s3=0
need_s3b=0
for t in "${tests[@]}"; do
    needs=$(sed -n 's/^# needs:[[:space:]]*//p' "$t")
    [[ " $needs " =~ [[:space:]]s3[[:space:]] ]] && need_s3=1
    [[ " $needs " =~ [[:space:]]s3b[[:space:]] ]] && need_s3=1 need_s3b=1
done
# Never reuse an S3 server from the caller's environment: this run owns its servers.
unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_CEPH_DIR S3B_ENDPOINT S3B_ACCESS_KEY \
    S3B_SECRET_KEY S3B_REGION S3B_CEPH_DIR
for prefix in S3 S3B; do
    [[ $prefix == S3 ]] && ((need_s3 == 0)) && continue
    [[ $prefix == S3B ]] && ((need_s3b == 0)) && continue
    s3_log=$logs/ceph_start_${prefix,,}.log
    t0=$SECONDS
    if ! s3_start "$prefix" "$run_dir/${prefix,,}" 2>"$s3_log"; then
        cat "$s3_log" >&2
        echo "integration: 0 passed, ${#tests[@]} failed"
        exit 1
    fi
    endpoint_var=${prefix}_ENDPOINT
    echo "integration: Ceph radosgw (${prefix}_*) on ${!endpoint_var}, started in $((SECONDS - t0)) s"
done

# Processes whose environment holds PF_TEST_RUN=$1: what a test started and left behind (the mark is
# inherited across fork, exec and setsid), printed as "PID:STARTTIME ARGS".
marked_processes()
{
    local f pid start
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        if grep -qzx -- "PF_TEST_RUN=$1" "$f" 2>/dev/null; then
            start=$(_pid_starttime "$pid") || continue
            printf '%s:%s %s\n' "$pid" "$start" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
        fi
    done
}

pass=0
failed=0
skipped=0
failed_names=()
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    tdir=$run_dir/$name
    mkdir -p "$tdir"
    chmod 0711 "$tdir"
    t0=$SECONDS
    rc=0
    # timeout sends TERM on expiry, so the test's own trap still cleans up; KILL 20 s later.
    mark=$name.$$.$RANDOM
    limit=${TEST_TIMEOUT:-300}
    own=$(sed -n 's/^# timeout:[[:space:]]*\([0-9]\+\).*/\1/p' "$t" | head -n 1)
    [[ -n $own ]] && ((own > limit)) && limit=$own
    PF_TEST_RUN=$mark PERMAFROST=$bin TEST_TMP=$tdir timeout -k 20 "$limit" bash "$t" \
        >"$logs/$name.log" 2>&1 </dev/null || rc=$?
    dt=$((SECONDS - t0))
    # A test must not leave processes behind. Give stragglers a moment, then report and end them.
    left=""
    for ((i = 0; i < 50; i++)); do
        left=$(marked_processes "$mark")
        [[ -z $left ]] && break
        sleep 0.1
    done
    if [[ -n $left ]]; then
        {
            echo "FAIL: processes left behind:"
            printf '%s\n' "$left"
        } >>"$logs/$name.log"
        while read -r pidstart _; do
            kill_tracked "${pidstart%%:*}" "${pidstart#*:}"
        done <<<"$left"
        ((rc != 0)) || rc=1
    fi
    if ((rc == 0)); then
        pass=$((pass + 1))
        printf 'ok   %-22s %3ds\n' "$name" "$dt"
    elif ((rc == 77)); then
        skipped=$((skipped + 1))
        printf 'skip %-22s %3ds  %s\n' "$name" "$dt" "$(grep -m1 '^SKIP' "$logs/$name.log" || true)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        printf 'FAIL %-22s %3ds  (exit %d%s)\n' "$name" "$dt" "$rc" \
            "$( ((rc == 124)) && echo ", timed out after ${limit}s")"
        tail -n 40 "$logs/$name.log" | sed 's/^/    | /'
    fi
    rm -rf "$tdir"
done

if ((failed)); then
    echo "integration: failed: ${failed_names[*]}"
fi
[[ ${KEEP_LOGS:-0} == 1 ]] && echo "integration: logs in $logs"
echo "integration: $((SECONDS - start)) s"
if ((skipped)); then
    echo "integration: $pass passed, $failed failed, $skipped skipped"
else
    echo "integration: $pass passed, $failed failed"
fi
((failed == 0))
