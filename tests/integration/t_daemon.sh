#!/usr/bin/env bash
# `permafrost daemon` with two local mirror jobs on `* * * * *` and the test clock at 60x (a clock
# minute is a second): the jobs run when due, and across a DST change; SIGHUP with a changed
# schedule takes effect; SIGHUP with a broken file (an unknown key, a bad schedule, a bad notification
# URL) logs FILE:LINE and keeps the old schedule; SIGTERM with nothing running exits 0; --log-format=json after the
# command makes every line of stderr a JSON object; --check prints the next times; /metrics (checked
# by tests/lib/prom_check.py) and /healthz are served on metrics_listen, and a SIGHUP that changes
# metrics_listen moves the server; a healthchecks channel gets a start and a success ping per run
# (the dead-man's switch), sent by the runs the daemon starts.
# timeout: 90
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/daemon.sh
. "$root/tests/lib/daemon.sh"

test_init_dirs
[[ -x ${PERMAFROST:-} ]] || fail "PERMAFROST must name the permafrost binary"
mkdir -p "$T/tmp" "$T/live"
export TMPDIR=$T/tmp
unset PERMAFROST_CONFIG PERMAFROST_STATE_DIR
for i in 1 2 3 4 5; do
    printf 'media file %s\n' "$i" >"$T/live/f$i.txt"
done

# write_daemon_conf SCHEDULE-M1 SCHEDULE-M2 [EXTRA-GLOBAL-LINE]
write_daemon_conf()
{
    cat >"$T/pf.conf" <<CONF
[global]
state_dir = $T/state
timezone = Europe/Berlin
metrics_listen = ${METRICS_LISTEN:-off}
${3:-}

[store "live"]
type = local
path = $T/live

[store "copy1"]
type = local
path = $T/copy1

[store "copy2"]
type = local
path = $T/copy2

[job "m1"]
kind = mirror
source = live
destination = copy1
schedule = $1

[job "m2"]
kind = mirror
source = live
destination = copy2
schedule = $2
CONF
    CONF=$T/pf.conf
}

step "--check prints each job's next three times in the zone"
write_daemon_conf '30 2 * * *' '@hourly'
run env PERMAFROST_TEST_CLOCK='2026-03-28T12:00:00Z' "$PERMAFROST" -c "$CONF" daemon --check
assert_eq 0 "$RC" "exit status of --check"
assert_contains "$OUT" "2026-03-29 03:00 CEST" "the 02:30 that DST skips"
assert_contains "$OUT" "2026-03-30 02:30 CEST" "the next 02:30"
assert_contains "$OUT" "2026-03-28 14:00 CET" "@hourly"
assert_missing "$T/state/catalog.db"

step "jobs run when due, across the spring DST change (01:58 CET to 03:0x CEST)"
write_daemon_conf '* * * * *' '* * * * *'
daemon_start "$T/d1.log" '2026-03-29T00:58:30Z*60'
dlog_wait "^job 'm1' finished: ok" 3
dlog_wait "^job 'm2' finished: ok" 3
assert_eq 0 "$(dlog_count 'finished: failed')" "failed runs"
diff -r "$T/live" "$T/copy1" || fail "copy1 differs from the source"
diff -r "$T/live" "$T/copy2" || fail "copy2 differs from the source"
assert_eq 1 "$(dlog_runs jobs.m1.most_at_once)" "m1 runs at once"
# 02:00-02:59 does not exist that night: after 01:59 CET the next minute is 03:00 CEST.
dlog_wait "next 2026-03-29 03:0[0-9] CEST" 1 10
assert_eq 0 "$(dlog_count 'next 2026-03-29 02:')" "runs planned in the skipped hour"

