#!/usr/bin/env bash
# Errors an operator meets: wrong password, nothing listening, mistakes in the config file (exit 3
# with FILE:LINE), and a job that is already running (exit 5 naming the holder).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=er_src
pg_new_db "$src"
psql_db "$src" -c "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)" \
    >/dev/null

no_snapshot()
{
    local m
    m=$(find "$T/store" -name manifest.json -print 2>/dev/null || true)
    assert_eq "" "$m" "manifests after a failed run"
}

step "wrong password: exit 1, mentions authentication, never the password"
write_conf "$T/pf.conf" "$src"
wrong="pfwrong$RANDOM$RANDOM"
run env DB_PASS="$wrong" "$PERMAFROST" -c "$CONF" run db
assert_eq 1 "$RC" "exit status"
assert_contains "${ERR,,}" "authentication" "error message"
assert_contains "$ERR" "mastodon" "error message (the user)"
assert_not_contains "$ERR$OUT" "$wrong" "output"
no_snapshot

step "nothing listening: exit 1, mentions the refused connection"
port=$(free_port)
write_conf "$T/pf.conf" "$src"
sed -i "s|^database = .*|database = host=127.0.0.1 port=$port dbname=$src user=mastodon connect_timeout=5|" "$CONF"
assert_exit 1 pf run db
assert_contains "${ERR,,}" "refused" "error message"
assert_contains "$ERR" "$port" "error message (the port)"
no_snapshot

# conf_error EXPECTED-LINE NEEDLE: the last command printed "FILE:LINE: ..." with NEEDLE and exited 3.
conf_error()
{
    assert_eq 3 "$RC" "exit status for a config error"
    assert_contains "$ERR" "$CONF:$1:" "error location"
    assert_contains "$ERR" "$2" "error message"
}

step "config: unknown key, with a did-you-mean"
write_conf "$T/pf.conf" "$src" "compresion = zstd:3"
line=$(grep -n '^compresion' "$CONF" | cut -d: -f1)
run pf config check
conf_error "$line" "compresion"
assert_contains "$ERR" "did you mean 'compression'" "hint"
run pf run db
conf_error "$line" "compresion"

step "config: unknown store in targets"
write_conf "$T/pf.conf" "$src"
sed -i 's|^targets = local$|targets = local, offsite|' "$CONF"
line=$(grep -n '^targets' "$CONF" | cut -d: -f1)
run pf config check
conf_error "$line" "offsite"

step "config: password from an environment variable that is not set"
write_conf "$T/pf.conf" "$src"
sed -i 's|^password = env:DB_PASS$|password = env:PF_TEST_UNSET_VARIABLE|' "$CONF"
line=$(grep -n '^password' "$CONF" | cut -d: -f1)
unset PF_TEST_UNSET_VARIABLE
run pf config check
conf_error "$line" "PF_TEST_UNSET_VARIABLE"
run pf run db
conf_error "$line" "PF_TEST_UNSET_VARIABLE"

step "config: a bad value and a section header typo"
write_conf "$T/pf.conf" "$src" "keep = last three"
line=$(grep -n '^keep' "$CONF" | cut -d: -f1)
run pf config check
conf_error "$line" "keep"
write_conf "$T/pf.conf" "$src"
sed -i 's|^\[store "local"\]$|[stroe "local"]|' "$CONF"
line=$(grep -n '^\[stroe' "$CONF" | cut -d: -f1)
run pf config check
conf_error "$line" "stroe"

step "a second run of a running job: exit 5, naming the holder"
# pg_dump that waits before starting, so that the first run holds the lock for a while.
slow=$T/pg_dump_slow
cat >"$slow" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do
    [[ \$a == --version || \$a == -V ]] && exec "$PG_BIN/pg_dump" "\$@"
done
touch "$T/slow_started"
sleep 4
exec "$PG_BIN/pg_dump" "\$@"
EOF
chmod 0755 "$slow"
write_conf "$T/pf.conf" "$src" "pg_dump = $slow"
rm -f "$T/slow_started"
# Not through the pf function: $! must be permafrost's own PID, not a subshell's.
"$PERMAFROST" -c "$CONF" run db >"$T/first.out" 2>"$T/first.err" &
first=$!
track_pid "$first"
for ((i = 0; i < 200; i++)); do
    [[ -e $T/slow_started ]] && break
    sleep 0.1
done
assert_exists "$T/slow_started"
run pf run db
assert_eq 5 "$RC" "exit status of the second run"
assert_contains "$ERR" "locked" "error message"
assert_contains "$ERR" "pid $first" "error message (the holder)"
rc=0
wait "$first" || rc=$?
assert_eq 0 "$rc" "exit status of the first run"
step "after the first run, the job runs again"
write_conf "$T/pf.conf" "$src"
assert_ok pf run db
assert_ok pf list --json db
assert_eq 2 "$(json_complete_count db <<<"$OUT")" "complete snapshots"

echo "PASS"
