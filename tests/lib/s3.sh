# shellcheck shell=bash
# tests/lib/s3.sh: S3 servers (Ceph radosgw, tests/lib/ceph.sh) and S3 clients for the integration
# tests. Source it after tests/lib/servers.sh (it uses at_exit, free_port and make_tmpdir).
#
# Servers (each exports PREFIX_ENDPOINT, PREFIX_ACCESS_KEY, PREFIX_SECRET_KEY, PREFIX_REGION and
# PREFIX_CEPH_DIR, where PREFIX is S3 for the main server and S3B for the second one):
#   s3_start PREFIX DIR  start a new cluster (on a free port) into DIR; stopped at exit.
#   s3_use_or_start DIR  reuse the server whose S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY are exported
#                        (tests/integration/run.sh starts one per run for the tests marked
#                        `# needs: s3`) when it answers, else s3_start S3 DIR. Then writes the
#                        client configs below.
#   s3_start_second DIR  the same for a second, independent server (S3B_*): two "geographies", or a
#                        mirror that cannot use server-side copy. Reused when S3B_* is exported
#                        (run.sh starts it for tests marked `# needs: s3 s3b`).
#
# Clients (after s3_use_or_start; PREFIX defaults to S3):
#   s3_rclone_conf FILE REMOTE [PREFIX]  append an rclone.conf section [REMOTE] (type s3, provider
#                        Ceph, path style) for the server; FILE is created with mode 0600.
#   s3_s3cmd_conf FILE [PREFIX]          write an s3cmd config (path style, http, SigV4) for it.
#   s3_rclone ARGS...    rclone with $S3_RCLONE_CONF (remotes "s3:" and, once started, "s3b:").
#   s3_s3cmd ARGS...     s3cmd with $S3_S3CMD_CONF (the main server; $S3B_S3CMD_CONF is the second
#                        one's: `s3_s3cmd -c "$S3B_S3CMD_CONF" ...`, the last -c wins).
#   s3_new_bucket NAME [PREFIX]  create a bucket with a valid, unique name derived from NAME (with
#                        s3cmd) and print the name. The servers are thrown away, buckets with them.
# Both wrappers run without AWS_CA_BUNDLE: with it set, rclone 1.60 fails every S3 call, even over
# http ("LoadCustomCABundleError ... HTTPClient's transport unsupported type").

# shellcheck source=tests/lib/ceph.sh
. "$(dirname "${BASH_SOURCE[0]}")/ceph.sh"

_s3_log()
{
    printf '%s: %s\n' "${SERVERS_LOG_PREFIX:-s3}" "$*" >&2
}

# _s3_answers ENDPOINT: an HTTP answer (any status) comes back from ENDPOINT.
_s3_answers()
{
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1/" 2>/dev/null) || return 1
    [[ $code =~ ^[2-4][0-9][0-9]$ ]]
}

# _s3_export PREFIX ENDPOINT ACCESS SECRET REGION CEPH_DIR
_s3_export()
{
    local p=$1
    printf -v "${p}_ENDPOINT" '%s' "$2"
    printf -v "${p}_ACCESS_KEY" '%s' "$3"
    printf -v "${p}_SECRET_KEY" '%s' "$4"
    printf -v "${p}_REGION" '%s' "$5"
    printf -v "${p}_CEPH_DIR" '%s' "$6"
    # shellcheck disable=SC2163 # exporting the variables named by the prefix
    export "${p}_ENDPOINT" "${p}_ACCESS_KEY" "${p}_SECRET_KEY" "${p}_REGION" "${p}_CEPH_DIR"
}

s3_start()
{
    local prefix=$1 dir=$2 port out k v
    local endpoint="" access="" secret="" region=${S3_REGION:-nyc3} cdir=""
    [[ $prefix == S3 || $prefix == S3B ]] || {
        _s3_log "s3_start: PREFIX must be S3 or S3B"
        return 1
    }
    # The mon takes the first free port at or above PORT+1000 (free_port stays below 50000).
    port=$(free_port) || return 1
    # Registered first: an interrupted start is cleaned up too (stop only signals recorded PIDs).
    at_exit ceph_stop "$dir"
    # A subshell: the start's internal state stays there. Stderr (progress, errors) passes through.
    out=$(S3_REGION=$region ceph_start "$port" "$dir") || {
        _s3_log "could not start Ceph radosgw for $prefix (logs in $dir/log)"
        return 1
    }
    while IFS='=' read -r k v; do
        # Values are quoted with printf %q by ceph_start (our own output): unquote them.
        eval "v=$v"
        case $k in
        S3_ENDPOINT) endpoint=$v ;;
        S3_ACCESS_KEY) access=$v ;;
        S3_SECRET_KEY) secret=$v ;;
        S3_REGION) region=$v ;;
        CEPH_DIR) cdir=$v ;;
        esac
    done <<<"$out"
    [[ -n $endpoint && -n $access && -n $secret && -n $cdir ]] || {
        _s3_log "ceph_start printed no complete S3_* lines"
        return 1
    }
    _s3_export "$prefix" "$endpoint" "$access" "$secret" "$region" "$cdir"
}

# _s3_reuse PREFIX: the server described by PREFIX_* is usable.
_s3_reuse()
{
    local p=$1 e a s
    e=${p}_ENDPOINT a=${p}_ACCESS_KEY s=${p}_SECRET_KEY
    [[ -n ${!e:-} && -n ${!a:-} && -n ${!s:-} ]] || return 1
    _s3_answers "${!e}" || return 1
    local r=${p}_REGION d=${p}_CEPH_DIR
    printf -v "$r" '%s' "${!r:-nyc3}"
    printf -v "$d" '%s' "${!d:-}"
    # shellcheck disable=SC2163 # exporting the variables named by the prefix
    export "$r" "$d"
}

