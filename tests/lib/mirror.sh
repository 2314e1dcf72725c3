# shellcheck shell=bash
# tests/lib/mirror.sh: shared helpers for the media-mirror tests (tests/integration/t_mirror_*.sh)
# and the demo. Source it after tests/lib/servers.sh, tests/lib/assert.sh and tests/lib/s3.sh.
#
#   MIRROR_PYTHON             the python3 to run (Debian's /usr/bin/python3 when present)
#   mirror_init               test_init_dirs (no PostgreSQL: a mirror job needs none), checks
#                             $PERMAFROST, and keeps temporary files in $T/tmp
#   mtool ARGS...             tests/lib/mirror_s3.py: a low-level S3 client and the Mastodon-shaped
#                             tree generator (gen, put, write-local, list, digest, digest-local,
#                             head, acl, delete; see its header). --server PREFIX names the server
#                             by its exported PREFIX_ENDPOINT/_ACCESS_KEY/_SECRET_KEY/_REGION.
#   spec_sum FILE FIELD       objects ("count") or bytes ("bytes") of the specs in FILE
#   spec_keys FILE            the keys of the specs in FILE, one a line
#   spec_key FILE ERE         the first key of FILE matching ERE (a pipe into grep -m1 or head
#                             would end the writer with SIGPIPE, which pipefail turns into a failure)
#   spec_pick FILE N [SKIP]   N specs of FILE, the first SKIP skipped, only small plain ones
#                             (no multipart, no "specials/" key): for changes at the source
#   spec_reseed FILE [SIZE-DELTA]  the same specs with new content (a new seed); SIZE-DELTA
#                             (default 0) is added to every size
#
# Configuration (CONF is the file being written):
#   mconf_begin FILE                  [global] with state in $T/state
#   mconf_s3 NAME PREFIX BUCKET [LINE...]  a `type = s3` store on the server PREFIX (S3, S3B or
#                                     FAKE_S3; keys as env: references to PREFIX_ACCESS_KEY ...)
#   mconf_local NAME DIR              a `type = local` store
#   mconf_job NAME LINE...            a job section (kind = mirror is added)
#
# Running (mrun sets RC, OUT, ERR like `run`; OUT is the --json array):
#   mrun [ARGS...]            permafrost -c $CONF run --json media ARGS...
#   mj PATH                   a field of the mirror's element in $OUT: "copied.objects",
#                             "requests.HEAD", "failures.0.key", "deletions_refused" (null, true
#                             and false print as such; lists and objects as JSON)
#   mj_check JSON-OBJ         asserts every "path": value of the JSON object against $OUT
#   digest_cmp A B [WHAT]     asserts that two digest listings (mtool digest) are equal

