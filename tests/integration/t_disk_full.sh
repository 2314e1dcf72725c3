#!/usr/bin/env bash
# The store fills up (a 2 MB tmpfs, a dump of ~5 MB of incompressible data): the run must fail with
# "No space left on device", leave no manifest, list no snapshot and remove its temporary files.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

mnt=$T/small
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=2m,mode=0700 permafrost-test "$mnt" 2>"$T/mount.err"; then
    echo "SKIP: cannot mount a tmpfs here: $(cat "$T/mount.err")"
    exit 77
fi
unmount()
{
    umount "$1" 2>/dev/null || umount -l "$1"
}
at_exit unmount "$mnt"

src=df_src
pg_new_db "$src"
# md5 digests as bytea: 5 MB that no compressor can shrink (pg_dump writes it as 10 MB of hex).
psql_db "$src" >/dev/null <<'SQL'
CREATE TABLE blobs (id int PRIMARY KEY, b bytea);
INSERT INTO blobs SELECT i, decode(string_agg(md5(i::text || '/' || k), '' ORDER BY k), 'hex')
FROM generate_series(1, 320) i, generate_series(1, 1024) k GROUP BY i;
SQL

write_conf "$T/pf.conf" "$src"
sed -i "s|^path = .*|path = $mnt/store|" "$CONF"

step "run into a full store"
assert_fails pf run db
assert_contains "$ERR" "No space left on device" "error message"
manifests=$(find "$mnt" -name manifest.json -print)
assert_eq "" "$manifests" "manifests on the full store"
temps=$(find "$mnt" -type f -print)
assert_eq "" "$temps" "files left on the full store"
assert_ok pf list --json db
assert_eq 0 "$(json_complete_count db <<<"$OUT")" "complete snapshots"

step "the same job to a store with room works"
sed -i "s|^path = .*|path = $T/store|" "$CONF"
assert_ok pf run db
assert_ok pf list --json db
assert_eq 1 "$(json_complete_count db <<<"$OUT")" "complete snapshots"

echo "PASS"