# Writes the wrappers' client configs into a private directory ($T when set).
_s3_client_confs()
{
    local base
    if [[ -z ${_S3_CLIENT_DIR:-} ]]; then
        if [[ -n ${T:-} ]]; then
            _S3_CLIENT_DIR=$T/s3-clients
            mkdir -p "$_S3_CLIENT_DIR"
        else
            make_tmpdir base
            _S3_CLIENT_DIR=$base/s3-clients
            mkdir -p "$_S3_CLIENT_DIR"
        fi
        chmod 0700 "$_S3_CLIENT_DIR"
    fi
    S3_RCLONE_CONF=$_S3_CLIENT_DIR/rclone.conf
    rm -f "$S3_RCLONE_CONF"
    s3_rclone_conf "$S3_RCLONE_CONF" s3 S3
    S3_S3CMD_CONF=$_S3_CLIENT_DIR/s3cmd.cfg
    s3_s3cmd_conf "$S3_S3CMD_CONF" S3
    if [[ -n ${S3B_ENDPOINT:-} ]]; then
        s3_rclone_conf "$S3_RCLONE_CONF" s3b S3B
        S3B_S3CMD_CONF=$_S3_CLIENT_DIR/s3cmd-b.cfg
        s3_s3cmd_conf "$S3B_S3CMD_CONF" S3B
    fi
}

s3_use_or_start()
{
    local dir=$1
    if _s3_reuse S3; then
        _S3_OWNED=0
    else
        s3_start S3 "$dir" || return 1
        _S3_OWNED=1
    fi
    _s3_client_confs
}

s3_start_second()
{
    local dir=$1
    [[ -n ${S3_ENDPOINT:-} ]] || {
        _s3_log "s3_start_second: call s3_use_or_start first"
        return 1
    }
    if ! _s3_reuse S3B; then
        s3_start S3B "$dir" || return 1
    fi
    [[ $S3B_ENDPOINT != "$S3_ENDPOINT" ]] || {
        _s3_log "s3_start_second: the second server is the first one ($S3_ENDPOINT)"
        return 1
    }
    _s3_client_confs
}

# _s3_get PREFIX FIELD: the value of PREFIX_FIELD (which must be set).
_s3_get()
{
    local v=${1}_$2
    [[ -n ${!v:-} ]] || {
        _s3_log "$v is not set: no S3 server (s3_use_or_start / s3_start_second)"
        return 1
    }
    printf '%s' "${!v}"
}

s3_rclone_conf()
{
    local file=$1 remote=$2 p=${3:-S3} endpoint access secret region
    endpoint=$(_s3_get "$p" ENDPOINT) || return 1
    access=$(_s3_get "$p" ACCESS_KEY) || return 1
    secret=$(_s3_get "$p" SECRET_KEY) || return 1
    region=$(_s3_get "$p" REGION) || return 1
    (
        umask 077
        cat >>"$file" <<EOF

[$remote]
type = s3
provider = Ceph
env_auth = false
access_key_id = $access
secret_access_key = $secret
region = $region
endpoint = $endpoint
force_path_style = true
EOF
    )
}

s3_s3cmd_conf()
{
    local file=$1 p=${2:-S3} endpoint access secret region hostport
    endpoint=$(_s3_get "$p" ENDPOINT) || return 1
    access=$(_s3_get "$p" ACCESS_KEY) || return 1
    secret=$(_s3_get "$p" SECRET_KEY) || return 1
    region=$(_s3_get "$p" REGION) || return 1
    hostport=${endpoint#*://}
    hostport=${hostport%%/*}
    (
        umask 077
        # host_bucket without %(bucket)s: path-style requests (glibc does not resolve
        # bucket.localhost names).
        cat >"$file" <<EOF
[default]
access_key = $access
secret_key = $secret
host_base = $hostport
host_bucket = $hostport
bucket_location = $region
use_https = False
check_ssl_certificate = False
signature_v2 = False
progress_meter = False
EOF
    )
}

s3_rclone()
{
    if [[ -n ${S3_RCLONE_CONF:-} ]]; then
        env -u AWS_CA_BUNDLE rclone --config "$S3_RCLONE_CONF" "$@"
    else
        env -u AWS_CA_BUNDLE rclone "$@"
    fi
}

s3_s3cmd()
{
    if [[ -n ${S3_S3CMD_CONF:-} ]]; then
        env -u AWS_CA_BUNDLE s3cmd -c "$S3_S3CMD_CONF" "$@"
    else
        env -u AWS_CA_BUNDLE s3cmd "$@"
    fi
}

# s3_new_bucket NAME [PREFIX]: creates pf-NAME-RANDOM (lower case, [a-z0-9-], at most 63 characters)
# on the server PREFIX (S3 or S3B) and prints the name.
s3_new_bucket()
{
    local p=${2:-S3} name conf rnd
    name=$(printf '%s' "$1" | tr 'A-Z_.' 'a-z--' | tr -c 'a-z0-9-' '-')
    name=${name:0:40}
    rnd=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
    name=pf-${name}-$rnd
    name=${name//--/-}
    if [[ $p == S3B ]]; then
        conf=${S3B_S3CMD_CONF:-}
    else
        conf=${S3_S3CMD_CONF:-}
    fi
    [[ -n $conf ]] || {
        _s3_log "s3_new_bucket: no s3cmd config for $p (s3_use_or_start / s3_start_second)"
        return 1
    }
    s3_s3cmd -c "$conf" mb "s3://$name" >/dev/null || {
        _s3_log "s3_new_bucket: s3cmd mb s3://$name failed"
        return 1
    }
    printf '%s\n' "$name"
}
