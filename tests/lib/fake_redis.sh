# shellcheck shell=bash
# tests/lib/fake_redis.sh: the scripted fake Redis (tests/lib/fake_redis.py) for fault tests. Source
# it after tests/lib/servers.sh (and call servers_trap, or test_init, first: the fake is stopped by
# the same EXIT trap as everything else).
#
#   fake_redis_start DIR RDB MODE [ARGS...]
#                       start the fake on a free 127.0.0.1 port serving the payload RDB in MODE
#                       (ok, eof, truncate:N, corrupt:OFFSET, drop-mid, refuse-sync, wrongpass; see
#                       fake_redis.py), with its request log in DIR/requests.log and its stderr in
#                       DIR/fake_redis.err; ARGS (e.g. --keyspace-file F, --keepalives N) are passed
#                       on. Exports FAKE_REDIS_PORT, FAKE_REDIS_LOG and FAKE_REDIS_PID.
#   fake_redis_stop     stop it (TERM, then KILL; only the process that was started).
#   fake_redis_commands print the command names the fake received, one per line, in order.
#   fake_redis_events   print the event names (connected, payload sent, ..., closed).

_FAKE_REDIS_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fake_redis.py
_FAKE_REDIS_PYTHON=$(command -v /usr/bin/python3 || command -v python3)

fake_redis_start()
{
    local dir=$1 rdb=$2 mode=$3 i
    shift 3
    mkdir -p "$dir"
    rm -f "$dir/port" "$dir/requests.log"
    "$_FAKE_REDIS_PYTHON" "$_FAKE_REDIS_PY" --rdb "$rdb" --mode "$mode" --port-file "$dir/port" \
        --log "$dir/requests.log" --max-seconds "${FAKE_REDIS_MAX_SECONDS:-300}" "$@" \
        >"$dir/fake_redis.out" 2>"$dir/fake_redis.err" </dev/null &
    FAKE_REDIS_PID=$!
    _FAKE_REDIS_START=$(_pid_starttime "$FAKE_REDIS_PID" || true)
    at_exit fake_redis_stop
    for ((i = 0; i < 200; i++)); do
        [[ -s $dir/port ]] && break
        if ! pid_alive "$FAKE_REDIS_PID"; then
            servers_log "fake_redis exited before listening:"
            cat "$dir/fake_redis.err" >&2
            return 1
        fi
        sleep 0.05
    done
    [[ -s $dir/port ]] || {
        servers_log "fake_redis did not write $dir/port within 10 s"
        return 1
    }
    FAKE_REDIS_PORT=$(cat "$dir/port")
    FAKE_REDIS_LOG=$dir/requests.log
    export FAKE_REDIS_PORT FAKE_REDIS_LOG FAKE_REDIS_PID
}

fake_redis_stop()
{
    [[ -n ${FAKE_REDIS_PID:-} && -n ${_FAKE_REDIS_START:-} ]] || return 0
    local i
    if _kill_if_same "$FAKE_REDIS_PID" "$_FAKE_REDIS_START" TERM; then
        for ((i = 0; i < 50; i++)); do
            pid_alive "$FAKE_REDIS_PID" || break
            sleep 0.1
        done
        pid_alive "$FAKE_REDIS_PID" && _kill_if_same "$FAKE_REDIS_PID" "$_FAKE_REDIS_START" KILL
    fi
    wait "$FAKE_REDIS_PID" 2>/dev/null || true
    FAKE_REDIS_PID=""
    _FAKE_REDIS_START=""
}

fake_redis_commands()
{
    "$_FAKE_REDIS_PYTHON" -S -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if "cmd" in r:
        print(" ".join(r["cmd"][:2]).upper() if r["cmd"][0].upper() == "REPLCONF" else r["cmd"][0].upper())
' "$FAKE_REDIS_LOG"
}

fake_redis_events()
{
    "$_FAKE_REDIS_PYTHON" -S -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if "event" in r:
        print(r["event"])
' "$FAKE_REDIS_LOG"
}