_MIRROR_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's interpreter when there is one: a version manager's shim in PATH can take seconds to
# start on a loaded machine, and these helpers run it hundreds of times.
MIRROR_PYTHON=${MIRROR_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

mirror_init()
{
    test_init_dirs
    [[ -n ${PERMAFROST:-} ]] || fail "PERMAFROST must name the permafrost binary"
    [[ -x $PERMAFROST ]] || fail "PERMAFROST='$PERMAFROST' is not executable"
    mkdir -p "$T/tmp"
    export TMPDIR=$T/tmp
    unset PERMAFROST_CONFIG PERMAFROST_STATE_DIR
}

mtool()
{
    env -u AWS_CA_BUNDLE "$MIRROR_PYTHON" "$_MIRROR_LIB/mirror_s3.py" "$@"
}

spec_sum()
{
    "$MIRROR_PYTHON" -c '
import json, sys
specs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
print(len(specs) if sys.argv[2] == "count" else sum(s["size"] for s in specs))' "$1" "$2"
}

spec_keys()
{
    "$MIRROR_PYTHON" -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    if l.strip():
        print(json.loads(l)["key"])' "$1"
}

spec_key()
{
    "$MIRROR_PYTHON" -c '
import json, re, sys
for l in open(sys.argv[1], encoding="utf-8"):
    if l.strip() and re.search(sys.argv[2], json.loads(l)["key"]):
        print(json.loads(l)["key"])
        break' "$1" "$2"
}

spec_pick()
{
    "$MIRROR_PYTHON" -c '
import json, sys
specs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
plain = [s for s in specs if not s.get("part_size") and not s["key"].startswith("specials/")
         and 0 < s["size"] < 200000]
skip = int(sys.argv[3]) if len(sys.argv) > 3 else 0
for s in plain[skip:skip + int(sys.argv[2])]:
    print(json.dumps(s, ensure_ascii=False))' "$@"
}

spec_reseed()
{
    "$MIRROR_PYTHON" -c '
import json, sys
delta = int(sys.argv[2]) if len(sys.argv) > 2 else 0
for l in open(sys.argv[1], encoding="utf-8"):
    if l.strip():
        s = json.loads(l)
        s["seed"] += "+"
        s["size"] += delta
        print(json.dumps(s, ensure_ascii=False))' "$@"
}

mconf_begin()
{
    CONF=$1
    printf '[global]\nstate_dir = %s/state\n' "$T" >"$CONF"
}

mconf_s3()
{
    local name=$1 p=$2 bucket=$3 line endpoint region
    shift 3
    endpoint=${p}_ENDPOINT
    region=${p}_REGION
    {
        printf '\n[store "%s"]\ntype = s3\nendpoint = %s\nregion = %s\nbucket = %s\n' \
            "$name" "${!endpoint}" "${!region:-us-east-1}" "$bucket"
        printf 'access_key = env:%s_ACCESS_KEY\nsecret_key = env:%s_SECRET_KEY\n' "$p" "$p"
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >>"$CONF"
}

mconf_local()
{
    printf '\n[store "%s"]\ntype = local\npath = %s\n' "$1" "$2" >>"$CONF"
}

mconf_job()
{
    local name=$1 line
    shift
    {
        printf '\n[job "%s"]\nkind = mirror\n' "$name"
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >>"$CONF"
}

mrun()
{
    run "$PERMAFROST" -c "$CONF" run --json "${MJOB:-media}" "$@"
    # The story of the run in the test's log: the JSON (cut) and stdout when it is no JSON.
    printf '%s\n' "$OUT" | sed -n '1,60s/^/  stdout| /p'
}

mj()
{
    "$MIRROR_PYTHON" -c '
import json, sys
try:
    data = json.loads(sys.argv[1])
except ValueError:
    sys.exit("mj: the output is not JSON")
if isinstance(data, list):
    data = [e for e in data if isinstance(e, dict) and e.get("kind") == "mirror"]
    if not data:
        sys.exit("mj: no element with kind \"mirror\" in the output")
    data = data[0]
v = data
for part in sys.argv[2].split("."):
    if isinstance(v, list):
        v = v[int(part)]
    elif isinstance(v, dict) and part in v:
        v = v[part]
    else:
        sys.exit("mj: no field %r (in %s)" % (sys.argv[2], part))
if v is None:
    print("null")
elif isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, (list, dict)):
    print(json.dumps(v, ensure_ascii=False, sort_keys=True))
else:
    print(v)' "$OUT" "$1" || fail "no field '$1' in the --json output"
}

# mj_check '{"copied.objects": 3, "requests.HEAD": 0}'
mj_check()
{
    local path want
    while IFS=$'\t' read -r path want; do
        assert_eq "$want" "$(mj "$path")" "$path"
    done < <("$MIRROR_PYTHON" -c '
import json, sys
for k, v in json.loads(sys.argv[1]).items():
    print("%s\t%s" % (k, "null" if v is None else str(v).lower() if isinstance(v, bool) else v))
' "$1")
}

digest_cmp()
{
    if ! diff -u "$1" "$2" >"$T/digest.diff"; then
        head -n 40 "$T/digest.diff"
        fail "${3:-digests}: $1 and $2 differ ($(grep -c '^[-+][^-+]' "$T/digest.diff") lines)"
    fi
}
