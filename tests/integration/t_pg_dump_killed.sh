#!/usr/bin/env bash
# pg_dump dies in the middle of the stream (SIGKILL after 1 MB of valid output): the run must fail,
# leave no manifest and no listed snapshot; the next good run must succeed and remove the leftover.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=pk_src
pg_new_db "$src"
"$root/tools/gen-mastodon-db.sh" -q --size-mb 12 -- -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" \
    -U mastodon -d "$src"

# The wrapper forwards the first 1 MB of the real pg_dump's output, then kills pg_dump by its own
# PID (never by name) and exits with pg_dump's status. `--version` goes straight to pg_dump.
wrapper=$T/pg_dump_killed
cat >"$wrapper" <<EOF
#!/usr/bin/env bash
set -uo pipefail
real=$PG_BIN/pg_dump
for a in "\$@"; do
    [[ \$a == --version || \$a == -V ]] && exec "\$real" "\$@"
done
fifo=\$(mktemp -u "$T/pg_dump_fifo.XXXXXX")
mkfifo "\$fifo"
"\$real" "\$@" >"\$fifo" &
pid=\$!
head -c 1048576 <"\$fifo"
kill -KILL "\$pid" 2>/dev/null
wait "\$pid"
rc=\$?
rm -f "\$fifo"
echo "pg_dump_killed: killed pg_dump \$pid (status \$rc)" >&2
exit "\$rc"
EOF
chmod 0755 "$wrapper"

write_conf "$T/pf.conf" "$src" "pg_dump = $wrapper"
step "run with pg_dump killed mid-stream"
assert_fails pf run db
assert_contains "$ERR" "pg_dump" "error message"
manifests=$(find "$T/store" -name manifest.json 2>/dev/null || true)
assert_eq "" "$manifests" "manifests after a failed run"
assert_ok pf list --json db
assert_eq 0 "$(json_complete_count db <<<"$OUT")" "complete snapshots after a failed run"
mapfile -t left < <(snapshot_dirs db)
echo "leftover directories: ${#left[@]}"

step "the next run with the real pg_dump succeeds and cleans up"
write_conf "$T/pf.conf" "$src"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshot directories after the good run (leftover removed)"
assert_exists "${dirs[0]}/manifest.json"
for d in "${left[@]}"; do
    assert_missing "$d"
done
leftovers=$(find "$T/store" -name '.*' -print)
assert_eq "" "$leftovers" "temporary files left in the store"
assert_ok pf list --json db
assert_eq 1 "$(json_complete_count db <<<"$OUT")" "complete snapshots after the good run"

echo "PASS"
