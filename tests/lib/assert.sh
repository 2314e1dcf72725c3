# shellcheck shell=bash
# tests/lib/assert.sh: small assertion and setup helpers for tests/integration/t_*.sh.
# Source it after tests/lib/servers.sh. A failed assertion prints "FAIL: ..." with the caller's line
# and exits 1 (the EXIT trap from servers_trap then cleans up).
#
#   assert_eq EXPECTED ACTUAL [WHAT]          assert_ne UNEXPECTED ACTUAL [WHAT]
#   assert_contains HAYSTACK NEEDLE [WHAT]    assert_not_contains HAYSTACK NEEDLE [WHAT]
#   assert_match HAYSTACK ERE [WHAT]          assert_file_contains FILE NEEDLE
#   assert_file_not_contains FILE NEEDLE      assert_exists PATH / assert_missing PATH
#   assert_mode PATH OCTAL                    assert_ok CMD... / assert_fails CMD...
#   assert_exit CODE CMD...   runs CMD, checks its exit status; its output is then in $OUT and $ERR
#   run CMD...                runs CMD, never fails; sets $RC, $OUT and $ERR
#
#   test_init                 trap, $T (this test's temp dir), PostgreSQL (shared or own), $PERMAFROST
#   write_conf FILE DB [LINE...]  a config with state in $T/state, store "local" in $T/store and job
#                             "db" backing up database DB; each LINE is appended to the job section
#   pf ARGS...                runs $PERMAFROST -c "$CONF" ARGS...
#   step MSG                  prints a progress line

step()
{
    printf -- '--- %s\n' "$*"
}

fail()
{
    # The first caller outside this file is the test line that failed.
    local i where="?"
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
            where="${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
            break
        fi
    done
    printf 'FAIL: %s (%s)\n' "$*" "$where" >&2
    exit 1
}

_show()
{
    # Long values (command output) are cut so the failure stays readable.
    local s=$1
    if ((${#s} > 2000)); then
        s="${s:0:2000}... (${#1} bytes)"
    fi
    printf '%s' "$s"
}

assert_eq()
{
    [[ $1 == "$2" ]] || fail "${3:-value}: expected '$(_show "$1")', got '$(_show "$2")'"
}

assert_ne()
{
    [[ $1 != "$2" ]] || fail "${3:-value}: did not expect '$(_show "$1")'"
}

assert_contains()
{
    [[ $1 == *"$2"* ]] || fail "${3:-output} does not contain '$2': '$(_show "$1")'"
}

assert_not_contains()
{
    [[ $1 != *"$2"* ]] || fail "${3:-output} contains '$2': '$(_show "$1")'"
}

assert_match()
{
    [[ $1 =~ $2 ]] || fail "${3:-output} does not match /$2/: '$(_show "$1")'"
}

assert_file_contains()
{
    grep -qF -- "$2" "$1" || fail "$1 does not contain '$2'"
}

assert_file_not_contains()
{
    if grep -qF -- "$2" "$1"; then
        fail "$1 contains '$2'"
    fi
}

assert_exists()
{
    [[ -e $1 ]] || fail "$1 does not exist"
}

assert_missing()
{
    [[ ! -e $1 ]] || fail "$1 exists"
}

assert_mode()
{
    local m
    m=$(stat -c '%a' "$1") || fail "cannot stat $1"
    [[ $m == "$2" ]] || fail "$1 has mode $m, expected $2"
}

# run CMD...: sets RC, OUT and ERR; never fails.
run()
{
    local o e
    o=$(mktemp "${T:-/tmp}/run-out.XXXXXX")
    e=$(mktemp "${T:-/tmp}/run-err.XXXXXX")
    RC=0
    "$@" >"$o" 2>"$e" || RC=$?
    OUT=$(cat "$o")
    ERR=$(cat "$e")
    rm -f "$o" "$e"
    # Show what ran, so that a failing test's log tells the story.
    printf '$ %s  => %s\n' "$*" "$RC"
    if [[ -n $ERR ]]; then
        printf '%s\n' "$ERR" | sed -n '1,30s/^/  stderr| /p'
    fi
}

assert_exit()
{
    local want=$1
    shift
    run "$@"
    if [[ $RC != "$want" ]]; then
        printf '%s\n' "$OUT" | sed -n '1,30s/^/  stdout| /p'
        fail "'$*' exited $RC, expected $want"
    fi
}

assert_ok()
{
    assert_exit 0 "$@"
}

assert_fails()
{
    run "$@"
    [[ $RC != 0 ]] || fail "'$*' succeeded, expected a failure"
}

# test_init_dirs: the trap and the test's own temporary directory $T, without PostgreSQL (for tests
# of the S3 servers alone).
test_init_dirs()
{
    servers_trap
    if [[ -n ${TEST_TMP:-} ]]; then
        T=$TEST_TMP
        mkdir -p "$T"
    else
        make_tmpdir T
    fi
    export T
}

test_init()
{
    servers_trap
    [[ -n ${PERMAFROST:-} ]] || fail "PERMAFROST must name the permafrost binary"
    [[ -x $PERMAFROST ]] || fail "PERMAFROST='$PERMAFROST' is not executable"
    if [[ -n ${TEST_TMP:-} ]]; then
        T=$TEST_TMP
        mkdir -p "$T"
        chmod 0711 "$T"
    else
        make_tmpdir T
    fi
    export T
    # Temporary files of permafrost and its children (e.g. a passfile left by a killed run) stay
    # in this test's directory.
    mkdir -p "$T/tmp"
    export TMPDIR=$T/tmp
    unset PERMAFROST_CONFIG PERMAFROST_STATE_DIR
    pg_use_or_start "$T/pg"
}

write_conf()
{
    local file=$1 db=$2 line
    shift 2
    {
        printf '[global]\nstate_dir = %s/state\n\n' "$T"
        printf '[store "local"]\ntype = local\npath = %s/store\n\n' "$T"
        printf '[job "db"]\nkind = postgres\ndatabase = %s\npassword = env:DB_PASS\n' \
            "$(pg_conninfo "$db")"
        printf 'targets = local\n'
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >"$file"
    CONF=$file
}

pf()
{
    "$PERMAFROST" -c "$CONF" "$@"
}

# Snapshot directories of job JOB in the store at STORE (default $T/store), oldest first.
snapshot_dirs()
{
    local store=${2:-$T/store}
    [[ -d $store/$1 ]] || return 0
    find "$store/$1" -mindepth 1 -maxdepth 1 -type d -printf '%p\n' | sort
}

# Number of complete snapshots of job JOB in `list --json` output on stdin.
json_complete_count()
{
    python3 -c '
import json, sys
job = sys.argv[1]
data = json.load(sys.stdin)
assert isinstance(data, list), "list --json must print an array"
print(sum(1 for s in data if s.get("job") == job and s.get("state") == "complete"))
' "$1"
}

# Field FIELD of snapshot ID (or the newest when ID is "latest") from `list --json` on stdin.
json_snapshot_field()
{
    python3 -c '
import json, sys
job, sid, field = sys.argv[1:4]
data = [s for s in json.load(sys.stdin) if s.get("job") == job]
if sid == "latest":
    data = data[-1:]
else:
    data = [s for s in data if s.get("id") == sid]
if not data:
    sys.exit("no such snapshot")
print(data[0][field])
' "$1" "$2" "$3"
}
