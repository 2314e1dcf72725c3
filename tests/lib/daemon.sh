# shellcheck shell=bash
# tests/lib/daemon.sh: running `permafrost daemon` in the integration tests (t_daemon*.sh). Source
# it after tests/lib/servers.sh and tests/lib/assert.sh.
#
#   daemon_start LOG [CLOCK]  starts `permafrost -c $CONF daemon --log-format=json` in the
#                             background, stderr to LOG, with PERMAFROST_TEST_CLOCK=CLOCK when
#                             given (e.g. "2026-03-08T06:58:30Z*60"); sets DPID (tracked)
#   daemon_stop [SIG]         sends SIG (default TERM) and waits; sets DRC to the exit status
#   dlog_count ERE [AFTER]    log lines whose message matches ERE (after the first matching AFTER)
#   dlog_wait ERE N [SECS]    waits until dlog_count ERE reaches N (default 30 s, then fails)
#   dlog_runs FIELD           a field of daemon_log.py's run summary, e.g. "jobs.db.starts",
#                             "most_at_once", "jobs.db.results" (a list prints as JSON)
#   dlog_check_json           every line of the log parses as a JSON log object

_DAEMON_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON_PYTHON=${DAEMON_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

daemon_start()
{
    DLOG=$1
    : >"$DLOG"
    if [[ -n ${2:-} ]]; then
        PERMAFROST_TEST_CLOCK=$2 "$PERMAFROST" -c "$CONF" daemon --log-format=json 2>"$DLOG" \
            >/dev/null </dev/null &
    else
        "$PERMAFROST" -c "$CONF" daemon --log-format=json 2>"$DLOG" >/dev/null </dev/null &
    fi
    DPID=$!
    track_pid "$DPID"
    dlog_wait '^daemon started' 1 10
}

# shellcheck disable=SC2034 # DRC is read by the tests
daemon_stop()
{
    kill "-${1:-TERM}" "$DPID"
    DRC=0
    wait "$DPID" || DRC=$?
}

dlog_count()
{
    "$DAEMON_PYTHON" "$_DAEMON_LIB/daemon_log.py" count "$DLOG" "$@"
}

dlog_wait()
{
    local ere=$1 n=$2 secs=${3:-30} i
    for ((i = 0; i < secs * 5; i++)); do
        (($(dlog_count "$ere") >= n)) && return 0
        if [[ -n ${DPID:-} ]] && ! pid_alive "$DPID"; then
            sed 's/^/  daemon| /' "$DLOG" | tail -n 30
            fail "the daemon exited while waiting for $n x /$ere/"
        fi
        sleep 0.2
    done
    sed 's/^/  daemon| /' "$DLOG" | tail -n 30
    fail "timed out waiting for $n x /$ere/ in the daemon's log"
}

dlog_runs()
{
    "$DAEMON_PYTHON" "$_DAEMON_LIB/daemon_log.py" runs "$DLOG" | "$DAEMON_PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for part in sys.argv[1].split("."):
    v = v.get(part, 0) if isinstance(v, dict) else v
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$1"
}

dlog_check_json()
{
    "$DAEMON_PYTHON" "$_DAEMON_LIB/daemon_log.py" check-json "$DLOG" >/dev/null ||
        fail "a line of $DLOG is not a JSON log object"
}

# make_slow_pg_dump: writes $T/pg_dump_slow, a pg_dump that waits $(cat $T/pg_delay) seconds
# (marking $T/dumping.PID meanwhile), then runs the real one ($PG_BIN/pg_dump); a cancel (SIGTERM
# from permafrost) ends the wait and the wrapper. A job uses it with `pg_dump = $T/pg_dump_slow`.
make_slow_pg_dump()
{
    cat >"$T/pg_dump_slow" <<WRAPPER
#!/usr/bin/env bash
real=$PG_BIN/pg_dump
for a in "\$@"; do
    [[ \$a == --version || \$a == -V ]] && exec "\$real" "\$@"
done
mark=$T/dumping.\$\$
delay=\$(cat "$T/pg_delay")
touch "\$mark"
sleep "\$delay" &
sl=\$!
trap 'kill "\$sl" 2>/dev/null; rm -f "\$mark"; exit 143' TERM INT
wait "\$sl"
rm -f "\$mark"
exec "\$real" "\$@"
WRAPPER
    chmod 0755 "$T/pg_dump_slow"
}
