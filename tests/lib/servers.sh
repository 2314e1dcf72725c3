# shellcheck shell=bash
# tests/lib/servers.sh: throwaway servers for the integration tests, the demo and the benchmark.
# Source it from a bash script that runs with `set -euo pipefail` as root.
#
# PostgreSQL:
#   pg_start DIR        initdb (as the postgres OS user) into DIR/pgdata and start a server on a free
#                       127.0.0.1 port, with its Unix socket in DIR. Creates the login role `mastodon`
#                       (CREATEDB, a random password exported as DB_PASS) and the database
#                       mastodon_production owned by it. Exports PGHOST_TEST (127.0.0.1), PGPORT_TEST,
#                       PGSOCKET_TEST (= DIR), PGDATA_TEST, PGPID_TEST (the postmaster) and PG_BIN.
#                       The server is stopped by servers_cleanup (see below). When DIR already holds
#                       a cluster from an earlier pg_start, it is started again as it is (the
#                       password is kept in DIR/db_pass, mode 0600).
#   pg_use_or_start DIR reuse the server whose PGPORT_TEST/PGSOCKET_TEST/DB_PASS are exported (by
#                       tests/integration/run.sh) when it answers; otherwise pg_start DIR.
#   pg_stop             stop the server started by pg_start (fast, then immediate, then SIGKILL of
#                       only the postmaster recorded at start and its own children).
#   psql_su ARGS...     psql as the superuser `postgres` over the socket (database postgres unless -d).
#   psql_db DB ARGS...  psql as `mastodon` over the socket (trust) into database DB.
#   pg_conninfo DB      libpq conninfo over TCP as mastodon (needs the password): what a job uses.
#   pg_conninfo_socket DB  conninfo over the Unix socket as mastodon (trust): for restore targets.
#   pg_new_db NAME      create database NAME owned by mastodon; dropped at exit on a shared server.
#   pg_fingerprint DB   per table and sequence: name, row count, md5 of the rows (order-independent).
#   pg_schema DB        pg_dump --schema-only of DB without version comments.
#
# Cleanup (one EXIT trap for everything, run in reverse order of registration):
#   servers_trap        install the EXIT/INT/TERM traps; call once, near the top of a script.
#   at_exit CMD ARGS... register a command to run at exit (e.g. at_exit umount "$mnt").
#   track_pid PID       kill PID at exit (TERM, then KILL), only if it is still the same process.
#   make_tmpdir VAR     make a temp dir (mode 0711 so the postgres user can reach a DIR below it),
#                       removed at exit, and store its path in VAR.
#   servers_cleanup     run the registered cleanups now (the traps call it).
#
# Nothing here uses pkill/killall: only PIDs recorded by these functions are ever signalled.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export PG_BIN

_SERVERS_CLEANUPS=()
_SERVERS_TRAP_SET=${_SERVERS_TRAP_SET:-0}

servers_log()
{
    printf '%s: %s\n' "${SERVERS_LOG_PREFIX:-servers}" "$*" >&2
}

at_exit()
{
    local q
    q=$(printf '%q ' "$@")
    _SERVERS_CLEANUPS+=("$q")
}

servers_cleanup()
{
    local i rc=$?
    # Later registrations may depend on earlier ones (a database on a server): undo in reverse.
    for ((i = ${#_SERVERS_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${_SERVERS_CLEANUPS[i]}" || true
    done
    _SERVERS_CLEANUPS=()
    return "$rc"
}

servers_trap()
{
    _SERVERS_TRAP_SET=1
    trap 'servers_cleanup' EXIT
    trap 'servers_cleanup; trap - EXIT; exit 130' INT
    trap 'servers_cleanup; trap - EXIT; exit 143' TERM
    trap 'servers_cleanup; trap - EXIT; exit 129' HUP
}

# Field 22 of /proc/PID/stat (start time in clock ticks) tells a process from a later one that
# reused its PID. The comm field may contain spaces and ')', so cut after the last ')'.
_pid_starttime()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # After "comm)" the fields start at 3 (state); starttime is field 22, i.e. the 20th here.
    # shellcheck disable=SC2086 # split on whitespace on purpose
    set -- $stat
    printf '%s\n' "${20}"
}

# Signals PID only if it is still the process that was recorded (same start time).
_kill_if_same()
{
    local pid=$1 start=$2 sig=$3 now
    now=$(_pid_starttime "$pid") || return 1
    [[ $now == "$start" ]] || return 1
    kill "-$sig" "$pid" 2>/dev/null
}

_alive_same()
{
    local now
    now=$(_pid_starttime "$1") || return 1
    [[ $now == "$2" ]]
}

# pid_alive PID: PID exists and is not a zombie.
pid_alive()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# kill_tracked PID STARTTIME: TERM, wait up to 5 s, then KILL.
kill_tracked()
{
    local pid=$1 start=$2 i
    _kill_if_same "$pid" "$start" TERM || return 0
    for ((i = 0; i < 50; i++)); do
        _alive_same "$pid" "$start" || return 0
        sleep 0.1
    done
    _kill_if_same "$pid" "$start" KILL || true
}

track_pid()
{
    local start
    start=$(_pid_starttime "$1") || return 0
    at_exit kill_tracked "$1" "$start"
}

# make_tmpdir VAR: creates the directory and stores its path in VAR (not `$(make_tmpdir)`: a
# command substitution runs in a subshell, whose at_exit registration would be lost).
make_tmpdir()
{
    local _d
    _d=$(mktemp -d "${TMPDIR:-/tmp}/permafrost-test.XXXXXX")
    chmod 0711 "$_d"
    at_exit rm -rf -- "$_d"
    printf -v "$1" '%s' "$_d"
}

# A random password: letters and digits, with a recognisable prefix so tests can grep for it.
random_password()
{
    local s
    s=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
    printf 'pfpw%s\n' "$s"
}

_port_in_use()
{
    local p=$1
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Htan "( sport = :$p )" 2>/dev/null) ]] && return 0
    fi
    # A successful connect means something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
    return 1
}

