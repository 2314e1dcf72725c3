#!/usr/bin/env bash
# What must hold when things go wrong around a restore, and for a long dump:
# - SIGTERM during a streaming restore: pg_restore is stopped, its single transaction rolls back, exit
#   130, the target stays empty;
# - a corrupted artifact: exit 4 (integrity) naming the store, and a database made by --create is
#   dropped again, so a retry with --create works;
# - kill -9 during a parallel restore leaves no plaintext dump in TMPDIR;
# - a role with idle_in_transaction_session_timeout does not fail a dump that outlasts it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=rs_src
pg_new_db "$src"
psql_db "$src" -c "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 20000) i; CREATE INDEX t_v ON t (v)" >/dev/null
write_conf "$T/pf.conf" "$src"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshot directories"

step "SIGTERM during a streaming restore: exit 130, nothing committed"
target=rs_slow
pg_new_db "$target"
# An event trigger that sleeps on every CREATE keeps pg_restore busy inside its transaction.
psql_su -d "$target" -c "CREATE FUNCTION slow() RETURNS event_trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(1); END \$\$; CREATE EVENT TRIGGER slow ON ddl_command_end EXECUTE FUNCTION slow()" >/dev/null
"$PERMAFROST" -c "$CONF" restore db latest --to "$(pg_conninfo_socket "$target")" \
    >"$T/r.out" 2>"$T/r.err" &
pid=$!
track_pid "$pid"
sleep 2
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq 130 "$rc" "exit code after SIGTERM (stderr: $(cat "$T/r.err"))"
tables=$(psql_su -d "$target" -Atc "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")
assert_eq 0 "$tables" "tables in the target after the cancelled restore"
assert_ok pf list --json db

step "a corrupted artifact: exit 4 naming the store, and --create's database is dropped again"
artifact="${dirs[0]}/$src.dump.zst"
cp "$artifact" "$T/good.zst"
python3 - "$artifact" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x55
open(path, "wb").write(data)
PY
pg_drop_db rs_new || true
assert_exit 4 pf restore db latest --to "$(pg_conninfo_socket rs_new)" --create
assert_contains "$ERR" "store 'local'" "error"
exists=$(psql_su -Atc "SELECT count(*) FROM pg_database WHERE datname = 'rs_new'")
assert_eq 0 "$exists" "databases named rs_new after the failed restore"
cp "$T/good.zst" "$artifact"
assert_ok pf restore db latest --to "$(pg_conninfo_socket rs_new)" --create
assert_eq "$(pg_fingerprint "$src")" "$(pg_fingerprint rs_new)" "restored data"
pg_drop_db rs_new || true

step "kill -9 during a parallel restore leaves no dump in TMPDIR"
pg_drop_db rs_par || true
pg_new_db rs_par
psql_su -d rs_par -c "CREATE FUNCTION slow() RETURNS event_trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(1); END \$\$; CREATE EVENT TRIGGER slow ON ddl_command_end EXECUTE FUNCTION slow()" >/dev/null
"$PERMAFROST" -c "$CONF" restore db latest --to "$(pg_conninfo_socket rs_par)" --jobs 2 \
    >"$T/p.out" 2>"$T/p.err" &
pid=$!
track_pid "$pid"
sleep 2
kill -KILL "$pid"
wait "$pid" || true
assert_eq "" "$(find "$TMPDIR" -name 'permafrost-restore-*' -print -quit)" "restore temp files left"
# The orphaned pg_restore still holds the unlinked file; it ends with its connection.
psql_su -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'rs_par'" >/dev/null

step "a role's idle_in_transaction_session_timeout does not fail a long dump"
psql_su -c "ALTER ROLE mastodon SET idle_in_transaction_session_timeout = '1s'" >/dev/null
at_exit psql_su -c "ALTER ROLE mastodon RESET idle_in_transaction_session_timeout"
slow=$T/slow-pg_dump
cat >"$slow" <<SH
#!/bin/sh
[ "\$1" = --version ] || sleep 3
exec "$PG_BIN/pg_dump" "\$@"
SH
chmod +x "$slow"
write_conf "$T/pf.conf" "$src" "pg_dump = $slow"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 2 "${#dirs[@]}" "snapshot directories after the slow run"
