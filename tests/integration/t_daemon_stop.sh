#!/usr/bin/env bash
# Stopping `permafrost daemon` and starting it after a missed run: SIGTERM while a job runs lets it
# finish within shutdown_timeout and exits 0; with a short shutdown_timeout and a long job the run
# is cancelled (no snapshot directory without a manifest, no temporary files left) and the daemon
# exits 0; a second SIGTERM cancels at once. catch_up = yes runs a job missed while the daemon was
# down once at start-up; catch_up = no only logs it; a job that ran after its last time is not
# caught up.
# timeout: 120
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/daemon.sh
. "$root/tests/lib/daemon.sh"
test_init

src=ds_src
pg_new_db "$src"
psql_db "$src" -q -c "CREATE TABLE t (i int); INSERT INTO t SELECT generate_series(1, 1000)"

make_slow_pg_dump

# write_daemon_conf SCHEDULE [LINE...]: job db on SCHEDULE; each LINE goes into [global].
write_daemon_conf()
{
    local sched=$1 line
    shift
    {
        printf '[global]\nstate_dir = %s/state\ntimezone = UTC\nmetrics_listen = off\n' "$T"
        for line in "$@"; do
            printf '%s\n' "$line"
        done
        printf '\n[store "local"]\ntype = local\npath = %s/store\n' "$T"
        printf '\n[job "db"]\nkind = postgres\ndatabase = %s\n' "$(pg_conninfo "$src")"
        printf 'password = env:DB_PASS\ntargets = local\npg_dump = %s/pg_dump_slow\n' "$T"
        printf 'schedule = %s\n' "$sched"
    } >"$T/pf.conf"
    CONF=$T/pf.conf
}

# Every snapshot directory has its manifest, no temporary file is left in the store or $TMPDIR,
# and no wrapper is still waiting.
no_partial_output()
{
    local d temps
    while IFS= read -r d; do
        assert_exists "$d/manifest.json"
    done < <(snapshot_dirs db)
    temps=$(find "$T/store" -name '.*' -print)
    assert_eq "" "$temps" "temporary files in the store ($1)"
    temps=$(find "$TMPDIR" -mindepth 1 -maxdepth 1 -name 'permafrost*' -print)
    assert_eq "" "$temps" "permafrost's temporary files ($1)"
    compgen -G "$T/dumping.*" >/dev/null && fail "a pg_dump wrapper still waits ($1)"
    return 0
}

complete_snapshots()
{
    pf list --json db | json_complete_count db
}

wait_dumping()
{
    local i
    for ((i = 0; i < 100; i++)); do
        compgen -G "$T/dumping.*" >/dev/null && return 0
        sleep 0.1
    done
    fail "no run started dumping"
}

step "SIGTERM while a job runs: it finishes within shutdown_timeout, exit 0"
echo 3 >"$T/pg_delay"
write_daemon_conf '* * * * *'
daemon_start "$T/a.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' started" 1 10
wait_dumping
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
dlog_check_json
assert_eq 1 "$(dlog_count '^shutdown begun \(signal 15\): waiting up to 30.0 s for 1 running job \(db\)')" \
    "the shutdown line"
assert_eq 1 "$(dlog_count "^job 'db' finished: ok")" "the run finished ok"
assert_eq 0 "$(dlog_count '^shutdown: cancelling')" "cancellations"
assert_eq 1 "$(dlog_count '^daemon exiting')" "the last line"
assert_eq 1 "$(complete_snapshots)" "complete snapshots"
no_partial_output "after a clean stop"

step "a run killed by SIGKILL (as by the OOM killer): the row is closed as failed, a failure notice"
"$DAEMON_PYTHON" "$root/tests/lib/http_sink.py" --port-file "$T/http.port" --log "$T/http.log" \
    --max-seconds 120 2>"$T/http_sink.err" &
track_pid $!
for ((i = 0; i < 100; i++)); do
    [[ -s $T/http.port ]] && break
    sleep 0.1
done
[[ -s $T/http.port ]] || fail "the HTTP sink did not start"
echo 60 >"$T/pg_delay"
write_daemon_conf '* * * * *' '' '[notify "ops"]' \
    "url = http://127.0.0.1:$(cat "$T/http.port")/hook" 'on = failure'
daemon_start "$T/k.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' started" 1 10
wait_dumping
kill -KILL "$(sed -n "s/.*job 'db' started (pid \([0-9]*\)).*/\1/p" "$T/k.log" | head -n 1)"
dlog_wait "^job 'db' finished: failed after .* \(killed by signal 9\)" 1 10
for ((i = 0; i < 100; i++)); do
    [[ -s $T/http.log ]] && break
    sleep 0.1
