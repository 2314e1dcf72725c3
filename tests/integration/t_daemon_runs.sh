#!/usr/bin/env bash
# `permafrost daemon` with slow postgres jobs (a pg_dump wrapper that waits before dumping) on
# `* * * * *` and the test clock at 60x, so each run spans several clock minutes: a job never runs
# twice at once and the minutes that pass while it runs give one more run, not one each
# (coalesced); two jobs overlap with max_concurrent_jobs = 2 and never with 1; a job locked by a
# manual `permafrost run` is logged as skipped, and the daemon runs it once the lock is free.
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

src=dr_src
pg_new_db "$src"
psql_db "$src" -q -c "CREATE TABLE t (i int); INSERT INTO t SELECT generate_series(1, 1000)"

make_slow_pg_dump

# write_daemon_conf MAX_CONCURRENT SCHEDULE-DB2: jobs db and db2 (the same database), db on
# `* * * * *`, db2 on SCHEDULE-DB2 ("" for none).
write_daemon_conf()
{
    local j
    {
        printf '[global]\nstate_dir = %s/state\ntimezone = UTC\nmetrics_listen = off\n' "$T"
        printf 'max_concurrent_jobs = %s\n\n' "$1"
        printf '[store "local"]\ntype = local\npath = %s/store\n' "$T"
        for j in db db2; do
            printf '\n[job "%s"]\nkind = postgres\ndatabase = %s\n' "$j" "$(pg_conninfo "$src")"
            printf 'password = env:DB_PASS\ntargets = local\npg_dump = %s/pg_dump_slow\n' "$T"
            printf 'keep = last 100\n'
            if [[ $j == db ]]; then
                printf 'schedule = * * * * *\n'
            elif [[ -n $2 ]]; then
                printf 'schedule = %s\n' "$2"
            fi
        done
    } >"$T/pf.conf"
    CONF=$T/pf.conf
}

complete_snapshots()
{
    pf list --json "$1" | json_complete_count "$1"
}

step "slow runs: never two of a job at once, coalesced; two jobs overlap (max_concurrent_jobs = 2)"
echo 2 >"$T/pg_delay"
write_daemon_conf 2 '* * * * *'
daemon_start "$T/a.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' finished: ok" 2 60
dlog_wait "^job 'db' started" 3 30
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
dlog_check_json
assert_eq 1 "$(dlog_runs jobs.db.most_at_once)" "runs of db at once"
assert_eq 1 "$(dlog_runs jobs.db2.most_at_once)" "runs of db2 at once"
assert_eq 2 "$(dlog_runs most_at_once)" "runs at once (db and db2)"
starts=$(dlog_runs jobs.db.starts)
# Clock minutes from the first due time (06:59) to the due time logged last: each one a run
# without coalescing.
minutes=$("$DAEMON_PYTHON" -c '
import json, re, sys
last = None
for l in open(sys.argv[1]):
    m = re.search(r"next 2026-03-08 (\d\d):(\d\d) UTC", json.loads(l)["msg"])
    if m:
        last = int(m.group(1)) * 60 + int(m.group(2))
print(last - (6 * 60 + 59))' "$T/a.log")
echo "db: $starts runs over $minutes clock minutes"
((starts >= 3)) || fail "db ran $starts times"
((minutes > starts + 1)) || fail "db ran $starts times in $minutes clock minutes: not coalesced"
assert_eq "$(dlog_count "^job 'db' finished: ok")" "$(complete_snapshots db)" \
    "db snapshots (one per successful run)"
assert_eq "$(dlog_count "^job 'db' started")" "$(dlog_count "^job 'db' finished: ok")" \
    "db runs started and finished ok (the stop let them finish)"

step "max_concurrent_jobs = 1 serialises the two jobs"
echo 1 >"$T/pg_delay"
write_daemon_conf 1 '* * * * *'
daemon_start "$T/b.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' finished: ok" 2 40
dlog_wait "^job 'db2' finished: ok" 1 40
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
assert_eq 1 "$(dlog_runs most_at_once)" "runs at once"

step "a job locked by a manual run is skipped, then run when the lock is free"
write_daemon_conf 2 ''
echo 3 >"$T/pg_delay"
"$PERMAFROST" -c "$CONF" run db >"$T/manual.out" 2>"$T/manual.err" &
manual=$!
track_pid "$manual"
for ((i = 0; i < 100; i++)); do
    compgen -G "$T/dumping.*" >/dev/null && break
    sleep 0.1
done
compgen -G "$T/dumping.*" >/dev/null || fail "the manual run did not start dumping"
echo 0 >"$T/pg_delay"
before=$(complete_snapshots db)
daemon_start "$T/c.log" '2026-03-08T06:58:30Z*60'
dlog_wait "^job 'db' skipped: .*pid $manual" 1 20
rc=0
wait "$manual" || rc=$?
assert_eq 0 "$rc" "exit status of the manual run"
dlog_wait "^job 'db' finished: ok" 1 20
daemon_stop TERM
assert_eq 0 "$DRC" "exit status"
assert_eq 1 "$(dlog_runs jobs.db.most_at_once)" "runs of db at once"
# Skipped at each time while the manual run held the lock, then ok.
[[ $(dlog_runs jobs.db.results) =~ ^\[(\"skipped\",\ )+\"ok\" ]] ||
    fail "db's runs in the daemon: $(dlog_runs jobs.db.results) (expected skipped, then ok)"
assert_eq $((before + 1 + $(dlog_count "^job 'db' finished: ok"))) "$(complete_snapshots db)" \
    "snapshots: the manual run's and the daemon's successful ones"
assert_eq 0 "$(dlog_count "^job 'db2' started")" "runs of the unscheduled db2"

echo "PASS"
