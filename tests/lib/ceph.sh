#!/usr/bin/env bash
# shellcheck shell=bash
# tests/lib/ceph.sh: a throwaway Ceph RADOS Gateway (S3) on 127.0.0.1 for tests and benchmarks.
#
#   tests/lib/ceph.sh start [PORT] [DIR]   start a cluster; S3 on 127.0.0.1:PORT (default 7480),
#                                          everything under DIR (default mktemp -d /tmp/ceph-rgw.XXXXXX)
#   tests/lib/ceph.sh stop DIR             stop it and delete DIR (KEEP_DIR=1 keeps DIR)
#
#   eval "$(tests/lib/ceph.sh start 7480)"    # sets S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
#   ...                                       #      S3_REGION CEPH_DIR
#   tests/lib/ceph.sh stop "$CEPH_DIR"
#
# Or source this file and call ceph_start [PORT] [DIR] / ceph_stop DIR (same behaviour; start prints
# the same lines on stdout, progress and errors go to stderr). Needs root and the Debian packages
# radosgw ceph-mon ceph-osd ceph-common (tools/install-deps.sh). Takes about 15 s to start.
#
# What it runs (facts and reasons in ../shared/notes/s3-servers.md, section 1):
#   - cephx stays on: ceph-authtool makes the keys for mon., client.admin and client.rgw.a in
#     DIR/keyring (mode 0600); the OSD key is made by ceph-authtool --gen-print-key and handed to
#     `ceph osd new` on stdin, never on a command line.
#   - one mon (id a), msgr v2 only, on 127.0.0.1 at the first free port at or above PORT+1000;
#   - one OSD (id 0), bluestore on a sparse 20 GiB file DIR/osd/block (CEPH_OSD_STORE=memstore
#     gives a memstore OSD instead); OSDs pick their own ports in 6800-7300 on 127.0.0.1;
#   - ceph.conf: pool size 1 (one OSD), chooseleaf type 0 (placement by OSD), 8 PGs per pool and
#     mon max pg per osd 1000 (RGW creates 7 pools), RGW garbage collection after 30 s; no
#     `rgw zone`/`rgw zonegroup` (RGW would then look for a zonegroup that does not exist);
#   - `radosgw-admin user create --uid=test` (which creates the RGW pools and the default zone and
#     zonegroup) generates a random access and secret key pair, read from its JSON output, so the
#     secret never appears in a process's argv; then the default zonegroup's api_name is set to
#     S3_REGION (default nyc3, like DigitalOcean Spaces): clients send that region as
#     LocationConstraint and RGW refuses a bucket creation whose constraint differs;
#   - radosgw with `beast endpoint=127.0.0.1:PORT tcp_nodelay=1` (without tcp_nodelay small GETs
#     wait about 40 ms each).
# No ceph-mgr: S3 does not need it (`ceph -s` then shows 0 pools, which is cosmetic).
#
# Every daemon runs in the foreground (-f) detached with setsid; its PID goes to DIR/pids. `stop`
# signals only those PIDs, and only while their command line still holds `-c DIR/ceph.conf`
# (SIGTERM, then SIGKILL after 15 s): never pkill or killall. If start fails, it stops the daemons
# it started, deletes the data but keeps DIR/log, and prints the end of the logs.
# Several clusters can run at once on different PORTs. Every wait is bounded (CEPH_START_TIMEOUT,
# default 180 s in all).
#
# Environment: S3_REGION (default nyc3), CEPH_OSD_STORE (bluestore|memstore), KEEP_DIR=1,
# CEPH_START_TIMEOUT.

_ceph_log()
{
    printf 'ceph.sh: %s\n' "$*" >&2
}

# Whether something listens on (or uses) TCP port $1 on 127.0.0.1.
_ceph_port_in_use()
{
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]] && return 0
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    return 1
}

# Seconds left before the start deadline (never below 1, so `timeout` always gets a valid value).
_ceph_left()
{
    local left=$((_CEPH_DEADLINE - SECONDS))
    ((left > 0)) || left=1
    printf '%s\n' "$left"
}

