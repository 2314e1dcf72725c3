#!/usr/bin/env bash
# Retention: prune --dry-run lists what would go and removes nothing; prune with keep = last 2 keeps
# the two newest; an unfinished snapshot newer than all others never costs the newest complete one;
# catalog rebuild after losing the state directory gives the same list.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

src=pr_src
pg_new_db "$src"
psql_db "$src" -c "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 5000) i" >/dev/null

# No keep line: every snapshot is kept, so runs do not prune by themselves.
write_conf "$T/pf.conf" "$src"
step "four runs, a second apart (snapshot ids have a one-second resolution)"
for i in 1 2 3 4; do
    assert_ok pf run db
    if ((i < 4)); then sleep 1.1; fi
done
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 4 "${#dirs[@]}" "snapshot directories"
ids=("${dirs[@]##*/}")
assert_ok pf list --json db
assert_eq 4 "$(json_complete_count db <<<"$OUT")" "complete snapshots"
listed=$(python3 -c 'import json, sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))' <<<"$OUT")
assert_eq "${ids[*]}" "$listed" "list --json order (oldest first) and ids"

step "prune --dry-run with keep = last 2: lists the two oldest, removes nothing"
write_conf "$T/pf.conf" "$src" "keep = last 2"
assert_ok pf prune --dry-run
assert_contains "$OUT$ERR" "${ids[0]}" "dry-run output"
assert_contains "$OUT$ERR" "${ids[1]}" "dry-run output"
mapfile -t after < <(snapshot_dirs db)
assert_eq "${dirs[*]}" "${after[*]}" "snapshot directories after --dry-run"
assert_ok pf list --json db
assert_eq 4 "$(json_complete_count db <<<"$OUT")" "complete snapshots after --dry-run"

step "prune: the two newest remain"
assert_ok pf prune
mapfile -t after < <(snapshot_dirs db)
assert_eq "${dirs[2]} ${dirs[3]}" "${after[*]}" "snapshot directories after prune"
assert_ok pf list --json db
listed=$(python3 -c 'import json, sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))' <<<"$OUT")
assert_eq "${ids[2]} ${ids[3]}" "$listed" "list after prune"

step "an unfinished snapshot newer than all others does not count as the newest"
fake=$T/store/db/29991231T235959Z-zzzz
mkdir -m 0700 "$fake"
printf 'partial' >"$fake/$src.dump.zst"
write_conf "$T/pf.conf" "$src" "keep = last 1"
assert_ok pf prune
assert_exists "${dirs[3]}/manifest.json"
assert_missing "${dirs[2]}"
assert_ok pf list --json db
assert_eq 1 "$(json_complete_count db <<<"$OUT")" "complete snapshots"
assert_eq "${ids[3]}" "$(json_snapshot_field db latest id <<<"$OUT")" "the newest complete snapshot"
rm -rf "$fake"

step "a run applies the policy itself and keeps the new snapshot"
sleep 1.1
assert_ok pf run db
mapfile -t after < <(snapshot_dirs db)
assert_eq 1 "${#after[@]}" "snapshot directories after a run with keep = last 1"
assert_ne "${dirs[3]}" "${after[0]}" "the kept snapshot is the new one"
newest=${after[0]##*/}

step "catalog rebuild after the state directory is lost"
write_conf "$T/pf.conf" "$src"
sleep 1.1
assert_ok pf run db
assert_ok pf list --json
before=$OUT
assert_eq 2 "$(json_complete_count db <<<"$before")" "complete snapshots before"
rm -rf "$T/state"
assert_ok pf catalog rebuild
assert_ok pf list --json
python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if a != b:
    sys.exit("list --json differs after catalog rebuild:\n%s\n%s" % (a, b))
' "$before" "$OUT" || fail "list after catalog rebuild"
assert_contains "$OUT" "$newest" "rebuilt list"

echo "PASS"
