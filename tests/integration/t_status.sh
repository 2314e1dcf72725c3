#!/usr/bin/env bash
# `permafrost status`: real runs (a postgres job to a local store, mirror jobs between local
# directories, a postgres job pointing at a closed port that fails), then the table, --json (checked
# with python3), the exit status as a monitoring check, staleness (a job with stale_after = 1m whose
# last success the test ages in the catalog), and `status --metrics` parsed by
# python3-prometheus-client and by the strict line checker tests/lib/prom_check.py (which must also
# refuse a broken exposition). The metrics server itself is tested in the unit suite `status` over
# a real loopback socket.
# timeout: 120
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

# The Debian package of prometheus-client is installed for the system python.
PY=/usr/bin/python3
prom_check=$root/tests/lib/prom_check.py

src=stat_src
pg_new_db "$src"
psql_db "$src" -q -c "CREATE TABLE t (id int PRIMARY KEY, s text);
    INSERT INTO t SELECT g, repeat('x', 50) FROM generate_series(1, 2000) g;" >/dev/null
closed=$(free_port)
mkdir -p "$T/media/a" "$T/mirror"
printf 'one\n' >"$T/media/a/1.png"
printf 'two two\n' >"$T/media/2.png"
write_conf "$T/pf.conf" "$src" "schedule = @daily"
cat >>"$T/pf.conf" <<EOF

[store "media_src"]
type = local
path = $T/media

[store "media_dst"]
type = local
path = $T/mirror

[job "media"]
kind = mirror
source = media_src
destination = media_dst
schedule = 0 3,15 * * *

[job "aging"]
kind = mirror
source = media_src
destination = media_dst:aging
stale_after = 1m

[job "broken"]
kind = postgres
database = host=127.0.0.1 port=$closed dbname=nothing user=nobody connect_timeout=3
targets = local
schedule = @hourly

[job "manual"]
kind = mirror
source = media_src
destination = media_dst:manual
EOF
sed -i "s|^state_dir = .*|&\ntimezone = UTC|" "$T/pf.conf"

step "before any run: nothing is stale yet, nothing failed"
assert_ok pf status
assert_contains "$OUT" "JOB"
assert_match "$OUT" "db +postgres +- +never"
assert_ok pf status --json

step "real runs: a postgres snapshot, two mirrors, and one failure"
assert_ok pf run db
assert_ok pf run media
assert_ok pf run aging
assert_fails pf run broken

step "status: the failed job makes it exit 1 and is named"
assert_exit 1 pf status
printf '%s\n' "$OUT"
assert_match "$OUT" "db +postgres +[0-9-]+ [0-9:]+ +ok "
assert_match "$OUT" "media +mirror +[0-9-]+ [0-9:]+ +ok "
assert_match "$OUT" "broken +postgres +[0-9-]+ [0-9:]+ +failed "
assert_match "$OUT" "manual +mirror +- +never"
assert_contains "$OUT" "job 'broken': last run failed:"
assert_contains "$ERR" "job 'broken': last run failed"
assert_not_contains "$OUT" "STALE:"
assert_match "$OUT" "local +local +1 "
assert_match "$OUT" "media_src +local +- +- +- \\(mirror source of job 'media'\\)"
assert_match "$OUT" "media_dst +local +- +- +- \\(mirror destination of job 'media'\\)"
assert_contains "$OUT" "NEWEST (UTC)"
assert_not_contains "$OUT$ERR" "$DB_PASS"

step "status --json"
assert_exit 1 pf status --json
printf '%s' "$OUT" >"$T/status.json"
"$PY" - "$T/status.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and d["failed_jobs"] == 1 and d["stale_jobs"] == 0, d
jobs = {j["job"]: j for j in d["jobs"]}
assert list(jobs) == ["db", "media", "aging", "broken", "manual"], list(jobs)
db = jobs["db"]
assert db["kind"] == "postgres" and db["schedule"] == "@daily"
assert db["last_run"]["result"] == "ok" and db["last_run"]["stored_bytes"] > 0
assert db["last_run"]["snapshot_id"] and db["last_run"]["duration_ms"] >= 0
assert db["last_success"]["snapshot_id"] == db["last_run"]["snapshot_id"]
assert db["next_run"].endswith("T00:00:00Z"), db["next_run"]
assert db["stale_after_ms"] == 36 * 3600 * 1000 and db["stale_after_derived"] is True
assert db["stale"] is False and db["stale_reason"] is None
media = jobs["media"]
assert media["last_run"]["mirror"] == {"copied_objects": 2, "copied_bytes": 12,
                                      "deleted_objects": 0, "deleted_bytes": 0}, media
