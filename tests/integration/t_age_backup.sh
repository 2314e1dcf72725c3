#!/usr/bin/env bash
# Encrypted backups end to end: a postgres job with `encrypt =` two recipients (one from
# age-keygen, one from `permafrost keygen`) writes <db>.dump.zst.age, which stock tools restore
# (age -d -i | zstd -d | pg_restore) with either key; the manifest records both recipients and
# "encryption": "age", and no secret is anywhere (store, state, output); `permafrost restore` works
# with the job's identity and with --identity, and fails clearly without one; a passphrase job
# (encrypt_passphrase = file:) round-trips through permafrost restore and through `age -d` under a
# pty; a redis job encrypted by [global] restores with --to-file to an RDB redis-check-rdb accepts.
# timeout: 240
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/redis.sh
. "$root/tests/lib/redis.sh"
# shellcheck source=tests/lib/age.sh
. "$root/tests/lib/age.sh"
test_init
age_init_tools
command -v redis-check-rdb >/dev/null || fail "redis-check-rdb is missing (apt-get install redis-tools)"

# Everything permafrost prints goes to $T/outputs.txt too, to look for secrets in it at the end.
pfo()
{
    assert_ok pf -v "$@"
    printf '%s\n%s\n' "$OUT" "$ERR" >>"$T/outputs.txt"
}

