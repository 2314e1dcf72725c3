#!/usr/bin/env bash
# type = rclone through the real rclone binary: a `type = local` remote in a temporary rclone.conf
# (found through RCLONE_CONFIG). Backup writes the snapshot there with no temporary key left behind
# and bytes rclone itself reads back as the manifest says; list, restore, prune (rclone purge) and
# catalog rebuild work from the remote; errors name the store and carry rclone's own message.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"

if ! command -v rclone >/dev/null; then
    echo "rclone is not installed (tools/install-deps.sh installs it): skipped"
    exit 77
fi
test_init

src=rc_src
pg_new_db "$src"
psql_db "$src" -c "CREATE TABLE statuses (id bigint PRIMARY KEY, text text);
    INSERT INTO statuses SELECT i, repeat(md5(i::text), 20) FROM generate_series(1, 20000) i;
    CREATE TABLE accounts (id bigint PRIMARY KEY, username text UNIQUE);
    INSERT INTO accounts SELECT i, 'user' || i FROM generate_series(1, 500) i" >/dev/null
pg_fingerprint "$src" >"$T/src.fp"

data=$T/remote-data
mkdir -p "$data"
printf '# test remotes\n[loc]\ntype = local\n\n[other]\ntype = local\n' >"$T/rclone.conf"
export RCLONE_CONFIG=$T/rclone.conf
CONF=$T/pf.conf # read by pf

# $1: the remote; further arguments are extra lines of the [store "offsite"] section.
write_rclone_conf()
{
    local remote=$1 line
    shift
    {
        printf '[global]\nstate_dir = %s/state\n\n' "$T"
        printf '[store "offsite"]\ntype = rclone\nremote = %s\n' "$remote"
        for line in "$@"; do
            printf '%s\n' "$line"
        done
        printf '\n[job "db"]\nkind = postgres\ndatabase = %s\npassword = env:DB_PASS\n' \
            "$(pg_conninfo "$src")"
        printf 'targets = offsite\n'
    } >"$CONF"
}

write_rclone_conf "loc:$data/permafrost"
assert_ok pf config check

step "run: the snapshot lands in the remote, no temporary key left"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db "$data/permafrost")
assert_eq 1 "${#dirs[@]}" "snapshot directories in the remote"
snap=${dirs[0]##*/}
assert_exists "${dirs[0]}/manifest.json"
assert_exists "${dirs[0]}/$src.dump.zst"
assert_eq "" "$(find "$data" -name '*.tmp-*')" "temporary keys left in the remote"

step "rclone itself reads back the bytes the manifest describes"
read -r m_sha m_size < <(rclone cat "loc:$data/permafrost/db/$snap/manifest.json" | python3 -c '
import json, sys
m = json.load(sys.stdin)
a = [a for a in m["artifacts"] if a["name"] == sys.argv[1]]
assert len(a) == 1, "artifact not in manifest"
print(a[0]["sha256"], a[0]["size_bytes"])
' "$src.dump.zst")
assert_eq "$m_sha" "$(rclone cat "loc:$data/permafrost/db/$snap/$src.dump.zst" | sha256sum | cut -d' ' -f1)" \
    "sha256 of the artifact through rclone cat"
assert_eq "$m_size" "$(rclone lsjson --stat "loc:$data/permafrost/db/$snap/$src.dump.zst" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Size"])')" "size through rclone lsjson"

step "list --json names the rclone store"
assert_ok pf list --json db
assert_eq 1 "$(json_complete_count db <<<"$OUT")" "complete snapshots"
assert_eq "$snap" "$(json_snapshot_field db latest id <<<"$OUT")" "snapshot id"
assert_contains "$(json_snapshot_field db latest stores <<<"$OUT")" "offsite" "stores"

step "restore latest --create from the rclone store"
at_exit pg_drop_db rc_restored
assert_ok pf restore db latest --to "$(pg_conninfo_socket rc_restored)" --create
pg_fingerprint rc_restored >"$T/restored.fp"
assert_ok diff "$T/src.fp" "$T/restored.fp"

step "catalog rebuild reads the remote's manifests"
rm -rf "$T/state"
assert_ok pf catalog rebuild
assert_ok pf list --json db
assert_eq "$snap" "$(json_snapshot_field db latest id <<<"$OUT")" "snapshot id after rebuild"

step "prune with keep = last 1 removes the older snapshot through rclone purge"
sleep 1.1 # snapshot ids have a one-second resolution
write_rclone_conf "loc:$data/permafrost"
printf 'keep = last 1\n' >>"$CONF"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db "$data/permafrost")
assert_eq 1 "${#dirs[@]}" "snapshot directories after the pruning run"
assert_ne "$snap" "${dirs[0]##*/}" "the remaining snapshot is the new one"

step "an explicit rclone_config is used (and passed to rclone as --config)"
printf '[elsewhere]\ntype = local\n' >"$T/explicit-rclone.conf"
write_rclone_conf "elsewhere:$data/explicit" "rclone_config = $T/explicit-rclone.conf"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db "$data/explicit")
assert_eq 1 "${#dirs[@]}" "snapshot directories through the explicit config"

step "errors name the store and carry rclone's message"
write_rclone_conf "nosuch:$data/x"
assert_exit 3 pf run db
assert_contains "$ERR" "store 'offsite'" "unknown remote"
assert_contains "$ERR" "remote 'nosuch' is not in rclone config '$T/rclone.conf'" "unknown remote"
write_rclone_conf ":local:$data/x"
assert_exit 3 pf run db
assert_contains "$ERR" "on-the-fly remotes" "on-the-fly remote"
# A file where the remote's directory should be: rclone cannot create anything below it.
printf 'not a directory\n' >"$T/blocker"
write_rclone_conf "loc:$T/blocker/permafrost"
assert_exit 1 pf run db
assert_contains "$ERR" "store 'offsite'" "rclone failure"
assert_contains "$ERR" "rclone" "rclone failure"
assert_contains "$ERR" "not a directory" "rclone's own message"
write_rclone_conf "loc:$data/permafrost" "rclone_config = $T/missing.conf"
assert_exit 3 pf run db
assert_contains "$ERR" "rclone config '$T/missing.conf' does not exist" "missing rclone.conf"

echo "PASS"