done
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
"$DAEMON_PYTHON" -c '
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(reqs) == 1, reqs
body = json.loads(reqs[0]["body"])
assert body["event"] == "failure" and body["job"] == "db", body
assert "killed by signal 9" in body["error"], body["error"]
assert "OOM killer" in body["hint"], body["hint"]
print("failure notice:", body["error"])' "$T/http.log" || fail "the failure notice of the killed run"
run "$PERMAFROST" -c "$CONF" status --json
assert_eq 1 "$RC" "status exit status after the killed run"
"$DAEMON_PYTHON" -c '
import json, sys
db = [j for j in json.load(sys.stdin)["jobs"] if j["job"] == "db"][0]
assert db["last_run"]["result"] == "failed", db["last_run"]
assert "killed by signal 9" in db["last_run"]["error"], db["last_run"]
' <<<"$OUT" || fail "status after the killed run: $OUT"
# What the killed run left (a directory without a manifest, temporary files, its pg_dump) is for the
# next run to clean up; the steps below count on a clean store.
pkill -f "$T/pg_dump_slow" 2>/dev/null || true
rm -f "$T"/dumping.*
while IFS= read -r d; do
    [[ -e $d/manifest.json ]] || rm -rf "$d"
done < <(snapshot_dirs db)
find "$T/store" -name '.*' -exec rm -rf {} +
rm -rf "${TMPDIR:?}"/permafrost*

step "a long job and shutdown_timeout = 1s: cancelled, no partial snapshot, exit 0"
echo 60 >"$T/pg_delay"
write_daemon_conf '* * * * *' 'shutdown_timeout = 1s'
daemon_start "$T/b.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' started" 1 10
wait_dumping
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
dlog_check_json
assert_eq 1 "$(dlog_count "^shutdown: cancelling 1 job \(db\): shutdown_timeout passed")" \
    "the cancel line"
assert_eq 1 "$(dlog_count "^job 'db' finished: cancelled after .* \(exit 130\)")" \
    "the run's end"
assert_eq 0 "$(dlog_count 'SIGKILL')" "runs killed"
assert_eq 1 "$(complete_snapshots)" "complete snapshots (the first one only)"
no_partial_output "after a cancelled run"

step "a second SIGTERM cancels at once"
write_daemon_conf '* * * * *' 'shutdown_timeout = 10m'
daemon_start "$T/c.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' started" 1 10
wait_dumping
kill -TERM "$DPID"
dlog_wait '^shutdown begun' 1 10
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
assert_eq 1 "$(dlog_count "^shutdown: cancelling 1 job \(db\): second stop signal")" \
    "the cancel line"
assert_eq 1 "$(dlog_count "^job 'db' finished: cancelled")" "the run's end"
no_partial_output "after a second SIGTERM"

step "a run that ignores SIGTERM: killed with its processes 10 s later, exit 0"
# The wrapper (pg_dump) ignores SIGTERM, so the run waits for it; SIGKILL to the run's process
# group ends both (the test harness fails the test if the wrapper or its sleep is left).
cat >"$T/pg_dump_stuck" <<'WRAPPER'
#!/usr/bin/env bash
for a in "$@"; do
    [[ $a == --version || $a == -V ]] && exec "$PG_BIN/pg_dump" "$@"
done
trap '' TERM INT
touch "$T/dumping.$$"
sleep 60
WRAPPER
chmod 0755 "$T/pg_dump_stuck"
write_daemon_conf '* * * * *' 'shutdown_timeout = 0s'
sed -i "s#^pg_dump = .*#pg_dump = $T/pg_dump_stuck#" "$CONF"
daemon_start "$T/g.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' started" 1 10
wait_dumping
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
assert_eq 1 "$(dlog_count "^shutdown: job 'db' \(pid [0-9]+\) still runs 10 s after SIGTERM; killing")" \
    "the SIGKILL line"
assert_eq 1 "$(dlog_count "^job 'db' finished: .*\(killed by signal 9\)")" "the run's end"
sleep 0.5
pgrep -f "$T/pg_dump_stuck" >/dev/null && fail "the stuck pg_dump is still running"
rm -f "$T"/dumping.*

echo 0 >"$T/pg_delay"
step "catch_up = yes: the 03:00 run missed while down runs once at start-up"
# The last run started today (real time); the daemon's clock says it is 1 December, 12:00.
write_daemon_conf '0 3 * * *'
printf 'catch_up = yes\n' >>"$CONF"
daemon_start "$T/d.log" '2026-12-01T12:00:00Z*1'
dlog_wait "^job 'db' finished: ok" 1 20
assert_eq 1 "$(dlog_count "^job 'db': missed 2026-12-01 03:00 UTC while down; catching up now")" \
    "the catch-up line"
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
assert_eq 1 "$(dlog_count "^job 'db' started")" "runs"
assert_eq 2 "$(complete_snapshots)" "complete snapshots"

step "catch_up = no: the missed run is only logged"
write_daemon_conf '0 3 * * *'
daemon_start "$T/e.log" '2026-12-02T12:00:00Z*1'
assert_eq 1 "$(dlog_count "^job 'db': missed 2026-12-02 03:00 UTC while down; next 2026-12-03 03:00 UTC")" \
    "the missed line"
sleep 1
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
assert_eq 0 "$(dlog_count "^job 'db' started")" "runs"

step "catch_up = yes after a run that followed the last time: nothing to catch up"
write_daemon_conf "$(date -u -d '-1 hour' +'%M %H') * * *"
printf 'catch_up = yes\n' >>"$CONF"
daemon_start "$T/f.log"
sleep 1
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
assert_eq 0 "$(dlog_count 'missed')" "missed runs"
assert_eq 0 "$(dlog_count "^job 'db' started")" "runs"
assert_eq 2 "$(complete_snapshots)" "complete snapshots"

echo "PASS"