assert media["stale_after_ms"] == 18 * 3600 * 1000
broken = jobs["broken"]
assert broken["last_run"]["result"] == "failed" and broken["last_success"] is None
assert broken["last_run"]["error"], broken
assert broken["last_run_failed"] is True
manual = jobs["manual"]
assert manual["last_run"] is None and manual["next_run"] is None
assert manual["stale_after_ms"] == 0 and manual["stale"] is False
stores = {s["store"]: s for s in d["stores"]}
assert stores["local"]["snapshots"] == 1 and stores["local"]["size_bytes"] > 0
assert stores["local"]["newest"] is not None
assert stores["media_dst"]["snapshots"] == 0 and stores["media_dst"]["newest"] is None
print("json ok")
PYEOF

step "a second run of the failed job that succeeds clears the failure"
# Point 'broken' at the real server: its last run is now ok, and status exits 0.
sed -i "s|^database = host=127.0.0.1 port=$closed .*|database = $(pg_conninfo "$src")\npassword = env:DB_PASS|" "$T/pf.conf"
assert_ok pf run broken
assert_ok pf status

step "stale: the last success of 'aging' (stale_after = 1m) made ten minutes old"
# The catalog is a cache the test may edit: ageing the rows stands in for waiting ten minutes.
sqlite3 "$T/state/catalog.db" \
    "UPDATE runs SET started_at = started_at - 600, ended_at = ended_at - 600 WHERE job = 'aging';"
assert_exit 1 pf status
assert_match "$OUT" "aging +mirror .*STALE: last success 10 min ago, expected within 1 min"
assert_contains "$ERR" "job 'aging' is stale (last success 10 min ago"
assert_exit 1 pf status --json
"$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
j = {j["job"]: j for j in d["jobs"]}
assert j["aging"]["stale"] is True and d["stale_jobs"] == 1, d
assert j["aging"]["stale_reason"].startswith("last success 10 min ago"), j["aging"]
assert j["db"]["stale"] is False
' "$OUT"

step "status --metrics: parsed by prometheus_client and the strict checker; exit 0 although stale"
assert_ok pf status --metrics
printf '%s\n' "$OUT" >"$T/metrics.prom"
run "$PY" "$prom_check" --dump "$T/metrics.prom"
[[ $RC == 0 ]] || fail "prom_check refused the exposition: $ERR"
dump=$OUT
assert_contains "$dump" 'permafrost_job_stale{job="aging"} 1.0'
assert_contains "$dump" 'permafrost_job_stale{job="db"} 0.0'
assert_contains "$dump" 'permafrost_job_runs_total{job="broken",result="failed"} 1.0'
assert_contains "$dump" 'permafrost_job_runs_total{job="broken",result="ok"} 1.0'
assert_contains "$dump" 'permafrost_job_errors_total{job="broken"} 1.0'
assert_contains "$dump" 'permafrost_job_last_run_success{job="db"} 1.0'
assert_contains "$dump" 'permafrost_mirror_copied_objects_total{job="media"} 2.0'
assert_contains "$dump" 'permafrost_mirror_last_run_copied_bytes{job="media"} 12.0'
assert_contains "$dump" 'permafrost_snapshots{job="db",store="local"} 1.0'
assert_contains "$dump" 'permafrost_job_stale_after_seconds{job="aging"} 60.0'
assert_match "$dump" 'permafrost_job_last_success_timestamp_seconds\{job="db"\} [0-9.e+]+'
assert_match "$dump" 'permafrost_build_info\{version="[0-9.]+"\} 1.0'
assert_not_contains "$dump" 'permafrost_daemon_' # only a daemon exports those
assert_not_contains "$dump" 'job="manual"} 1.0'  # never ran: no last-run samples

step "the strict checker refuses what Prometheus would"
bad()
{
    printf '%s' "$1" >"$T/bad.prom"
    run "$PY" "$prom_check" "$T/bad.prom"
    [[ $RC != 0 ]] || fail "prom_check accepted: $1"
}
bad $'permafrost_x 1\n'
bad $'# HELP permafrost_x x\n# TYPE permafrost_x gauge\npermafrost_x{a="b\\q"} 1\n'
bad $'# HELP permafrost_x x\n# TYPE permafrost_x gauge\npermafrost_x 1\npermafrost_x 2\n'
bad $'# HELP permafrost_x x\n# TYPE permafrost_x counter\npermafrost_x 1\n'
bad $'# HELP permafrost_x x\n# TYPE permafrost_x gauge\npermafrost_y 1\n'
bad $'# HELP permafrost_x x\n# TYPE permafrost_x gauge\n9bad 1\n'

step "usage errors"
assert_exit 2 pf status --json --metrics
assert_exit 2 pf status extra
assert_ok pf status --help
assert_contains "$OUT" "exit status"
