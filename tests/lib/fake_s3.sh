# shellcheck shell=bash
# tests/lib/fake_s3.sh: the scripted fake S3 server (tests/lib/fake_s3.py) for fault-injection
# tests. Source it after tests/lib/servers.sh (and call servers_trap, or test_init, first: the
# server is stopped by the same EXIT trap as everything else).
#
#   fake_s3_start DIR [SCRIPT [ARGS...]]
#                       start the fake in the background on a free 127.0.0.1 port, with its
#                       request log in DIR/requests.log and its stderr in DIR/fake_s3.err; SCRIPT
#                       (a JSON fault script, may be "") and ARGS (e.g. --min-part-size 1024,
#                       --page-size 2, --no-auto-create) are passed on. Waits until it listens, then
#                       exports FAKE_S3_ENDPOINT (http://127.0.0.1:PORT), FAKE_S3_PORT, FAKE_S3_LOG,
#                       FAKE_S3_DIR and FAKE_S3_PID. It exits by itself after FAKE_S3_MAX_SECONDS
#                       (default 600).
#   fake_s3_stop        stop it (TERM, then KILL; only the process that was started).
#   fake_s3_script FILE replace the fault rules (and their counters) with the script in FILE.
#   fake_s3_rules       print the rules with their "matched"/"applied" counters (JSON).
#   fake_s3_state       print the buckets, objects and multipart uploads in progress (JSON).
#   fake_s3_count METHOD PATHREGEX [QUERYSUBSTR]
#                       print how many S3 requests were logged with METHOD ("" or "*": any), a path
#                       matching the extended regex PATHREGEX (Python re.search on the raw path) and,
#                       when given, a query string containing QUERYSUBSTR.
#   fake_s3_status_count STATUS     requests answered with STATUS ("dropped": not answered).
#   fake_s3_fault_count SUBSTR      requests whose applied fault contains SUBSTR ("" for any).
# Every request is logged just before its answer is sent, so the counts are complete once the
# client has its answers. Control requests (/__control/...) are never counted.

_FAKE_S3_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fake_s3.py
# Debian's interpreter when there is one: a version manager's shim in PATH can take seconds to start
# on a loaded machine, and the counting helpers below run once per assertion.
_FAKE_S3_PYTHON=$(command -v /usr/bin/python3 || command -v python3)

fake_s3_start()
{
    local dir=$1 script=${2:-} i
    shift
    (($# == 0)) || shift
    mkdir -p "$dir"
    rm -f "$dir/port"
    local args=(--port 0 --port-file "$dir/port" --log "$dir/requests.log"
        --max-seconds "${FAKE_S3_MAX_SECONDS:-600}")
    [[ -n $script ]] && args+=(--script "$script")
    "$_FAKE_S3_PYTHON" "$_FAKE_S3_PY" "${args[@]}" "$@" >"$dir/fake_s3.out" 2>"$dir/fake_s3.err" \
        </dev/null &
    FAKE_S3_PID=$!
    track_pid "$FAKE_S3_PID"
    _FAKE_S3_START=$(_pid_starttime "$FAKE_S3_PID" || true)
    for ((i = 0; i < 200; i++)); do
        [[ -s $dir/port ]] && break
        if ! pid_alive "$FAKE_S3_PID"; then
            servers_log "fake_s3 exited before listening:"
            cat "$dir/fake_s3.err" >&2
            return 1
        fi
        sleep 0.05
    done
    [[ -s $dir/port ]] || {
        servers_log "fake_s3 did not write $dir/port within 10 s"
        return 1
    }
    FAKE_S3_PORT=$(cat "$dir/port")
    FAKE_S3_ENDPOINT=http://127.0.0.1:$FAKE_S3_PORT
    FAKE_S3_LOG=$dir/requests.log
    FAKE_S3_DIR=$dir
    export FAKE_S3_PORT FAKE_S3_ENDPOINT FAKE_S3_LOG FAKE_S3_DIR FAKE_S3_PID
}

fake_s3_stop()
{
    [[ -n ${FAKE_S3_PID:-} && -n ${_FAKE_S3_START:-} ]] || return 0
    local i
    # Not kill_tracked: our own child stays a zombie (looks alive to it) until we reap it.
    if _kill_if_same "$FAKE_S3_PID" "$_FAKE_S3_START" TERM; then
        for ((i = 0; i < 50; i++)); do
            pid_alive "$FAKE_S3_PID" || break
            sleep 0.1
        done
        pid_alive "$FAKE_S3_PID" && _kill_if_same "$FAKE_S3_PID" "$_FAKE_S3_START" KILL
    fi
    wait "$FAKE_S3_PID" 2>/dev/null || true
    FAKE_S3_PID=""
    _FAKE_S3_START=""
}

_fake_s3_control()
{
    curl -sS --fail-with-body --max-time 10 "$@"
}

fake_s3_script()
{
    _fake_s3_control -X POST --data-binary "@$1" -H 'Content-Type: application/json' \
        "$FAKE_S3_ENDPOINT/__control/script" >/dev/null
}

fake_s3_rules()
{
    _fake_s3_control "$FAKE_S3_ENDPOINT/__control/script"
}

fake_s3_state()
{
    _fake_s3_control "$FAKE_S3_ENDPOINT/__control/state"
}

# _fake_s3_query FIELD... : counts log lines (not control requests) for which the Python predicate
# given as the first argument holds; the others are available as a[0], a[1], ...
_fake_s3_query()
{
    "$_FAKE_S3_PYTHON" -S - "$FAKE_S3_LOG" "$@" <<'EOF'
import json, re, sys
log, pred, a = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
with open(log, encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        if r.get("control"):
            continue
        if eval("(" + pred + ")", {"re": re}, {"r": r, "a": a}):
            n += 1
print(n)
EOF
}

fake_s3_count()
{
    _fake_s3_query '(a[0] in ("", "*") or r["method"] == a[0].upper()) and
        re.search(a[1], r["path"]) is not None and (len(a) < 3 or a[2] in r["query"])' "$@"
}

fake_s3_status_count()
{
    _fake_s3_query '(r["status"] is None) if a[0] == "dropped" else (str(r["status"]) == a[0])' "$1"
}

fake_s3_fault_count()
{
    _fake_s3_query 'r["fault"] is not None and a[0] in r["fault"]' "$1"
}
