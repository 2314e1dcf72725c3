#!/usr/bin/env bash
# A subtree the filter skips as a whole (cache/ with preset = mastodon) is listed on neither side,
# not even by the key range after it (whose start-after must lie past the subtree), and the mirror
# still converges with discovered key ranges (pages of 10 keys against the fake S3).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
# shellcheck source=tests/lib/s3.sh
. "$root/tests/lib/s3.sh"
# shellcheck source=tests/lib/fake_s3.sh
. "$root/tests/lib/fake_s3.sh"
# shellcheck source=tests/lib/mirror.sh
. "$root/tests/lib/mirror.sh"

mirror_init
fake_s3_start "$T/fake" "" --no-auto-create --bucket src --bucket dst
export FAKE_S3_ACCESS_KEY=AKIDFAKESKIP FAKE_S3_SECRET_KEY=fake-skip-secret
export FAKE_S3_REGION=us-east-1

step "300 objects, half of them under cache/, listed in pages of 10"
mtool gen --count 300 --seed t-mirror-skip --cache-share 0.5 >"$T/tree.jsonl"
mtool put --server FAKE_S3 src "$T/tree.jsonl"
printf '%s\n' '{"settings": {"page_size": 10}, "rules": []}' >"$T/rules.json"
fake_s3_script "$T/rules.json"
cached=$(spec_keys "$T/tree.jsonl" | grep -c '^cache/' || true)
total=$(spec_sum "$T/tree.jsonl" count)
((cached > 100)) || fail "only $cached cache keys generated"
mconf_begin "$T/pf.conf"
mconf_s3 src FAKE_S3 src
mconf_s3 dst FAKE_S3 dst
mconf_job media "source = src" "destination = dst" "preset = mastodon"
: >"$FAKE_S3_LOG"
mrun
assert_eq 0 "$RC" "exit status of the first mirror"
mj_check "{\"copied.objects\": $((total - cached)), \"failed.objects\": 0}"
lists=$(fake_s3_count GET '^/src/?$' list-type)
# Listing the non-cache keys takes about (total - cached) / 10 pages, plus the discovery and one
# extra page per range; listing cache/ again would add cached / 10 more.
echo "source LIST requests: $lists (cache keys: $cached, others: $((total - cached)))"
((lists < (total - cached) / 10 + 40)) || fail "$lists source listings: cache/ was listed"

step "a second run changes nothing"
mrun
assert_eq 0 "$RC" "exit status of the second mirror"
mj_check '{"copied.objects": 0, "updated.objects": 0, "deleted.objects": 0}'
