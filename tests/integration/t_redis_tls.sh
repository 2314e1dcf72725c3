#!/usr/bin/env bash
# rediss://: a TLS-only redis-server with a certificate from a throwaway CA. With ca_file naming
# that CA, sync and logical snapshots work and restore; without ca_file (the system store does not
# know the CA) or with an unrelated CA the run fails with a certificate error and leaves no
# snapshot; tls_verify = no connects anyway. Skipped (exit 77) when redis-server lacks TLS.
# timeout: 120
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/redis.sh
. "$root/tests/lib/redis.sh"
redis_test_init
if ! redis_has_tls; then
    echo "SKIP: this redis-server was built without TLS"
    exit 77
fi
command -v openssl >/dev/null || fail "the openssl CLI is needed (apt-get install openssl)"

step "certificates and a TLS-only server with a small dataset"
redis_tls_certs "$T/certs"
redis_start_tls "$T/src" "$T/certs"
src=$REDIS_PORT
redis_load_dataset "$src" --scale 0.005
src_digest=$(redis_digest "$src")
url="rediss://127.0.0.1:$src"

manifests()
{
    find "$T/store" -name manifest.json 2>/dev/null | wc -l
}

step "ca_file = the CA: sync works and restores"
write_redis_conf "$T/pf.conf" "$url" "ca_file = $T/certs/ca.pem" "method = sync"
assert_ok pf config check
assert_ok pf run cache
assert_match "$OUT$ERR" 'method:?[[:space:]]+sync' "run report"
sdir=$(redis_newest_snapshot cache)
[[ -n $sdir ]] || fail "no snapshot after a TLS run"
zstd -q -dc "$sdir/dump.rdb.zst" >"$T/tls.rdb" || fail "zstd -d failed"
redis-check-rdb "$T/tls.rdb" | grep -q 'Checksum OK' || fail "redis-check-rdb rejects the artifact"
redis_start_from_rdb "$T/placed" "$T/tls.rdb"
assert_eq "$src_digest" "$(redis_digest "$REDIS_PORT")" "DEBUG DIGEST after file placement"
redis_stop "$REDIS_PORT"

step "ca_file = the CA: logical works and restores into the TLS server's twin over TLS"
write_redis_conf "$T/pf.conf" "$url" "ca_file = $T/certs/ca.pem" "method = logical"
assert_ok pf run cache
sdir=$(redis_newest_snapshot cache)
assert_exists "$sdir/dump.resp.zst"
redis_start_tls "$T/target" "$T/certs"
target=$REDIS_PORT
assert_ok pf restore cache "${sdir##*/}" --to "rediss://127.0.0.1:$target"
assert_eq "$src_digest" "$(redis_digest "$target")" "DEBUG DIGEST after restore over TLS"
redis_stop "$target"

step "no ca_file: the system store does not trust the CA"
before=$(manifests)
write_redis_conf "$T/pf.conf" "$url"
assert_fails pf run cache
assert_match "$ERR" '[Cc]ertificate' "error without ca_file"
assert_eq "$before" "$(manifests)" "manifests after a refused certificate"

step "ca_file = an unrelated CA: refused"
write_redis_conf "$T/pf.conf" "$url" "ca_file = $T/certs/other-ca.pem"
assert_fails pf run cache
assert_match "$ERR" '[Cc]ertificate' "error with an unrelated CA"
assert_eq "$before" "$(manifests)" "manifests after a refused certificate"

step "plain redis:// against the TLS port fails"
write_redis_conf "$T/pf.conf" "redis://127.0.0.1:$src"
assert_fails pf run cache
assert_eq "$before" "$(manifests)" "manifests after a plain connection to a TLS port"

step "tls_verify = no: encrypted, not verified, works"
write_redis_conf "$T/pf.conf" "$url" "tls_verify = no"
assert_ok pf run cache
assert_eq "$((before + 1))" "$(manifests)" "manifests after a tls_verify = no run"

echo "PASS"