step "SIGHUP with a changed schedule takes effect"
write_daemon_conf '0 0 1 1 *' '* * * * *'
kill -HUP "$DPID"
dlog_wait "^reloaded '.*pf.conf': m1 next 2027-01-01 00:00 CET \(0 0 1 1 \*\), m2 next " 1 10
# m1 may finish a run it had started; it starts no new one.
dlog_wait "^job 'm2' finished: ok" 2 20 # (counted over the whole log; at least two more below)
before=$(dlog_count "^job 'm2' finished: ok")
dlog_wait "^job 'm2' finished: ok" $((before + 2)) 20
assert_eq 0 "$(dlog_count "^job 'm1' started" '^reloaded')" "m1 runs after the reload"

step "SIGHUP with a broken file: FILE:LINE in the log, the old schedule kept"
write_daemon_conf '* * * * *' '* * * * *' 'max_concurent_jobs = 3'
kill -HUP "$DPID"
dlog_wait "^reload failed: .*pf.conf:5: .*max_concurent_jobs.*keeping the previous configuration" 1 10
write_daemon_conf '* * * * *' '0 25 * * *'
kill -HUP "$DPID"
dlog_wait "^reload failed: .*pf.conf:(25|29): .*hour field.*keeping the previous" 1 10
write_daemon_conf '* * * * *' '* * * * *' $'[notify "ops"]\nurl = discord://not-a-webhook'
kill -HUP "$DPID"
dlog_wait "^reload failed: .*pf.conf:5: notify 'ops': discord URL.*keeping the previous" 1 10
before=$(dlog_count "^job 'm2' finished: ok")
dlog_wait "^job 'm2' finished: ok" $((before + 2)) 20
assert_eq 0 "$(dlog_count "^job 'm1' started" '^reloaded')" "m1 runs after the failed reloads"
assert_eq 3 "$(dlog_count '^reload failed')" "failed reloads"

step "SIGTERM exits 0; every line of stderr is JSON"
dlog_wait "^job 'm2' finished" "$(($(dlog_count "^job 'm2' started")))" 10
daemon_stop TERM
assert_eq 0 "$DRC" "exit status after SIGTERM"
assert_eq 1 "$(dlog_count '^daemon exiting')" "the last line"
dlog_check_json
assert_eq "$(dlog_count "^job 'm2' started")" "$(dlog_count "^job 'm2' finished")" \
    "m2 runs started and finished"

step "/metrics and /healthz; SIGHUP with another metrics_listen moves the server"
# http_get PORT PATH: the body, or "refused" when nothing listens.
http_get()
{
    "$DAEMON_PYTHON" -c '
import sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=5) as r:
        sys.stdout.write(r.read().decode())
except OSError:
    print("refused")' "$1" "$2"
}
serving_port()
{
    "$DAEMON_PYTHON" -c '
import json, re, sys
ports = [m.group(1) for m in (re.search(r"^serving /metrics and /healthz on http://[^ ]*:(\d+)$",
         json.loads(l)["msg"]) for l in open(sys.argv[1])) if m]
print(ports[int(sys.argv[2])])' "$DLOG" "$1"
}
METRICS_LISTEN=127.0.0.1:0 write_daemon_conf '* * * * *' '@yearly'
daemon_start "$T/d3.log" '2026-03-29T00:58:30Z*60'
dlog_wait '^serving /metrics and /healthz on http://127.0.0.1:' 1 10
dlog_wait "^job 'm1' finished: ok" 1 10
port=$(serving_port 0)
assert_eq ok "$(http_get "$port" /healthz)" "/healthz"
http_get "$port" /metrics >"$T/metrics.prom"
"$DAEMON_PYTHON" "$root/tests/lib/prom_check.py" --dump "$T/metrics.prom" >"$T/metrics.dump" ||
    fail "prom_check refused the daemon's /metrics"
