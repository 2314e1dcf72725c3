# shellcheck shell=bash
# tests/lib/redis.sh: throwaway redis-server instances for the integration tests, the demo and the
# benchmark. Source it after tests/lib/servers.sh (and call servers_trap, or test_init, first: the
# servers are stopped by the same EXIT trap as everything else).
#
#   redis_start DIR [ARGS...]   start redis-server on a free 127.0.0.1 port with --save ''
#                       --appendonly no --dir DIR --daemonize no (+ DEBUG allowed from local
#                       connections, for DEBUG DIGEST), logging to DIR/redis.log, extra ARGS passed
#                       on. Waits until it answers PING with PONG (not LOADING). Exports REDIS_PORT
#                       and REDIS_PID; copy REDIS_PORT right after the call when running several
#                       servers (each is remembered by its port). The port is also in DIR/port.
#   redis_start_from_rdb DIR FILE [ARGS...]
#                       the file-placement restore: copies FILE to DIR/dump.rdb and starts a server
#                       with appendonly no from it (waits until the data is loaded).
#   redis_stop PORT     SHUTDOWN NOSAVE, then TERM/KILL of the recorded PID only.
#   rcli PORT ARGS...   redis-cli against the server on PORT (with its TLS options and password,
#                       the password through REDISCLI_AUTH, never argv).
#   redis_digest PORT   DEBUG DIGEST (40 hex characters; all zeros for an empty server).
#   redis_keyspace PORT INFO keyspace as "dbN keys=K expires=E" lines (avg_ttl dropped).
#   redis_dbsizes PORT  "dbN K" per database with keys (DBSIZE after SELECT).
#   redis_info_field PORT FIELD   one field of INFO (e.g. used_memory, redis_version).
#   redis_load PORT FILE          redis-cli --pipe < FILE (a RESP stream); fails on errors.
#   redis_set_password PORT PASS  CONFIG SET requirepass PASS (sent on stdin, not argv); later
#                       rcli calls on PORT authenticate with it.
#   redis_acl_user PORT USER PASS RULES...  ACL SETUSER USER reset on >PASS RULES... (on stdin).
#   redis_tls_certs DIR make a throwaway CA (DIR/ca.pem) and a server certificate for 127.0.0.1
#                       and localhost (DIR/server.pem, DIR/server.key) with the openssl CLI.
#   redis_start_tls DIR CERTDIR [ARGS...]
#                       like redis_start, but TLS only (--port 0 --tls-port P, no client
#                       certificates required); rcli on that port uses --tls --cacert.
#   redis_has_tls       true when this redis-server was built with TLS (tls-port is known).
#
# For tests/integration/t_redis_*.sh (after tests/lib/assert.sh):
#   redis_test_init     the trap, $T, $TMPDIR and $PERMAFROST, without PostgreSQL.
#   write_redis_conf FILE URL [LINE...]  a config with state in $T/state, store "local" in
#                       $T/store and job "cache" (kind = redis, url = URL); each LINE is appended to
#                       the job section. Sets CONF (for pf).
#   redis_newest_snapshot JOB [STORE]  the directory of JOB's newest snapshot with a manifest.
#   redis_load_dataset PORT [ARGS...]  tests/lib/redis_dataset.py ARGS | redis-cli --pipe.
#   redis_load_test_function PORT  FUNCTION LOAD a small Lua library (pftest, pf_hello); prints
#                       FUNCTION LIST WITHCODE to compare restored servers with.
#
# Nothing here uses pkill/killall: only the PIDs recorded at start are ever signalled.

REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
declare -gA _REDIS_PID=() _REDIS_START=() _REDIS_TLS=() _REDIS_AUTH=() _REDIS_DIR=()

redis_log()
{
    printf '%s: %s\n' "${SERVERS_LOG_PREFIX:-redis}" "$*" >&2
}

rcli()
{
    local port=$1
    shift
    local args=(-h 127.0.0.1 -p "$port")
    if [[ -n ${_REDIS_TLS[$port]:-} ]]; then
        args+=(--tls --cacert "${_REDIS_TLS[$port]}")
    fi
    if [[ -n ${_REDIS_AUTH[$port]:-} ]]; then
        REDISCLI_AUTH=${_REDIS_AUTH[$port]} "$REDIS_CLI" --no-auth-warning "${args[@]}" "$@"
    else
        "$REDIS_CLI" "${args[@]}" "$@"
    fi
}