# Prints a TCP port on 127.0.0.1 that nothing listens on (nor uses) right now.
free_port()
{
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
        if ! _port_in_use "$p"; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    servers_log "no free TCP port found"
    return 1
}

psql_su()
{
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" -U postgres \
        -d postgres "$@"
}

psql_db()
{
    local db=$1
    shift
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" -U mastodon \
        -d "$db" "$@"
}

pg_conninfo()
{
    printf 'host=%s port=%s dbname=%s user=mastodon\n' "$PGHOST_TEST" "$PGPORT_TEST" "$1"
}

pg_conninfo_socket()
{
    printf 'host=%s port=%s dbname=%s user=mastodon\n' "$PGSOCKET_TEST" "$PGPORT_TEST" "$1"
}

# _pg_sql_ident NAME: NAME as a double-quoted SQL identifier.
_pg_sql_ident()
{
    printf '"%s"' "${1//\"/\"\"}"
}

pg_drop_db()
{
    local q
    q=$(_pg_sql_ident "$1")
    psql_su -c "DROP DATABASE IF EXISTS $q WITH (FORCE)" >/dev/null 2>&1 || true
}

pg_new_db()
{
    local q
    q=$(_pg_sql_ident "$1")
    psql_su -c "CREATE DATABASE $q OWNER mastodon" >/dev/null
    # On a private server the whole cluster goes away at exit; on a shared one, clean up after us.
    if [[ ${_PG_OWNED:-0} != 1 ]]; then
        at_exit pg_drop_db "$1"
    fi
}

_pg_try_start()
{
    local dir=$1 port=$2
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port" start >/dev/null
}

_pg_initdb()
{
    local dir=$1
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/pgdata" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 -U postgres --no-sync \
        >"$dir/initdb.log" 2>&1 || {
        servers_log "initdb failed:"
        cat "$dir/initdb.log" >&2
        return 1
    }
    # Throwaway test servers: durability off for speed (never do this for a real database).
    # wal_level=minimal lets a load into a table created in the same transaction skip the WAL.
    cat >>"$dir/pgdata/postgresql.conf" <<EOF

# --- tests/lib/servers.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_connections = 60
wal_level = minimal
max_wal_senders = 0
max_wal_size = 8GB
checkpoint_timeout = 30min
maintenance_work_mem = 256MB
work_mem = 32MB
log_min_messages = warning
log_connections = off
EOF

}