_ceph_expired()
{
    ((SECONDS >= _CEPH_DEADLINE))
}

# The ceph CLI as client.admin; bounded by the start deadline and a connect timeout.
_ceph_cli()
{
    local t
    t=$(_ceph_left)
    ((t > 30)) && t=30
    timeout -k 5 "$t" ceph -c "$_CEPH_CONF" -n client.admin --connect-timeout 10 "$@"
}

# _ceph_spawn NAME CMD...: start CMD in the foreground of its own session, output to DIR/log,
# and record its PID in DIR/pids.
_ceph_spawn()
{
    local name=$1 pid jobctl=0
    shift
    # With job control on, a background job leads its own process group, and setsid(1) then
    # forks, so $! would not be the daemon. Without it, setsid execs in place and $! is the daemon.
    if [[ $- == *m* ]]; then
        jobctl=1
        set +m
    fi
    setsid "$@" </dev/null >>"$_CEPH_DIR/log/$name.out" 2>&1 &
    pid=$!
    ((jobctl)) && set -m
    printf '%s %s\n' "$pid" "$name" >>"$_CEPH_DIR/pids"
    _ceph_log "started $name (pid $pid)"
}

# _ceph_pid_ours DIR PID: PID is alive (not a zombie) and its command line holds `-c DIR/ceph.conf`.
# Only builtins: stop polls this often.
_ceph_pid_ours()
{
    local dir=$1 pid=$2 stat="" args=() i
    read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]] || return 1
    mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for ((i = 0; i + 1 < ${#args[@]}; i++)); do
        [[ ${args[i]} == -c && ${args[i + 1]} == "$dir/ceph.conf" ]] && return 0
    done
    return 1
}

# _ceph_alive NAME: the recorded daemon NAME still runs.
_ceph_alive()
{
    local pid name
    while read -r pid name; do
        if [[ $name == "$1" ]] && _ceph_pid_ours "$_CEPH_DIR" "$pid"; then
            return 0
        fi
    done <"$_CEPH_DIR/pids"
    return 1
}

# _ceph_wait WHAT NAME CMD...: run CMD every half second until it succeeds; fail when daemon NAME
# died or the deadline passed.
_ceph_wait()
{
    local what=$1 name=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [[ -n $name ]] && ! _ceph_alive "$name"; then
            _ceph_log "$name exited while waiting for $what"
            return 1
        fi
        if _ceph_expired; then
            _ceph_log "timed out waiting for $what"
            return 1
        fi
        sleep 0.5
    done
}

_ceph_osd_up()
{
    local out
    out=$(_ceph_cli osd stat -f json) || return 1
    [[ $out =~ \"num_up_osds\":[[:space:]]*1[,}] ]]
}

_ceph_rgw_answers()
{
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$_CEPH_PORT/") || return 1
    [[ $code =~ ^[2-4][0-9][0-9]$ ]]
}

_ceph_write_conf()
{
    local dir=$1 fsid=$2 monport=$3 port=$4 store=$5
    cat >"$dir/ceph.conf" <<EOF
# Written by tests/lib/ceph.sh: a throwaway single-OSD cluster on 127.0.0.1.
# (The bluestore block file is the default DIR/osd/block, created sparse by mkfs.)
[global]
fsid = $fsid
mon initial members = a
mon host = [v2:127.0.0.1:$monport]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind msgr2 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$cluster-\$name.asok
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
# One OSD: pools of size 1, placement by OSD rather than by host.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# RGW creates 7 pools; the default 32 PGs each would pass the 250 PGs per OSD limit.
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
# A nearly full test disk should not stop the mon in the middle of a run.
mon data avail warn = 2
mon data avail crit = 1

[mon.a]
mon data = $dir/mon/a

[osd.0]
osd data = $dir/osd
osd objectstore = $store
bluestore block create = true
bluestore block size = 21474836480
osd memory target = 1073741824

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw data = $dir/rgw
# Deleted and overwritten tail objects would otherwise stay for 2 hours.
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
}

# _ceph_kill_one DIR PID NAME: SIGTERM, then SIGKILL after 15 s; returns once PID has gone.
_ceph_kill_one()
{
    local dir=$1 pid=$2 name=$3 end
    _ceph_pid_ours "$dir" "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    end=$((SECONDS + 15))
    while ((SECONDS < end)); do
        _ceph_pid_ours "$dir" "$pid" || return 0
        sleep 0.1
    done
    _ceph_log "$name (pid $pid) did not stop within 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    end=$((SECONDS + 5))
    while ((SECONDS < end)); do
        _ceph_pid_ours "$dir" "$pid" || return 0
        sleep 0.1
    done
    _ceph_log "$name (pid $pid) survived SIGKILL"
    return 1
}

# _ceph_kill_recorded DIR: stop every recorded daemon still ours, newest first and one at a time:
# radosgw before the OSD and the mon it talks to (it hangs in its shutdown once they are gone),
# the OSD before the mon.
_ceph_kill_recorded()
{
    local dir=$1 pid name lines=() i rc=0
    [[ -f $dir/pids ]] || return 0
    while read -r pid name; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        lines+=("$pid $name")
    done <"$dir/pids"
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        _ceph_kill_one "$dir" "${lines[i]%% *}" "${lines[i]#* }" || rc=1
    done
    return "$rc"
}

# ceph_stop DIR: stop the cluster in DIR and delete DIR (unless KEEP_DIR=1).
ceph_stop()
{
    local dir=${1:-}
    [[ -n $dir ]] || {
        _ceph_log "usage: ceph_stop DIR"
        return 2
    }
    [[ -d $dir ]] || return 0
    dir=$(cd "$dir" && pwd -P) || return 1
    # Refuse to act on (and above all delete) a directory this script did not make.
    [[ -f $dir/ceph.conf && -f $dir/.ceph-sh ]] || {
        _ceph_log "$dir is not a directory made by ceph.sh start; not touching it"
        return 1
    }
    local rc=0
    _ceph_kill_recorded "$dir" || rc=1
    if [[ ${KEEP_DIR:-0} != 1 && $rc == 0 ]]; then
        rm -rf -- "$dir"
    fi
    return "$rc"
}

# Called when start fails: stop what was started, drop the data, keep DIR/log and show its end.
_ceph_fail()
{
    local f
    _ceph_log "start FAILED: $*"
    _ceph_kill_recorded "$_CEPH_DIR" || true
    for f in "$_CEPH_DIR"/log/*; do
        [[ -s $f ]] || continue
        printf '==> %s (last 15 lines) <==\n' "$f" >&2
        tail -n 15 "$f" >&2
    done
    rm -rf -- "$_CEPH_DIR/osd" "$_CEPH_DIR/mon" "$_CEPH_DIR/rgw" "$_CEPH_DIR/run" \
        "$_CEPH_DIR/keyring" "$_CEPH_DIR/s3.env"
    _ceph_log "start FAILED; logs kept in $_CEPH_DIR/log"
    return 1
}

# ceph_start [PORT] [DIR]: start a cluster and print the S3_* and CEPH_DIR lines on stdout. Runs in
# a subshell: nothing of its state reaches the caller's shell.
ceph_start()
(
    local port=${1:-7480} dir=${2:-} region=${S3_REGION:-nyc3} store=${CEPH_OSD_STORE:-bluestore}
    local monport fsid osd_uuid osd_key id out access secret t0=$SECONDS
    [[ $(id -u) == 0 ]] || {
        _ceph_log "must run as root"
        return 1
    }
    local b
    for b in ceph-authtool monmaptool ceph-mon ceph-osd ceph radosgw radosgw-admin curl; do
        command -v "$b" >/dev/null 2>&1 || {
            _ceph_log "$b not found: run tools/install-deps.sh (radosgw ceph-mon ceph-osd ceph-common)"
            return 1
        }
    done
    if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1024 || port > 64000)); then
        _ceph_log "bad PORT '$port' (1024-64000)"
        return 1
    fi
    [[ $region =~ ^[A-Za-z0-9_-]+$ ]] || {
        _ceph_log "bad S3_REGION '$region'"
        return 1
    }
    [[ $store == bluestore || $store == memstore ]] || {
        _ceph_log "CEPH_OSD_STORE must be bluestore or memstore"
        return 1
    }
    if _ceph_port_in_use "$port"; then
        _ceph_log "port $port on 127.0.0.1 is already in use"
        return 1
    fi
    monport=$((port + 1000))
    while _ceph_port_in_use "$monport"; do
        monport=$((monport + 1))
        ((monport < port + 1100)) || {
            _ceph_log "no free mon port in $((port + 1000))-$((port + 1099))"
            return 1
        }
    done
    if [[ -z $dir ]]; then
        dir=$(mktemp -d /tmp/ceph-rgw.XXXXXX) || return 1
    else
        mkdir -p "$dir" || return 1
        if [[ -n $(ls -A "$dir") ]]; then
            _ceph_log "$dir is not empty"
            return 1
        fi
    fi
    dir=$(cd "$dir" && pwd -P) || return 1
    # Admin sockets are Unix sockets (at most 107 bytes).
    if ((${#dir} > 70)); then
        _ceph_log "'$dir' is too long for the admin sockets below it"
        return 1
    fi
    chmod 0700 "$dir"
    mkdir -p "$dir/log" "$dir/run" "$dir/mon" "$dir/osd" "$dir/rgw"
    : >"$dir/.ceph-sh"
    : >"$dir/pids"

    _CEPH_DIR=$dir
    _CEPH_CONF=$dir/ceph.conf
    _CEPH_PORT=$port
    _CEPH_DEADLINE=$((SECONDS + ${CEPH_START_TIMEOUT:-180}))
    # Our ceph.conf and nothing from the environment.
    unset CEPH_ARGS CEPH_CONF

    fsid=$(cat /proc/sys/kernel/random/uuid)
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    _ceph_write_conf "$dir" "$fsid" "$monport" "$port" "$store"
    _ceph_log "dir $dir, S3 port $port, mon port $monport, osd $store"

    # Keys (cephx on). The keyring holds secrets: 0600 from the start.
    (
        umask 077
        ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' &&
            ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' \
                --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' &&
            ceph-authtool "$dir/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' \
                --cap osd 'allow rwx' --cap mgr 'allow rw'
    ) >>"$dir/log/setup.log" 2>&1 || {
        _ceph_fail "ceph-authtool failed"
        return 1
    }

    # The mon.
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" \
        >>"$dir/log/setup.log" 2>&1 || {
        _ceph_fail "monmaptool failed"
        return 1
    }
    timeout 60 ceph-mon -c "$_CEPH_CONF" -i a --mkfs --monmap "$dir/monmap" \
        --keyring "$dir/keyring" >>"$dir/log/setup.log" 2>&1 || {
        _ceph_fail "ceph-mon --mkfs failed"
        return 1
    }
    _ceph_spawn mon.a ceph-mon -c "$_CEPH_CONF" -i a -f
    _ceph_wait "the mon" mon.a _ceph_cli mon stat || {
        _ceph_fail "the mon did not come up"
        return 1
    }
    _ceph_log "mon up after $((SECONDS - t0)) s"

    # The OSD: its key goes to `ceph osd new` on stdin and into the keyring by file, not argv.
    osd_key=$(ceph-authtool --gen-print-key) || {
        _ceph_fail "ceph-authtool --gen-print-key failed"
        return 1
    }
    id=$(printf '{"cephx_secret": "%s"}\n' "$osd_key" |
        _ceph_cli osd new "$osd_uuid" -i - 2>>"$dir/log/setup.log") || {
        _ceph_fail "ceph osd new failed"
        return 1
    }
    [[ $id == 0 ]] || {
        _ceph_fail "ceph osd new gave id '$id', expected 0"
        return 1
    }
    printf '[osd.0]\n\tkey = %s\n' "$osd_key" >>"$dir/keyring"
    timeout 120 ceph-osd -c "$_CEPH_CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" \
        >>"$dir/log/setup.log" 2>&1 || {
        _ceph_fail "ceph-osd --mkfs failed"
        return 1
    }
    _ceph_spawn osd.0 ceph-osd -c "$_CEPH_CONF" -i 0 -f
    _ceph_wait "the OSD" osd.0 _ceph_osd_up || {
        _ceph_fail "the OSD did not come up"
        return 1
    }
    _ceph_log "osd up after $((SECONDS - t0)) s"

    # The S3 user; this first radosgw-admin call also creates the pools, zone and zonegroup.
    # radosgw-admin generates the keys (random per start); its JSON output is read, not logged.
    out=$(timeout -k 5 "$(_ceph_left)" radosgw-admin -c "$_CEPH_CONF" -n client.admin \
        user create --uid=test --display-name=test 2>>"$dir/log/setup.log") || {
        _ceph_fail "radosgw-admin user create failed"
        return 1
    }
    access=$(printf '%s' "$out" | python3 -c '
import json, sys
keys = json.load(sys.stdin)["keys"]
print(keys[0]["access_key"])
print(keys[0]["secret_key"])
') || {
        _ceph_fail "cannot read the keys from radosgw-admin user create"
        return 1
    }
    secret=${access#*$'\n'}
    access=${access%%$'\n'*}
    [[ -n $access && -n $secret && $access != "$secret" ]] || {
        _ceph_fail "radosgw-admin user create gave no keys"
        return 1
    }
    _ceph_log "user created after $((SECONDS - t0)) s"

    # Without a realm there is no period to commit: radosgw reads the zonegroup object when it
    # starts, which is after this.
    timeout -k 5 "$(_ceph_left)" radosgw-admin -c "$_CEPH_CONF" -n client.admin \
        zonegroup modify --rgw-zonegroup=default --api-name="$region" \
        >>"$dir/log/setup.log" 2>&1 || {
        _ceph_fail "radosgw-admin zonegroup modify --api-name=$region failed"
        return 1
    }
    out=$(timeout -k 5 "$(_ceph_left)" radosgw-admin -c "$_CEPH_CONF" -n client.admin \
        zonegroup get --rgw-zonegroup=default 2>>"$dir/log/setup.log") || {
        _ceph_fail "radosgw-admin zonegroup get failed"
        return 1
    }
    [[ $out =~ \"api_name\":[[:space:]]*\"$region\" ]] || {
        _ceph_fail "the zonegroup api_name is not $region"
        return 1
    }

    _ceph_spawn rgw.a radosgw -c "$_CEPH_CONF" -n client.rgw.a -f
    _ceph_wait "radosgw on 127.0.0.1:$port" rgw.a _ceph_rgw_answers || {
        _ceph_fail "radosgw did not answer on 127.0.0.1:$port"
        return 1
    }
    _ceph_log "radosgw up after $((SECONDS - t0)) s"

    out=$(printf 'S3_ENDPOINT=%q\nS3_ACCESS_KEY=%q\nS3_SECRET_KEY=%q\nS3_REGION=%q\nCEPH_DIR=%q\n' \
        "http://127.0.0.1:$port" "$access" "$secret" "$region" "$dir")
    (umask 077 && printf '%s\n' "$out" >"$dir/s3.env")
    printf '%s\n' "$out"
)

_ceph_main()
{
    set -euo pipefail
    case ${1:-} in
    start)
        shift
        (($# <= 2)) || {
            _ceph_log "usage: $0 start [PORT] [DIR]"
            return 2
        }
        ceph_start "$@"
        ;;
    stop)
        shift
        (($# == 1)) || {
            _ceph_log "usage: $0 stop DIR"
            return 2
        }
        ceph_stop "$1"
        ;;
    *)
        sed -n '3,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
        return 2
        ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    _ceph_main "$@"
fi