step "keys: age-keygen and permafrost keygen"
age-keygen -o "$T/key.txt" 2>/dev/null
chmod 0600 "$T/key.txt"
r_age=$(age-keygen -y "$T/key.txt")
assert_ok "$PERMAFROST" keygen -o "$T/pf.key"
r_pf=$OUT
assert_mode "$T/pf.key" 600
assert_eq "$r_pf" "$(age-keygen -y "$T/pf.key")" "recipient printed by permafrost keygen"
age-keygen -o "$T/other.txt" 2>/dev/null
# The secret parts of the identities (Bech32 data after the prefix), to grep for.
sec_age=$(sed -n 's/^AGE-SECRET-KEY-1//p' "$T/key.txt")
sec_pf=$(sed -n 's/^AGE-SECRET-KEY-1//p' "$T/pf.key")
[[ ${#sec_age} -ge 50 && ${#sec_pf} -ge 50 ]] || fail "could not read the secret keys back"
pass="pf-age-passphrase $(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
(umask 077 && printf '%s\n' "$pass" >"$T/pass.txt")

src=ab_src
step "source database with a few tables"
pg_new_db "$src"
psql_db "$src" >/dev/null <<'SQL'
CREATE TABLE accounts (id bigserial PRIMARY KEY, username text NOT NULL, note text);
CREATE TABLE statuses (id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts(id),
                       text text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE media (id bigserial PRIMARY KEY, status_id bigint REFERENCES statuses(id), blob bytea);
INSERT INTO accounts (username, note) SELECT 'user' || i, md5(i::text) FROM generate_series(1, 2000) i;
INSERT INTO statuses (account_id, text)
    SELECT 1 + i % 2000, repeat(md5(i::text), 1 + i % 5) FROM generate_series(1, 30000) i;
INSERT INTO media (status_id, blob)
    SELECT i, decode(md5(i::text) || md5((i * 7)::text), 'hex') FROM generate_series(1, 20000) i;
SQL
pg_fingerprint "$src" >"$T/src.fp"
assert_eq 3 "$(grep -c -E '^public\.(accounts|statuses|media)	' "$T/src.fp")" "tables in the source"

conf=$T/pf.conf
cat >"$conf" <<EOF
[global]
state_dir = $T/state

[store "local"]
type = local
path = $T/store

[job "db"]
kind = postgres
database = $(pg_conninfo "$src")
password = env:DB_PASS
targets = local
encrypt = $r_age, $r_pf
identity = file:$T/pf.key

[job "pp"]
kind = postgres
database = $(pg_conninfo "$src")
password = env:DB_PASS
targets = local
encrypt_passphrase = file:$T/pass.txt
EOF
step "config: a recipient with a typo, and recipients with a passphrase, are refused at load"
sed "s|^encrypt = .*|encrypt = $r_age, ${r_pf%?}$([[ ${r_pf: -1} == q ]] && echo p || echo q)|" \
    "$conf" >"$T/typo.conf"
run "$PERMAFROST" -c "$T/typo.conf" config check
assert_ne 0 "$RC" "config check with a mistyped recipient"
assert_contains "$ERR" "encrypt" "message for a mistyped recipient"
assert_contains "$ERR" "checksum" "message for a mistyped recipient"
sed "s|^encrypt = .*|&\nencrypt_passphrase = file:$T/pass.txt|" "$conf" >"$T/both.conf"
run "$PERMAFROST" -c "$T/both.conf" config check
assert_ne 0 "$RC" "config check with encrypt and encrypt_passphrase in one job"
assert_contains "$ERR" "encrypt_passphrase" "message for encrypt with encrypt_passphrase"

CONF=$conf
pfo config check
pfo config show
assert_contains "$OUT" "$r_age" "config show (recipients)"
assert_contains "$OUT" "file:$T/pass.txt" "config show (passphrase source)"

step "run: the artifact is <db>.dump.zst.age, private, an age file for two recipients"
pfo run db
assert_match "$OUT" 'encrypted.*2 recipients' "run's report"
mapfile -t dirs < <(snapshot_dirs db)
assert_eq 1 "${#dirs[@]}" "snapshots of db"
sdir=${dirs[0]}
artifact=$sdir/$src.dump.zst.age
assert_exists "$artifact"
assert_missing "$sdir/$src.dump.zst"
bad=$(find "$T/store" \( \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) \) -printf '%m %p\n')
assert_eq "" "$bad" "files/directories with other modes"
assert_eq "age-encryption.org/v1" "$(head -n 1 "$artifact")" "first line of the artifact"
assert_eq 2 "$(head -c 4096 "$artifact" | grep -ac '^-> X25519 ')" "X25519 stanzas in the artifact"

step "manifest: encryption, both recipients, sha256 and size of the encrypted bytes"
"$AGE_PYTHON" - "$sdir/manifest.json" "$src.dump.zst.age" "$r_age" "$r_pf" \
    "$(sha256sum "$artifact" | cut -d' ' -f1)" "$(stat -c %s "$artifact")" "$T/src.fp" <<'PY' ||
import json, sys
path, name, r1, r2, sha, size, fp = sys.argv[1:8]
m = json.load(open(path))
def want(cond, what):
    if not cond:
        sys.exit("manifest: %s; manifest is %s" % (what, json.dumps(m, indent=1)[:3000]))
enc = m.get("encryption")
want(isinstance(enc, dict) and enc.get("format") == "age", "encryption %r" % enc)
want(sorted(enc.get("recipients") or []) == sorted([r1, r2]), "recipients %r" % enc.get("recipients"))
want(not enc.get("passphrase"), "passphrase %r" % enc.get("passphrase"))
arts = [a for a in m["artifacts"] if a["name"] == name]
want(len(arts) == 1, "no artifact named %s" % name)
a = arts[0]
want(a.get("encryption") == "age", "encryption %r" % a.get("encryption"))
want(a.get("sha256") == sha, "sha256 %r, file has %s" % (a.get("sha256"), sha))
want(a.get("size_bytes") == int(size), "size_bytes %r, file has %s" % (a.get("size_bytes"), size))
counts = {(t["schema"], t["name"]): t["rows"] for t in m["postgres"]["tables"]}
for line in open(fp):
    tname, rows, digest = line.rstrip("\n").split("\t")
    if "/" in digest:
        continue
    schema, table = tname.split(".", 1)
    want(counts.get((schema, table)) == int(rows), "rows of %s: %r, database has %s"
         % (tname, counts.get((schema, table)), rows))
PY
    fail "manifest of the encrypted snapshot (see above)"

step "stock tools: age -d -i key.txt | zstd -d | pg_restore, with either key"
pg_new_db ab_stock
age -d -i "$T/key.txt" "$artifact" | zstd -q -d | "$PG_BIN/pg_restore" -h "$PGSOCKET_TEST" \
    -p "$PGPORT_TEST" -U mastodon -d ab_stock --exit-on-error || fail "stock age | zstd | pg_restore failed"
pg_fingerprint ab_stock >"$T/stock.fp"
assert_ok diff "$T/src.fp" "$T/stock.fp"
age -d -i "$T/pf.key" "$artifact" | zstd -q -d >"$T/pf-key.dump" || fail "age -d with the permafrost key"
toc=$("$PG_BIN/pg_restore" --list "$T/pf-key.dump") || fail "pg_restore --list"
assert_contains "$toc" "TABLE DATA public statuses"
run age -d -i "$T/other.txt" -o "$T/other.out" "$artifact"
assert_ne 0 "$RC" "age -d with a key that is not a recipient"

step "permafrost restore with the job's identity"
at_exit pg_drop_db ab_r1
pfo restore db latest --to "$(pg_conninfo_socket ab_r1)" --create
pg_fingerprint ab_r1 >"$T/r1.fp"
assert_ok diff "$T/src.fp" "$T/r1.fp"

step "without an identity: refused with a clear message; with --identity FILE: restored"
sed '/^identity = /d' "$conf" >"$T/noid.conf"
pg_new_db ab_r2
run "$PERMAFROST" -c "$T/noid.conf" restore db latest --to "$(pg_conninfo_socket ab_r2)"
printf '%s\n%s\n' "$OUT" "$ERR" >>"$T/outputs.txt"
assert_ne 0 "$RC" "restore of an encrypted snapshot without an identity"
assert_match "$ERR" '[Ii]dentity' "message without an identity"
tables=$(psql_su -d ab_r2 -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
assert_eq 0 "$tables" "tables restored without an identity"
run "$PERMAFROST" -c "$T/noid.conf" restore db latest --to "$(pg_conninfo_socket ab_r2)" \
    --identity "$T/other.txt"
printf '%s\n%s\n' "$OUT" "$ERR" >>"$T/outputs.txt"
assert_ne 0 "$RC" "restore with an identity that is not a recipient"
assert_match "$ERR" '[Ii]dentit|[Rr]ecipient' "message for a wrong identity"
assert_not_contains "$ERR" "AGE-SECRET-KEY" "message for a wrong identity"
tables=$(psql_su -d ab_r2 -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
assert_eq 0 "$tables" "tables restored with a wrong identity"
# --jobs 2 goes through a temporary file of the decrypted dump: it must be gone afterwards.
CONF=$T/noid.conf pfo restore db latest --to "$(pg_conninfo_socket ab_r2)" --identity "$T/key.txt" \
    --jobs 2
pg_fingerprint ab_r2 >"$T/r2.fp"
assert_ok diff "$T/src.fp" "$T/r2.fp"
assert_eq "" "$(find "$TMPDIR" -mindepth 1 -print -quit)" "files left in TMPDIR after restore --jobs 2"

step "passphrase job: scrypt, passphrase in the manifest as true, permafrost restore, age -d (pty)"
pfo run pp
assert_match "$OUT" 'encrypted.*passphrase' "run's report"
mapfile -t pdirs < <(snapshot_dirs pp)
assert_eq 1 "${#pdirs[@]}" "snapshots of pp"
part=${pdirs[0]}/$src.dump.zst.age
assert_exists "$part"
assert_match "$(sed -n 2p "$part")" '^-> scrypt [A-Za-z0-9+/]{22} [0-9]+$' "scrypt stanza"
assert_eq 1 "$(head -c 4096 "$part" | grep -ac '^-> ')" "stanzas in a passphrase artifact"
"$AGE_PYTHON" - "${pdirs[0]}/manifest.json" "$src.dump.zst.age" <<'PY' || fail "manifest of pp (see above)"
import json, sys
m = json.load(open(sys.argv[1]))
def want(cond, what):
    if not cond:
        sys.exit("manifest: %s; manifest is %s" % (what, json.dumps(m, indent=1)[:3000]))
enc = m.get("encryption")
want(isinstance(enc, dict) and enc.get("format") == "age", "encryption %r" % enc)
want(enc.get("passphrase") is True, "passphrase %r" % enc.get("passphrase"))
want(not enc.get("recipients"), "recipients %r" % enc.get("recipients"))
a = [a for a in m["artifacts"] if a["name"] == sys.argv[2]]
want(len(a) == 1 and a[0].get("encryption") == "age", "artifact/encryption")
PY
at_exit pg_drop_db ab_p1
pfo restore pp latest --to "$(pg_conninfo_socket ab_p1)" --create
pg_fingerprint ab_p1 >"$T/p1.fp"
assert_ok diff "$T/src.fp" "$T/p1.fp"
run age_pty "$T/pass.txt" --prompts 1 -- age -d -o "$T/pp.dump.zst" "$part"
assert_eq 0 "$RC" "age -d under a pty of the passphrase artifact"
pg_new_db ab_p2
zstd -q -dc "$T/pp.dump.zst" | "$PG_BIN/pg_restore" -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" \
    -U mastodon -d ab_p2 --exit-on-error || fail "pg_restore of the age -d output"
pg_fingerprint ab_p2 >"$T/p2.fp"
assert_ok diff "$T/src.fp" "$T/p2.fp"
(umask 077 && printf 'not it\n' >"$T/wrongpass.txt")
sed "s|^encrypt_passphrase = .*|encrypt_passphrase = file:$T/wrongpass.txt|" "$conf" >"$T/wrongpass.conf"
pg_new_db ab_p3
run "$PERMAFROST" -c "$T/wrongpass.conf" restore pp latest --to "$(pg_conninfo_socket ab_p3)"
assert_ne 0 "$RC" "restore with a wrong passphrase"
assert_match "$ERR" '[Pp]assphrase' "message for a wrong passphrase"
assert_not_contains "$ERR" "not it" "message for a wrong passphrase"
tables=$(psql_su -d ab_p3 -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
assert_eq 0 "$tables" "tables restored with a wrong passphrase"

step "redis job, encryption from [global]: restore --to-file gives an RDB redis-check-rdb accepts"
redis_start "$T/redis"
rport=$REDIS_PORT
redis_load_dataset "$rport" --scale 0.003
cat >"$T/redis.conf" <<EOF
[global]
state_dir = $T/state
encrypt = $r_age
identity = file:$T/key.txt

[store "local"]
type = local
path = $T/store

[job "cache"]
kind = redis
url = redis://127.0.0.1:$rport
targets = local
EOF
CONF=$T/redis.conf pfo run cache
rdir=$(redis_newest_snapshot cache)
assert_exists "$rdir/dump.rdb.zst.age"
assert_missing "$rdir/dump.rdb.zst"
assert_eq "age-encryption.org/v1" "$(head -n 1 "$rdir/dump.rdb.zst.age")" "redis artifact"
"$AGE_PYTHON" - "$rdir/manifest.json" "$r_age" <<'PY' || fail "manifest of the redis snapshot (see above)"
import json, sys
m = json.load(open(sys.argv[1]))
def want(cond, what):
    if not cond:
        sys.exit("manifest: %s; manifest is %s" % (what, json.dumps(m, indent=1)[:3000]))
enc = m.get("encryption") or {}
want(enc.get("recipients") == [sys.argv[2]], "recipients %r" % enc.get("recipients"))
want(all(a.get("encryption") == "age" for a in m["artifacts"]), "encryption of every artifact")
PY
CONF=$T/redis.conf pfo restore cache latest --to-file "$T/restored.rdb"
assert_mode "$T/restored.rdb" 600
run redis-check-rdb "$T/restored.rdb"
assert_eq 0 "$RC" "redis-check-rdb of the restored file"
assert_contains "$OUT" "Checksum OK" "redis-check-rdb"
age -d -i "$T/key.txt" "$rdir/dump.rdb.zst.age" | zstd -q -d >"$T/stock.rdb" ||
    fail "age -d | zstd -d of the redis artifact"
assert_ok cmp "$T/restored.rdb" "$T/stock.rdb"
redis_stop "$rport"

step "no secret anywhere: store, state directory, output"
for s in "$sec_age" "$sec_pf" "$pass"; do
    hits=$(grep -rlaiF -- "$s" "$T/store" "$T/state" || true)
    assert_eq "" "$hits" "files in the store or the state directory with a secret"
    if grep -qaiF -- "$s" "$T/outputs.txt"; then
        fail "permafrost's output contains a secret"
    fi
done
# The identity files are only named, never copied.
assert_eq 0 "$(grep -rlaF -- "AGE-SECRET-KEY" "$T/store" "$T/state" | wc -l)" "identities copied"

echo "PASS"