pg_start()
{
    local dir=$1 port="" try
    [[ $(id -u) == 0 ]] || {
        servers_log "pg_start must run as root (initdb runs as the postgres OS user)"
        return 1
    }
    id postgres >/dev/null 2>&1 || {
        servers_log "no 'postgres' OS user: install postgresql-15"
        return 1
    }
    [[ -x $PG_BIN/initdb ]] || {
        servers_log "$PG_BIN/initdb not found: install postgresql-15 (or set PG_BIN)"
        return 1
    }
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod 0700 "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
        servers_log "the postgres user cannot write '$dir' (a parent directory is not searchable)"
        return 1
    fi
    # Socket paths are limited to 107 bytes.
    if ((${#dir} > 80)); then
        servers_log "'$dir' is too long for a Unix socket directory"
        return 1
    fi

    local reuse=0
    if [[ -f $dir/pgdata/PG_VERSION && -f $dir/db_pass ]]; then
        # A cluster left by an earlier pg_start in the same DIR (bench/pg_snapshot.sh's BENCH_DIR).
        reuse=1
    else
        _pg_initdb "$dir" || return 1
    fi

    for try in 1 2 3 4 5; do
        port=$(free_port)
        if _pg_try_start "$dir" "$port"; then
            break
        fi
        # Another process may have taken the port between the probe and the bind: try another.
        servers_log "start on port $port failed (try $try), see $dir/postgres.log"
        port=""
    done
    [[ -n $port ]] || {
        servers_log "could not start PostgreSQL:"
        tail -n 20 "$dir/postgres.log" >&2 || true
        return 1
    }

    PGHOST_TEST=127.0.0.1
    PGPORT_TEST=$port
    PGSOCKET_TEST=$dir
    PGDATA_TEST=$dir/pgdata
    PGPID_TEST=$(head -n 1 "$dir/pgdata/postmaster.pid")
    _PG_PID_START=$(_pid_starttime "$PGPID_TEST")
    _PG_OWNED=1
    export PGHOST_TEST PGPORT_TEST PGSOCKET_TEST PGDATA_TEST PGPID_TEST
    at_exit pg_stop

    if ((reuse)); then
        DB_PASS=$(cat "$dir/db_pass")
        export DB_PASS
        return 0
    fi
    DB_PASS=$(random_password)
    export DB_PASS
    (umask 077 && printf '%s\n' "$DB_PASS" >"$dir/db_pass")
    # The password goes through stdin, not argv.
    psql_su >/dev/null <<EOF
CREATE ROLE mastodon LOGIN CREATEDB PASSWORD '$DB_PASS';
CREATE DATABASE mastodon_production OWNER mastodon;
EOF
}

pg_use_or_start()
{
    local dir=$1
    if [[ -n ${PGPORT_TEST:-} && -n ${PGSOCKET_TEST:-} && -n ${DB_PASS:-} ]] &&
        "$PG_BIN/pg_isready" -q -h "$PGSOCKET_TEST" -p "$PGPORT_TEST"; then
        PGHOST_TEST=${PGHOST_TEST:-127.0.0.1}
        export PGHOST_TEST
        _PG_OWNED=0
        return 0
    fi
    pg_start "$dir"
}

pg_stop()
{
    [[ ${_PG_OWNED:-0} == 1 && -n ${PGPID_TEST:-} ]] || return 0
    local pm=$PGPID_TEST start=$_PG_PID_START children=() c cstart i
    _PG_OWNED=0
    _alive_same "$pm" "$start" || return 0
    # The postmaster's own children (backends, checkpointer, ...) with their start times, so that
    # none outlives it and no later process that reuses a PID is hit.
    for c in $(ps -o pid= --ppid "$pm" 2>/dev/null); do
        cstart=$(_pid_starttime "$c") && children+=("$c:$cstart")
    done
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA_TEST" -m fast -w -t 20 stop \
        >/dev/null 2>&1 || true
    if _alive_same "$pm" "$start"; then
        # Immediate shutdown.
        _kill_if_same "$pm" "$start" QUIT || true
        for ((i = 0; i < 50; i++)); do
            _alive_same "$pm" "$start" || break
            sleep 0.1
        done
        _kill_if_same "$pm" "$start" KILL || true
    fi
    for c in "${children[@]}"; do
        _kill_if_same "${c%%:*}" "${c#*:}" KILL || true
    done
    return 0
}

# pg_fingerprint DB: one line per table and sequence of DB, sorted: "name<TAB>rows<TAB>md5", where md5
# covers every row's text form independently of physical order, and sequences give their state.
# Two databases with the same fingerprint hold the same data.
pg_fingerprint()
{
    psql_su -d "$1" -At -F $'\t' <<'SQL' | LC_ALL=C sort
SELECT CASE c.relkind
    WHEN 'S' THEN format('SELECT %L, 1, last_value::text || %L || is_called::text FROM %s',
                         format('%I.%I', n.nspname, c.relname), '/', format('%I.%I', n.nspname, c.relname))
    ELSE format('SELECT %L, count(*), md5(coalesce(string_agg(md5(t::text), %L ORDER BY md5(t::text)), %L)) FROM %s t',
                format('%I.%I', n.nspname, c.relname), '', '', format('%I.%I', n.nspname, c.relname))
    END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'S', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp%'
ORDER BY 1
\gexec
SQL
}

# pg_schema DB: the schema of DB as pg_dump --schema-only prints it, without the version comments,
# for comparing a restored database with its source.
pg_schema()
{
    "$PG_BIN/pg_dump" -h "$PGSOCKET_TEST" -p "$PGPORT_TEST" -U postgres --schema-only "$1" |
        grep -v -e '^-- Dumped from' -e '^-- Dumped by' -e '^$' -e '^\\restrict' -e '^\\unrestrict'
}
