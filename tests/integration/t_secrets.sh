#!/usr/bin/env bash
# The database password never shows up where others can read it: not in any process's argv while
# pg_dump runs (ps), not in the logs (-v), the manifest, the artifact, the catalog, `config show` or
# `list`. A password with the characters a passfile must escape (':' and '\') must still work.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

# A role of its own, with a password that is easy to grep for (core) and hard to escape (the rest).
core="pfSECRET$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)"
password="${core}:with\\back slash#" # no single quote: it goes into SQL below as it is
role=pf_secret_role
db=sc_src
psql_su >/dev/null <<SQL
DROP DATABASE IF EXISTS $db WITH (FORCE);
DROP ROLE IF EXISTS $role;
CREATE ROLE $role LOGIN PASSWORD '$password';
CREATE DATABASE $db OWNER $role;
SQL
drop_role()
{
    pg_drop_db "$db"
    psql_su -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
}
[[ ${_PG_OWNED:-0} == 1 ]] || at_exit drop_role
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" -U "$role" -d "$db" \
    -c "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 20000) i" \
    >/dev/null

# A pg_dump that records what others could see while it runs: every process's argv (ps), its own
# argv, and where its password comes from; then runs the real pg_dump.
spy=$T/pg_dump_spy
cat >"$spy" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do
    [[ \$a == --version || \$a == -V ]] && exec "$PG_BIN/pg_dump" "\$@"
done
ps -eo pid,args >"$T/ps.txt"
tr '\0' '\n' </proc/\$\$/cmdline >"$T/argv.txt"
tr '\0' '\n' </proc/\$PPID/cmdline >"$T/parent-argv.txt"
{
    echo "PGPASSFILE=\${PGPASSFILE:-}"
    [[ -n \${PGPASSFILE:-} ]] && stat -L -c 'mode=%a' "\$PGPASSFILE"
    [[ -n \${PGPASSFILE:-} ]] && echo "target=\$(readlink "\$PGPASSFILE")"
    [[ -n \${PGPASSWORD:-} ]] && echo "PGPASSWORD is set"
} >"$T/spy-env.txt"
exec "$PG_BIN/pg_dump" "\$@"
EOF
chmod 0755 "$spy"

conf=$T/pf.conf
cat >"$conf" <<EOF
[global]
state_dir = $T/state

[store "local"]
type = local
path = $T/store

[job "db"]
kind = postgres
database = host=$PGHOST_TEST port=$PGPORT_TEST dbname=$db user=$role
password = env:PF_TEST_SECRET
targets = local
pg_dump = $spy
EOF
CONF=$conf
export PF_TEST_SECRET=$password

step "run -v with a password that needs escaping"
assert_ok pf -v run db
logs="$OUT$ERR"
assert_exists "$T/ps.txt"

check_clean()
{
    # $1: what, $2: text
    assert_not_contains "$2" "$core" "$1"
}

step "the password is in no argv while pg_dump runs"
check_clean "ps output while pg_dump ran" "$(cat "$T/ps.txt")"
check_clean "pg_dump's argv" "$(cat "$T/argv.txt")"
check_clean "permafrost's argv" "$(cat "$T/parent-argv.txt")"
cat "$T/spy-env.txt"
passfile=$(sed -n 's/^PGPASSFILE=//p' "$T/spy-env.txt")
assert_match "$passfile" '^/proc/self/fd/[0-9]+$' "PGPASSFILE"
assert_file_contains "$T/spy-env.txt" "mode=600"
# An in-memory file: nothing on disk to leak, even when permafrost is killed with -9.
assert_file_contains "$T/spy-env.txt" "target=/memfd:permafrost-pgpass"
assert_eq "" "$(find "$TMPDIR" -mindepth 1 -print -quit)" "files left in TMPDIR"

step "the password is not in the logs (-v), the store or the catalog"
check_clean "run -v output" "$logs"
hits=$(grep -rlaF -- "$core" "$T/store" || true)
assert_eq "" "$hits" "files in the store that contain the password"
for f in "$T"/store/db/*/*.zst; do
    if zstd -dc "$f" | grep -qaF -- "$core"; then
        fail "the decompressed artifact $f contains the password"
    fi
done
hits=$(grep -rlaF -- "$core" "$T/state" || true)
assert_eq "" "$hits" "files in the state directory that contain the password"
while IFS= read -r -d '' f; do
    if sqlite3 "$f" .dump 2>/dev/null | grep -qaF -- "$core"; then
        fail "the catalog $f contains the password"
    fi
done < <(find "$T/state" -type f \( -name '*.db' -o -name '*.sqlite*' \) -print0)

step "config show, list, restore -v and errors do not show it"
assert_ok pf config show
check_clean "config show" "$OUT$ERR"
assert_contains "$OUT" "env:PF_TEST_SECRET" "config show"
assert_ok pf -v list db
check_clean "list -v" "$OUT$ERR"
assert_ok pf -v list --json
check_clean "list --json" "$OUT$ERR"
at_exit pg_drop_db sc_restored
psql_su -c "CREATE DATABASE sc_restored OWNER $role" >/dev/null
assert_ok pf -v restore db latest --to "host=$PGHOST_TEST port=$PGPORT_TEST dbname=sc_restored user=$role"
check_clean "restore -v" "$OUT$ERR"
n=$(psql_su -d sc_restored -At -c "SELECT count(*) FROM t")
assert_eq 20000 "$n" "rows restored over TCP with the job's password"

step "a password from a file is shown as file:PATH only"
printf '%s\n' "$password" >"$T/pw"
chmod 0600 "$T/pw"
sed -i "s|^password = .*|password = file:$T/pw|" "$conf"
assert_ok pf config show
check_clean "config show (file:)" "$OUT$ERR"
assert_contains "$OUT" "file:$T/pw" "config show (file:)"
assert_ok pf -v run db
check_clean "run -v (file:)" "$OUT$ERR"

step "a wrong password: the error names the user, not the password"
sed -i "s|^password = .*|password = env:PF_TEST_SECRET|" "$conf"
run env PF_TEST_SECRET="${core}x" "$PERMAFROST" -c "$conf" -v run db
assert_ne 0 "$RC" "exit status with a wrong password"
check_clean "error output" "$OUT$ERR"

echo "PASS"