# _redis_wait PORT PID DIR SECONDS: until PING answers PONG (a server loading its RDB says LOADING).
_redis_wait()
{
    local port=$1 pid=$2 dir=$3 secs=$4 i r
    for ((i = 0; i < secs * 20; i++)); do
        r=$(rcli "$port" PING 2>/dev/null || true)
        [[ $r == PONG ]] && return 0
        if ! pid_alive "$pid"; then
            redis_log "redis-server exited during startup:"
            tail -n 20 "$dir/redis.log" >&2 || true
            return 1
        fi
        sleep 0.05
    done
    redis_log "redis-server on port $port did not answer PING within $secs s"
    tail -n 20 "$dir/redis.log" >&2 || true
    return 1
}

# _redis_launch DIR PORT-ARGS-FUNCTION-RESULT...: shared by redis_start and redis_start_tls.
# usage: _redis_launch DIR TLSCA PORTOPT [ARGS...], PORTOPT is --port or --tls-port.
_redis_launch()
{
    local dir=$1 tlsca=$2 portopt=$3 port="" try pid start
    shift 3
    command -v "$REDIS_SERVER" >/dev/null || {
        redis_log "$REDIS_SERVER not found: apt-get install redis-server"
        return 1
    }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for try in 1 2 3 4 5; do
        port=$(free_port) || return 1
        local args=(--bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no
            --logfile "$dir/redis.log" --enable-debug-command local --protected-mode no)
        if [[ $portopt == --tls-port ]]; then
            args+=(--port 0 --tls-port "$port")
        else
            args+=(--port "$port")
        fi
        "$REDIS_SERVER" "${args[@]}" "$@" </dev/null >>"$dir/redis.out" 2>&1 &
        pid=$!
        start=$(_pid_starttime "$pid" || true)
        [[ -n $start ]] && at_exit _redis_kill "$pid" "$start"
        _REDIS_PID[$port]=$pid
        _REDIS_START[$port]=$start
        _REDIS_DIR[$port]=$dir
        [[ -n $tlsca ]] && _REDIS_TLS[$port]=$tlsca
        # Loading a 1 GB RDB takes a few seconds; allow two minutes.
        if _redis_wait "$port" "$pid" "$dir" 120; then
            break
        fi
        # Most likely the port was taken between the probe and the bind: try another.
        _redis_kill "$pid" "$start"
        unset "_REDIS_PID[$port]" "_REDIS_START[$port]" "_REDIS_TLS[$port]"
        if ! grep -q -i 'address already in use' "$dir/redis.log" 2>/dev/null; then
            return 1
        fi
        redis_log "port $port was taken (try $try), trying another"
        port=""
    done
    [[ -n $port ]] || return 1
    REDIS_PORT=$port
    REDIS_PID=$pid
    export REDIS_PORT REDIS_PID
    printf '%s\n' "$port" >"$dir/port"
}

_redis_kill()
{
    local pid=$1 start=$2 i
    [[ -n $start ]] || return 0
    _kill_if_same "$pid" "$start" TERM || {
        wait "$pid" 2>/dev/null || true
        return 0
    }
    for ((i = 0; i < 100; i++)); do
        pid_alive "$pid" || break
        sleep 0.05
    done
    pid_alive "$pid" && _kill_if_same "$pid" "$start" KILL
    wait "$pid" 2>/dev/null || true
    return 0
}

redis_start()
{
    local dir=$1
    shift
    _redis_launch "$dir" "" --port "$@"
}

redis_start_from_rdb()
{
    local dir=$1 file=$2
    shift 2
    mkdir -p "$dir"
    rm -f "$dir/appendonly.aof" "$dir/dump.rdb"
    rm -rf "$dir/appendonlydir"
    cp -- "$file" "$dir/dump.rdb"
    redis_start "$dir" --dbfilename dump.rdb "$@"
}

redis_stop()
{
    local port=$1 pid start i
    pid=${_REDIS_PID[$port]:-}
    start=${_REDIS_START[$port]:-}
    [[ -n $pid ]] || return 0
    rcli "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    for ((i = 0; i < 100; i++)); do
        pid_alive "$pid" || break
        sleep 0.05
    done
    _redis_kill "$pid" "$start"
    unset "_REDIS_PID[$port]" "_REDIS_START[$port]" "_REDIS_TLS[$port]" "_REDIS_AUTH[$port]"
}

redis_digest()
{
    local d
    d=$(rcli "$1" DEBUG DIGEST) || return 1
    [[ $d =~ ^[0-9a-f]{40}$ ]] || {
        redis_log "DEBUG DIGEST on port $1 answered '$d'"
        return 1
    }
    printf '%s\n' "$d"
}

redis_keyspace()
{
    rcli "$1" INFO keyspace | tr -d '\r' |
        sed -n 's/^\(db[0-9]*\):keys=\([0-9]*\),expires=\([0-9]*\).*/\1 keys=\2 expires=\3/p'
}