assert_file_contains "$T/metrics.dump" 'permafrost_daemon_start_time_seconds'
assert_file_contains "$T/metrics.dump" 'permafrost_job_last_run_success{job="m1"} 1'
METRICS_LISTEN=localhost:0 write_daemon_conf '* * * * *' '@yearly'
kill -HUP "$DPID"
dlog_wait '^serving /metrics and /healthz on http://' 2 10
port2=$(serving_port 1)
assert_eq ok "$(http_get "$port2" /healthz)" "/healthz on the new address"
[[ $port2 == "$port" ]] || assert_eq refused "$(http_get "$port" /healthz)" "the old address"
http_get "$port2" /metrics >"$T/metrics2.prom"
"$DAEMON_PYTHON" "$root/tests/lib/prom_check.py" --dump "$T/metrics2.prom" >"$T/metrics2.dump" ||
    fail "prom_check refused the daemon's /metrics after the reload"
grep -E '^permafrost_daemon_config_reloads_total\{result="ok"\} 1(\.0)?$' "$T/metrics2.dump" ||
    fail "reloads in /metrics: $(grep reloads "$T/metrics2.dump")"
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
dlog_check_json

step "dead-man's switch: a healthchecks channel gets start and success for each daemon run"
"$DAEMON_PYTHON" "$root/tests/lib/http_sink.py" --port-file "$T/http.port" --log "$T/http.log" \
    --max-seconds 120 2>"$T/http_sink.err" &
track_pid $!
for ((i = 0; i < 100; i++)); do
    [[ -s $T/http.port ]] && break
    sleep 0.1
done
[[ -s $T/http.port ]] || fail "the HTTP sink did not start"
PF_DAEMON_HC="hc+http://127.0.0.1:$(cat "$T/http.port")/hc/d5e1c0de"
export PF_DAEMON_HC
write_daemon_conf '* * * * *' '@yearly'
printf '\n[notify "deadman"]\nurl = env:PF_DAEMON_HC\njobs = m1\n' >>"$CONF"
daemon_start "$T/d4.log" '2026-03-29T00:58:30Z*60'
dlog_wait "^job 'm1' finished: ok" 2 20
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
dlog_check_json
"$DAEMON_PYTHON" -c '
import json, re, sys
paths = [json.loads(l)["path"] for l in open(sys.argv[1]) if l.strip()]
runs = int(sys.argv[2])
assert len(paths) == 2 * runs, (runs, paths)
for start, end in zip(paths[0::2], paths[1::2]):
    m = re.fullmatch(r"/hc/d5e1c0de/start\?rid=([0-9a-f-]{36})", start)
    assert m, paths
    assert end == "/hc/d5e1c0de?rid=" + m.group(1), paths
print("pings:", len(paths))' "$T/http.log" "$(dlog_count "^job 'm1' finished: ok")" ||
    fail "the healthchecks pings of the daemon's runs"
assert_file_not_contains "$T/d4.log" "d5e1c0de"

step "a SIGTERM that arrives as a job falls due starts no run"
# The daemon is stopped (SIGSTOP) before m1's time (3 s away at 60x); SIGTERM is sent while that
# time passes, then SIGCONT: the signal interrupts poll() and must be handled before the due job.
write_daemon_conf '5 1 * * *' '@yearly'
daemon_start "$T/d5.log" '2026-03-29T00:02:00Z*60'
kill -STOP "$DPID"
sleep 4
kill -TERM "$DPID"
kill -CONT "$DPID"
DRC=0
wait "$DPID" || DRC=$?
assert_eq 0 "$DRC" "exit status"
assert_eq 1 "$(dlog_count '^shutdown begun \(signal 15\): no job running')" "the shutdown line"
assert_eq 0 "$(dlog_count "^job 'm1' started")" "runs started by a stopping daemon"

step "the global --log-format=json (before the command) works too"
write_daemon_conf '@yearly' '@yearly'
PERMAFROST_TEST_CLOCK='2026-03-29T00:58:30Z*60' "$PERMAFROST" --log-format=json -c "$CONF" \
    daemon 2>"$T/d2.log" &
DPID=$!
track_pid "$DPID"
DLOG=$T/d2.log
dlog_wait '^daemon started: .*m1 next 2027-01-01 00:00 CET' 1 10
daemon_stop INT
assert_eq 0 "$DRC" "exit status after SIGINT"
dlog_check_json

echo "PASS"
