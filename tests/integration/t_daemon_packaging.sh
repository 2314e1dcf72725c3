#!/usr/bin/env bash
# The examples in packaging/: every command of permafrost.cron, run by /bin/sh in cron's bare
# environment, gives permafrost the variables of /etc/permafrost/env (exported, as systemd's
# EnvironmentFile= does) and still runs when that file is missing; the systemd units pass
# `systemd-analyze verify`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init_dirs

# A permafrost that records what it was given.
mkdir -p "$T/bin"
cat >"$T/bin/permafrost" <<'FAKE'
#!/bin/sh
printf '%s|%s|%s\n' "$*" "${DB_PASS:-unset}" "${PERMAFROST_STATE_DIR:-unset}" >>"$T/calls"
FAKE
chmod 0755 "$T/bin/permafrost"

# run_cron_lines: each job line of the cron file, run the way cron runs it (its variable lines, then
# the command through SHELL), with the env file at $T/env.
run_cron_lines()
{
    local line cmd
    local -a vars=()
    : >"$T/calls"
    while IFS= read -r line; do
        [[ -z $line || $line == \#* ]] && continue
        if [[ $line =~ ^[A-Z_]+= ]]; then
            [[ $line == PATH=* ]] && line="PATH=$T/bin:${line#PATH=}"
            vars+=("$line")
            continue
        fi
        # m h dom mon dow user command
        cmd=$(printf '%s\n' "$line" | sed -E 's/^([^ ]+ +){6}//')
        cmd=${cmd//\/etc\/permafrost\/env/$T/env}
        env -i "T=$T" "${vars[@]}" /bin/sh -c "$cmd" >/dev/null 2>&1 || true
    done <"$root/packaging/permafrost.cron"
}

jobs=$(grep -cE '^[0-9*]' "$root/packaging/permafrost.cron")

step "cron: the env file's variables reach permafrost"
printf 'DB_PASS=s3cret\n' >"$T/env"
run_cron_lines
assert_eq "$jobs" "$(wc -l <"$T/calls")" "runs"
assert_eq "$jobs" "$(grep -c '|s3cret|' "$T/calls")" "runs that see DB_PASS"
assert_eq "$jobs" "$(grep -c '|/var/lib/permafrost$' "$T/calls")" \
    "runs with the state directory of the systemd units"
assert_eq 1 "$(grep -c '^-q run db|' "$T/calls")" "the db job"

step "cron: a missing env file does not stop the runs"
rm "$T/env"
run_cron_lines
assert_eq "$jobs" "$(grep -c '|unset|' "$T/calls")" "runs without the env file"

step "systemd units"
# systemd-analyze comes with Debian's systemd package (tools/install-deps.sh installs it; it is not
# started by being installed).
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing: run tools/install-deps.sh"
{
    mkdir -p "$T/units"
    for u in permafrost.service permafrost-run@.service permafrost-run@.timer; do
        sed "s#/usr/bin/permafrost#$T/bin/permafrost#" "$root/packaging/$u" >"$T/units/$u"
    done
    (cd "$T/units" && systemd-analyze verify --man=no ./permafrost.service \
        ./permafrost-run@.service ./permafrost-run@.timer) >"$T/verify.log" 2>&1 ||
        fail "systemd-analyze verify: $(cat "$T/verify.log")"
    assert_eq "" "$(cat "$T/verify.log")" "systemd-analyze verify's complaints"
}
# The stop timeout leaves the runs the default shutdown_timeout (30 s) and 10 s to clean up.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$root/packaging/permafrost.service")
((stop > 40)) || fail "TimeoutStopSec=$stop is not more than shutdown_timeout + 10 s"

echo "PASS"
