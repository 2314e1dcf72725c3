#!/usr/bin/env bash
# Interrupting a run: SIGINT and SIGTERM while pg_dump streams must give exit 130 and no snapshot;
# SIGKILL must leave nothing that looks complete and must not block the next run, which cleans up;
# a pg_dump that exits 1 after valid partial output must fail the run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=sg_src
pg_new_db "$src"
"$root/tools/gen-mastodon-db.sh" -q --size-mb 12 -- -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" \
    -U mastodon -d "$src"

# write_wrapper PATH MODE: a pg_dump that sends the first 1 MB of the real dump, then with MODE
# stall says so ($T/streaming) and stalls for a minute before sending the rest, and with MODE fail
# exits 1. It records its own PIDs so the test can check that they are gone, and kills only its own
# children.
write_wrapper()
{
    cat >"$1" <<EOF
#!/usr/bin/env bash
set -uo pipefail
real=$PG_BIN/pg_dump
for a in "\$@"; do
    [[ \$a == --version || \$a == -V ]] && exec "\$real" "\$@"
done
echo \$\$ >"$T/wrapper.pid"
fifo=\$(mktemp -u "$T/fifo.XXXXXX")
mkfifo "\$fifo"
"\$real" "\$@" >"\$fifo" &
pg=\$!
echo "\$pg" >"$T/pg_dump.pid"
sl=
cleanup()
{
    kill -KILL "\$pg" 2>/dev/null
    [[ -n \$sl ]] && kill "\$sl" 2>/dev/null
    rm -f "\$fifo"
}
trap 'cleanup; exit 143' TERM INT HUP
exec 3<"\$fifo"
dd bs=65536 count=16 iflag=fullblock status=none <&3
if [[ $2 == fail ]]; then
    cleanup
    echo "pg_dump_stall: failing on purpose after 1 MB" >&2
    exit 1
fi
touch "$T/streaming"
sleep 60 &
sl=\$!
echo "\$sl" >"$T/sleep.pid"
wait "\$sl"
cat <&3
wait "\$pg"
rc=\$?
rm -f "\$fifo"
exit "\$rc"
EOF
    chmod 0755 "$1"
}
write_wrapper "$T/pg_dump_stall" stall
write_wrapper "$T/pg_dump_fail" fail
write_conf "$T/stall.conf" "$src" "pg_dump = $T/pg_dump_stall"
write_conf "$T/fail.conf" "$src" "pg_dump = $T/pg_dump_fail"
write_conf "$T/pf.conf" "$src"

wait_for()
{
    local i
    for ((i = 0; i < 300; i++)); do
        [[ -e $1 ]] && return 0
        sleep 0.1
    done
    fail "timed out waiting for $1"
}

# Starts `permafrost run db` with the stalling pg_dump in the background, with default signal
# dispositions (a background job of a script would ignore SIGINT), and waits until it streams.
start_stalled_run()
{
    rm -f "$T/streaming" "$T/wrapper.pid" "$T/pg_dump.pid" "$T/sleep.pid"
    python3 -c '
import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
    signal.signal(s, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])
' "$PERMAFROST" -c "$T/stall.conf" run db >"$T/bg.out" 2>"$T/bg.err" &
    PF_PID=$!
    track_pid "$PF_PID"
    wait_for "$T/streaming"
    local p
    for p in wrapper pg_dump sleep; do
        wait_for "$T/$p.pid"
        track_pid "$(cat "$T/$p.pid")"
    done
}

gone_within()
{
    local pid=$1 i
    for ((i = 0; i < 100; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

no_manifest()
{
    local m
    m=$(find "$T/store" -name manifest.json -print 2>/dev/null || true)
    assert_eq "" "$m" "manifests ($1)"
    CONF=$T/pf.conf
    assert_ok pf list --json db
    assert_eq 0 "$(json_complete_count db <<<"$OUT")" "complete snapshots ($1)"
}

for sig in INT TERM; do
    step "SIG$sig while pg_dump streams"
    start_stalled_run
    pgdump=$(cat "$T/pg_dump.pid")
    kill "-$sig" "$PF_PID"
    rc=0
    wait "$PF_PID" || rc=$?
    cat "$T/bg.err"
    assert_eq 130 "$rc" "exit status after SIG$sig"
    gone_within "$pgdump" || fail "pg_dump (pid $pgdump) still runs 10 s after permafrost exited"
    no_manifest "after SIG$sig"
    # An orderly exit removes permafrost's own temporary files (such as a passfile) too.
    temps=$(find "$TMPDIR" -mindepth 1 -maxdepth 1 -name 'permafrost*' -print)
    assert_eq "" "$temps" "permafrost's temporary files after SIG$sig"
done

step "SIGKILL while pg_dump streams"
start_stalled_run
kill -KILL "$PF_PID"
rc=0
wait "$PF_PID" || rc=$?
assert_eq 137 "$rc" "exit status after SIGKILL"
no_manifest "after SIGKILL"
mapfile -t left < <(snapshot_dirs db)
echo "leftover directories: ${#left[@]}"

step "the next run works (the orphaned pg_dump must not hold the job lock) and cleans up"
CONF=$T/pf.conf
assert_ok pf run db
orphan=$(cat "$T/wrapper.pid")
kill -TERM "$orphan" 2>/dev/null || true
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshot directories after the good run"
assert_exists "${dirs[0]}/manifest.json"
leftovers=$(find "$T/store" -name '.*' -print)
assert_eq "" "$leftovers" "temporary files in the store"

step "pg_dump exits 1 after writing valid partial output"
rm -f "$T/wrapper.pid"
run "$PERMAFROST" -c "$T/fail.conf" run db
assert_ne 0 "$RC" "exit status"
assert_contains "$ERR" "pg_dump" "error message"
[[ -e $T/wrapper.pid ]] || fail "the wrapper did not run"
manifests=$(find "$T/store" -name manifest.json -print | wc -l)
assert_eq 1 "$manifests" "manifests (only the good snapshot's)"
CONF=$T/pf.conf
assert_ok pf list --json db
assert_eq 1 "$(json_complete_count db <<<"$OUT")" "complete snapshots"

echo "PASS"