redis_dbsizes()
{
    local port=$1 db n
    for db in $(rcli "$port" INFO keyspace | tr -d '\r' | sed -n 's/^db\([0-9]*\):.*/\1/p'); do
        n=$(rcli "$port" -n "$db" DBSIZE)
        printf 'db%s %s\n' "$db" "$n"
    done
}

redis_info_field()
{
    rcli "$1" INFO | tr -d '\r' | sed -n "s/^$2:\(.*\)/\1/p" | head -n 1
}

redis_load()
{
    local port=$1 file=$2 out
    out=$(rcli "$port" --pipe <"$file" 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
    # "errors: 0, replies: N" on success.
    if [[ $out != *"errors: 0,"* ]]; then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

redis_set_password()
{
    local port=$1 pass=$2 out
    out=$(printf 'CONFIG SET requirepass %s\n' "$pass" | rcli "$port" 2>&1)
    [[ $out == OK ]] || {
        redis_log "CONFIG SET requirepass failed: $out"
        return 1
    }
    _REDIS_AUTH[$port]=$pass
}

redis_acl_user()
{
    local port=$1 user=$2 pass=$3 out
    shift 3
    out=$(printf 'ACL SETUSER %s reset on >%s %s\n' "$user" "$pass" "$*" | rcli "$port" 2>&1)
    [[ $out == OK ]] || {
        redis_log "ACL SETUSER $user failed: $out"
        return 1
    }
}

redis_has_tls()
{
    # The tls-* directives exist only in a build with OpenSSL; such a build names them in its
    # config table.
    grep -q -a 'tls-cert-file' "$(command -v "$REDIS_SERVER")"
}

redis_tls_certs()
{
    local dir=$1
    mkdir -p "$dir"
    (
        set -e
        cd "$dir"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=permafrost test CA' \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' \
            -keyout server.key -out server.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile ext.cnf -out server.pem 2>/dev/null
        # A second, unrelated CA: a client that trusts only it must reject the server.
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=some other CA' \
            -keyout other-ca.key -out other-ca.pem 2>/dev/null
        chmod 0600 ./*.key
    )
}

redis_start_tls()
{
    local dir=$1 certs=$2
    shift 2
    certs=$(cd "$certs" && pwd)
    _redis_launch "$dir" "$certs/ca.pem" --tls-port \
        --tls-cert-file "$certs/server.pem" --tls-key-file "$certs/server.key" \
        --tls-ca-cert-file "$certs/ca.pem" --tls-auth-clients no "$@"
}

redis_test_init()
{
    test_init_dirs
    [[ -n ${PERMAFROST:-} ]] || fail "PERMAFROST must name the permafrost binary"
    [[ -x $PERMAFROST ]] || fail "PERMAFROST='$PERMAFROST' is not executable"
    chmod 0711 "$T"
    mkdir -p "$T/tmp"
    export TMPDIR=$T/tmp
    unset PERMAFROST_CONFIG PERMAFROST_STATE_DIR
    command -v "$REDIS_SERVER" >/dev/null || fail "$REDIS_SERVER is missing (apt-get install redis-server)"
}

write_redis_conf()
{
    local file=$1 url=$2 line
    shift 2
    {
        printf '[global]\nstate_dir = %s/state\n\n' "$T"
        printf '[store "local"]\ntype = local\npath = %s/store\n\n' "$T"
        printf '[job "cache"]\nkind = redis\nurl = %s\ntargets = local\n' "$url"
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >"$file"
    # shellcheck disable=SC2034 # read by pf (tests/lib/assert.sh)
    CONF=$file
}

redis_newest_snapshot()
{
    local store=${2:-$T/store}
    [[ -d $store/$1 ]] || return 0
    find "$store/$1" -mindepth 2 -maxdepth 2 -name manifest.json -printf '%T@ %h\n' | sort -n |
        tail -n 1 | cut -d' ' -f2-
}

redis_load_dataset()
{
    local port=$1 f
    shift
    f=$(mktemp "${TMPDIR:-/tmp}/dataset.XXXXXX")
    python3 "$(dirname "${BASH_SOURCE[0]}")/redis_dataset.py" "$@" >"$f" || {
        rm -f "$f"
        return 1
    }
    redis_load "$port" "$f" || {
        rm -f "$f"
        return 1
    }
    rm -f "$f"
}

redis_load_test_function()
{
    local port=$1 list
    rcli "$port" FUNCTION LOAD "$(printf '#!lua name=pftest\nredis.register_function(%s)' \
        "'pf_hello', function() return 'hello' end")" >/dev/null
    list=$(rcli "$port" FUNCTION LIST WITHCODE)
    [[ $list == *pf_hello* ]] || {
        redis_log "the function library did not load: $list"
        return 1
    }
    printf '%s\n' "$list"
}
