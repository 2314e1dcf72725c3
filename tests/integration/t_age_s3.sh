#!/usr/bin/env bash
# An encrypted postgres job with two targets, a local store and an S3 bucket (Ceph radosgw): both
# get the same <db>.dump.zst.age; the object read back with a stock client decrypts with `age -d`
# and restores with zstd -d | pg_restore; `permafrost restore --from` the bucket, with the job's
# identity, restores the same data; nothing in the bucket holds the identity.
# needs: s3
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
# shellcheck source=tests/lib/age.sh
. "$root/tests/lib/age.sh"
test_init
age_init_tools
s3_use_or_start "$T/ceph"

step "keys, a small database, a bucket"
age-keygen -o "$T/key.txt" 2>/dev/null
r_age=$(age-keygen -y "$T/key.txt")
assert_ok "$PERMAFROST" keygen -o "$T/pf.key"
r_pf=$OUT
sec_pf=$(sed -n 's/^AGE-SECRET-KEY-1//p' "$T/pf.key")
src=as_src
pg_new_db "$src"
"$root/tools/gen-mastodon-db.sh" -q --size-mb 4 -- -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" \
    -U mastodon -d "$src"
pg_fingerprint "$src" >"$T/src.fp"
bucket=$(s3_new_bucket agebackup)
export K_ID=$S3_ACCESS_KEY K_SECRET=$S3_SECRET_KEY

cat >"$T/pf.conf" <<EOF
[global]
state_dir = $T/state
encrypt = $r_age, $r_pf
identity = file:$T/pf.key

[store "local"]
type = local
path = $T/store

[store "remote"]
type = s3
endpoint = $S3_ENDPOINT
region = $S3_REGION
bucket = $bucket
prefix = enc
access_key = env:K_ID
secret_key = env:K_SECRET

[job "db"]
kind = postgres
database = $(pg_conninfo "$src")
password = env:DB_PASS
targets = local, remote
EOF
CONF=$T/pf.conf
assert_ok pf config check

step "run: the same encrypted artifact in both stores"
assert_ok pf run db
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "local snapshots"
snap=${dirs[0]##*/}
local_art=${dirs[0]}/$src.dump.zst.age
assert_exists "$local_art"
s3_rclone cat "s3:$bucket/enc/db/$snap/$src.dump.zst.age" >"$T/remote.age" ||
    fail "rclone cat of the encrypted object"
assert_ok cmp "$local_art" "$T/remote.age"
assert_eq "age-encryption.org/v1" "$(head -n 1 "$T/remote.age")" "first line of the object"

step "stock tools on the object: age -d | zstd -d | pg_restore"
pg_new_db as_stock
age -d -i "$T/key.txt" "$T/remote.age" | zstd -q -d | "$PG_BIN/pg_restore" -h "$PGSOCKET_TEST" \
    -p "$PGPORT_TEST" -U mastodon -d as_stock --exit-on-error || fail "stock restore of the object"
pg_fingerprint as_stock >"$T/stock.fp"
assert_ok diff "$T/src.fp" "$T/stock.fp"

step "permafrost restore --from remote with the job's identity"
at_exit pg_drop_db as_r1
assert_ok pf restore db latest --from remote --to "$(pg_conninfo_socket as_r1)" --create
pg_fingerprint as_r1 >"$T/r1.fp"
assert_ok diff "$T/src.fp" "$T/r1.fp"

step "no identity in the bucket"
s3_rclone copy "s3:$bucket/enc" "$T/bucket-copy" || fail "rclone copy of the bucket"
hits=$(grep -rlaiF -e "$sec_pf" -e "AGE-SECRET-KEY" "$T/bucket-copy" || true)
assert_eq "" "$hits" "objects that hold an identity"
manifest=$(find "$T/bucket-copy" -name manifest.json | head -n 1)
assert_exists "$manifest"
assert_file_contains "$manifest" "$r_age"
assert_file_contains "$manifest" "$r_pf"

echo "PASS"
