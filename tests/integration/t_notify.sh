#!/usr/bin/env bash
# Notifications reaching real receivers on 127.0.0.1: an HTTP sink (tests/lib/http_sink.py) that
# records every request, and a real SMTP server (aiosmtpd, tests/lib/smtp_sink.py). One [notify]
# section per channel type; `permafrost run` of a local-store postgres job sends start and success,
# and each request is checked for its exact shape (paths, auth headers, JSON fields,
# Idempotency-Key, the Matrix alias lookup and txn path, ntfy headers, healthchecks /start then
# success with the same rid, the e-mail's envelope, headers and body). Then: a failing job sends a
# failure with its error; a receiver answering 500 twice gets the message on the third try; a
# receiver that is down, always answers 500, or hangs does not change the exit status and is
# logged (a 404 is not retried); an invalid URL is a config error that does not quote it; `notify test` and `notify list`;
# and no token appears in any output or in the state directory.
# timeout: 120
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/assert.sh
. "$root/tests/lib/assert.sh"
test_init

PY=$(command -v /usr/bin/python3 || command -v python3)
# Every secret below contains this mark, so one grep finds a leak.
mark="pfsecret$RANDOM$RANDOM"
SAVED=$T/outputs
mkdir -p "$SAVED"

# wait_port_file FILE: the port a sink wrote once it listens.
wait_port_file()
{
    local i
    for ((i = 0; i < 100; i++)); do
        if [[ -s $1 ]]; then
            cat "$1"
            return 0
        fi
        sleep 0.1
    done
    fail "no port in $1"
}

step "start the HTTP sink and the SMTP server"
"$PY" "$root/tests/lib/http_sink.py" --port-file "$T/http.port" --log "$T/http.log" \
    --rule /flaky=500,500 --rule /always=always:500 --rule /slow=hang --rule /busy=429 --rule /gone=always:404 \
    2>"$T/http_sink.err" &
track_pid $!
smtp_pass="smtp-$mark"
"$PY" "$root/tests/lib/smtp_sink.py" --port-file "$T/smtp.port" --log "$T/smtp.log" \
    --user pf --password "$smtp_pass" 2>"$T/smtp_sink.err" &
track_pid $!
HP=$(wait_port_file "$T/http.port")
SP=$(wait_port_file "$T/smtp.port")
down_port=$(free_port)

db=nt_src
pg_new_db "$db"
psql_db "$db" -c "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)" \
    >/dev/null

# The URLs carry the tokens: they come from the environment, as the docs recommend.
export N_SLACK="slack+http://127.0.0.1:$HP/slack/T0/B0/$mark"
export N_DISCORD="discord+http://127.0.0.1:$HP/discord/123/$mark"
export N_MATRIX="matrix://syt_$mark@127.0.0.1:$HP/#ops:example.org"
export N_NTFY="ntfy://:tk_$mark@127.0.0.1:$HP/backups?tags=floppy_disk"
export N_MASTODON="mastodon://$mark@127.0.0.1:$HP/@admin"
export N_HC="hc+http://127.0.0.1:$HP/hc/$mark"
export N_HOOK="http://127.0.0.1:$HP/hook/$mark"
export N_SMTP="smtp://pf:$smtp_pass@127.0.0.1:$SP/?from=permafrost@example.org&to=ops@example.org,admin@example.org&starttls=no"

channels=(slack discord matrix ntfy mastodon hc hook smtp)
# all_channels_conf ON: the base config plus one section per channel with `on = ON`.
all_channels_conf()
{
    local c lines=()
    for c in "${channels[@]}"; do
        lines+=("" "[notify \"$c\"]" "url = env:N_${c^^}" "on = $1")
    done
    write_conf "$T/pf.conf" "$db" "${lines[@]}"
}

# sink_check PYTHON-CODE: runs checks over the recorded requests (list `reqs`) and e-mails (list
# `mails`); the code raises (assert) on a mismatch.
sink_check()
{
    "$PY" - "$T/http.log" "$T/smtp.log" "$1" <<'PYEOF' || fail "recorded requests"
import email, email.policy, json, os, re, sys
reqs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
mails = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
def by(prefix, method=None):
    return [r for r in reqs if r["path"].startswith(prefix) and (method is None or r["method"] == method)]
exec(sys.argv[3])
print("checked %d requests, %d e-mails" % (len(reqs), len(mails)))
PYEOF
}

reset_sinks()
{
    : >"$T/http.log"
    : >"$T/smtp.log"
}

step "a successful run: start and success to every channel"
all_channels_conf "start, success, failure, warning"
assert_exit 0 pf run db
cp "$T/pf.conf" "$SAVED/"
printf '%s\n%s\n' "$OUT" "$ERR" >"$SAVED/run-ok.txt"
snap=$(pf list db --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
host=$(hostname)
export SNAP=$snap HOSTNAME_T=$host MARK=$mark HP
sink_check '
import os
mark, snap, host = os.environ["MARK"], os.environ["SNAP"], os.environ["HOSTNAME_T"]

s = by("/slack/")
assert [r["path"] for r in s] == ["/slack/T0/B0/" + mark] * 2, s
assert all(r["method"] == "POST" and r["headers"]["content-type"] == "application/json" for r in s)
t = [json.loads(r["body"])["text"] for r in s]
assert t[0].startswith("permafrost: job %r started on %s\njob: db (postgres)\nresult: started\n" % ("db", host)), t[0]
assert t[1].startswith("permafrost: job %r ok on %s\n" % ("db", host)), t[1]
assert "snapshot: " + snap in t[1] and "store local: ok (written)" in t[1] and "duration: " in t[1], t[1]

d = by("/discord/")
assert [r["path"] for r in d] == ["/discord/123/" + mark] * 2, d
c = [json.loads(r["body"]) for r in d]
assert list(c[1].keys()) == ["content"] and "result: ok" in c[1]["content"], c

g = by("/_matrix/client/v3/directory/room/")
assert len(g) == 1 and g[0]["method"] == "GET", g
assert g[0]["path"] == "/_matrix/client/v3/directory/room/%23ops%3Aexample.org", g
assert g[0]["headers"]["authorization"] == "Bearer syt_" + mark
m = by("/_matrix/client/v3/rooms/")
assert len(m) == 2 and all(r["method"] == "PUT" for r in m), m
txns = []
for r in m:
    p = re.fullmatch(r"/_matrix/client/v3/rooms/%21resolved%3Aexample\.org/send/m\.room\.message/(.+)", r["path"])
    assert p and UUID.match(p.group(1)), r["path"]
    txns.append(p.group(1))
    assert r["headers"]["authorization"] == "Bearer syt_" + mark
    b = json.loads(r["body"])
    assert b["msgtype"] == "m.notice" and b["body"].startswith("permafrost: job"), b
assert txns[0] != txns[1]

n = by("/backups")
assert len(n) == 2, n
assert [r["headers"]["priority"] for r in n] == ["2", "3"], n
assert [r["headers"]["title"] for r in n] == ["permafrost: job %r started on %s" % ("db", host), "permafrost: job %r ok on %s" % ("db", host)]
assert all(r["headers"]["tags"] == "floppy_disk" and r["headers"]["authorization"] == "Bearer tk_" + mark for r in n)
assert n[1]["body"].startswith("job: db (postgres)\nresult: ok\n"), n[1]["body"]

ms = by("/api/v1/statuses")
assert len(ms) == 2 and all(r["method"] == "POST" for r in ms), ms
keys = [r["headers"]["idempotency-key"] for r in ms]
assert all(UUID.match(k) for k in keys) and keys[0] != keys[1], keys
for r in ms:
    assert r["headers"]["authorization"] == "Bearer " + mark
    b = json.loads(r["body"])
    assert b["visibility"] == "direct" and b["status"].startswith("@admin permafrost: job"), b
    assert len(b["status"]) <= 500

h = by("/hc/")
assert len(h) == 2, h
p0 = re.fullmatch(r"/hc/%s/start\?rid=(.+)" % mark, h[0]["path"])
p1 = re.fullmatch(r"/hc/%s\?rid=(.+)" % mark, h[1]["path"])
assert p0 and p1 and p0.group(1) == p1.group(1) and UUID.match(p0.group(1)), [r["path"] for r in h]
assert "result: ok" in h[1]["body"]

w = by("/hook/")
assert len(w) == 2 and all(r["path"] == "/hook/" + mark for r in w), w
j = [json.loads(r["body"]) for r in w]
assert j[0]["event"] == "start" and j[0]["result"] == "started" and j[0]["duration_ms"] is None, j[0]
ok = j[1]
for k in ["event","job","kind","result","host","snapshot","duration_ms","raw_bytes","stored_bytes","stores","summary","error","hint","time"]:
    assert k in ok, k
assert (ok["event"], ok["job"], ok["kind"], ok["result"], ok["host"], ok["snapshot"]) == ("success", "db", "postgres", "ok", host, snap), ok
assert ok["stores"] == [{"store": "local", "ok": True, "detail": "written"}], ok["stores"]
assert ok["duration_ms"] >= 0 and ok["raw_bytes"] > 0 and ok["stored_bytes"] > 0 and ok["error"] is None
assert j[0]["run_id"] == ok["run_id"] and UUID.match(ok["run_id"])
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ok["time"])

assert len(mails) == 2, mails
for e in mails:
    assert e["mail_from"] == "permafrost@example.org" and e["login"] == "pf", e
    assert e["rcpt_tos"] == ["ops@example.org", "admin@example.org"], e
    assert "\r\n" not in e["data"].replace("\r\n", "") or True
msg = email.message_from_string(mails[1]["data"], policy=email.policy.default)
assert msg["From"] == "permafrost@example.org" and msg["To"] == "ops@example.org, admin@example.org", msg
assert msg["Subject"] == "permafrost: job %r ok on %s" % ("db", host), msg["Subject"]
assert re.fullmatch(r"<[0-9a-f-]{36}@.+>", msg["Message-ID"]), msg["Message-ID"]
assert msg["Date"] and msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
body = msg.get_content()
assert "result: ok" in body and "snapshot: " + snap in body and "store local: ok (written)" in body, body
'

step "a failing job: failure with the error; a receiver that is down changes nothing"
reset_sinks
all_channels_conf "failure"
printf '\n[notify "down"]\nurl = http://127.0.0.1:%s/x/%s\n' "$down_port" "$mark" >>"$CONF"
run env DB_PASS="wrong-$RANDOM" "$PERMAFROST" -c "$CONF" run db
assert_eq 1 "$RC" "exit status of the failing job"
assert_contains "$ERR" "notify 'down' (webhook on 127.0.0.1:$down_port): failure notice for job 'db' not sent: after 3 attempts: POST 127.0.0.1:$down_port: cannot connect" "stderr"
printf '%s\n%s\n' "$OUT" "$ERR" >"$SAVED/run-fail.txt"
sink_check '
assert len(by("/slack/")) == 1 and len(by("/hc/")) == 1 and len(mails) == 1, reqs
j = json.loads(by("/hook/")[0]["body"])
assert j["event"] == "failure" and j["result"] == "failed" and j["exit_code"] == 1, j
assert "authentication" in j["error"].lower(), j["error"]
h = by("/hc/")[0]
assert re.fullmatch(r"/hc/[^/]+/fail\?rid=[0-9a-f-]{36}", h["path"]), h["path"]
assert "error: " in h["body"] and "authentication" in h["body"].lower(), h["body"]
n = by("/backups")[0]
assert n["headers"]["priority"] == "4" and "result: failed (exit 1)" in n["body"], n
assert "FAILED" in by("/slack/")[0]["body"]
'

# one_channel_conf NAME URL ON: the base config with one channel.
one_channel_conf()
{
    write_conf "$T/pf.conf" "$db" "" "[notify \"$1\"]" "url = $2" "on = $3"
}

step "a receiver answering 500 twice gets the message on the third try"
reset_sinks
one_channel_conf flaky "http://127.0.0.1:$HP/flaky/$mark" success
assert_exit 0 pf run db
assert_not_contains "$ERR" "not sent" "stderr"
sink_check '
f = by("/flaky/")
assert [r["status"] for r in f] == [500, 500, 200], [r["status"] for r in f]
assert f[0]["body"] == f[1]["body"] == f[2]["body"]
assert len(set(json.loads(r["body"])["message_id"] for r in f)) == 1
assert f[1]["time"] - f[0]["time"] >= 0.9 and f[2]["time"] - f[1]["time"] >= 2.9
'

step "a receiver that always answers 500, one that hangs, one busy once: logged, exit 0"
reset_sinks
write_conf "$T/pf.conf" "$db" \
    "" "[notify \"always\"]" "url = http://127.0.0.1:$HP/always/$mark" "on = success" \
    "" "[notify \"slow\"]" "url = ntfy://:tk_$mark@127.0.0.1:$HP/slow" "on = success" \
    "" "[notify \"busy\"]" "url = slack+http://127.0.0.1:$HP/busy/$mark" "on = success"
run env PERMAFROST_NOTIFY_TIMEOUT_MS=1000 "$PERMAFROST" -c "$CONF" run db
assert_eq 0 "$RC" "exit status with failing receivers"
printf '%s\n%s\n' "$OUT" "$ERR" >"$SAVED/run-receivers-fail.txt"
assert_contains "$OUT" "snapshot" "the job's own output"
assert_match "$ERR" "notify 'always' \(webhook on 127\.0\.0\.1:$HP\): success notice for job 'db' not sent: after 3 attempts: POST 127\.0\.0\.1:$HP: HTTP 500: \{\"error\": \"scripted failure 500\"\}" "always-500 warning"
assert_match "$ERR" "notify 'slow' \(ntfy on 127\.0\.0\.1:$HP\): success notice for job 'db' not sent: .*timed out" "hang warning"
# 429 once, then accepted: no warning
assert_not_contains "$ERR" "notify 'busy'" "stderr"
sink_check '
assert [r["status"] for r in by("/always/")] == [500, 500, 500]
assert len(by("/slow")) >= 2
assert [r["status"] for r in by("/busy/")] == [429, 200]
'

step "--no-notify sends nothing"
reset_sinks
all_channels_conf "start, success"
assert_exit 0 pf run --no-notify db
assert_eq "0" "$(wc -l <"$T/http.log")" "requests with --no-notify"

step "notify list and notify test"
assert_exit 0 pf notify list
printf '%s\n' "$OUT" >"$SAVED/list.txt"
assert_contains "$OUT" "slack-compatible webhook on 127.0.0.1:$HP" "list"
assert_contains "$OUT" "matrix on 127.0.0.1:$HP in #ops:example.org" "list"
assert_contains "$OUT" "mastodon on 127.0.0.1:$HP as direct to @admin" "list"
assert_contains "$OUT" "smtp to 2 recipients via 127.0.0.1:$SP (no TLS)" "list"
assert_contains "$OUT" "on start,success; jobs all" "list"
reset_sinks
assert_exit 0 pf notify test
printf '%s\n' "$OUT" >"$SAVED/test.txt"
assert_eq 8 "$(grep -c ' ok ' <<<"$OUT")" "channels ok"
sink_check '
assert [r["path"] for r in by("/hc/")] == ["/hc/%s/log" % os.environ["MARK"]], by("/hc/")
assert json.loads(by("/hook/")[0]["body"])["event"] == "test"
assert len(mails) == 1 and "test notification" in mails[0]["data"]
' 
reset_sinks
assert_exit 0 pf notify test ntfy
assert_eq "1" "$(wc -l <"$T/http.log")" "requests of one named channel"
# 404 is not worth another attempt: one request, at once.
one_channel_conf gone "http://127.0.0.1:$HP/gone/$mark" failure
reset_sinks
run pf notify test
assert_eq 1 "$RC" "exit status of a failed test"
assert_contains "$OUT" "gone             FAILED  webhook on 127.0.0.1:$HP: POST 127.0.0.1:$HP: HTTP 404: {\"error\": \"scripted failure 404\"}" "test output"
assert_eq "1" "$(wc -l <"$T/http.log")" "attempts at a 404"
printf '%s\n%s\n' "$OUT" "$ERR" >"$SAVED/test-fail.txt"
assert_exit 2 pf notify test nosuch

step "an invalid URL is a config error that does not quote it"
export N_BAD="mastodons://$mark@mastodon.example"
write_conf "$T/pf.conf" "$db" "" "[notify \"toot\"]" "url = env:N_BAD"
line=$(grep -n '^\[notify "toot"\]' "$CONF" | cut -d: -f1)
run pf run db
assert_eq 3 "$RC" "exit status"
assert_contains "$ERR" "$CONF:$line: notify 'toot': mastodon URL: a direct message needs the account to mention" "error"
printf '%s\n%s\n' "$OUT" "$ERR" >"$SAVED/bad-url.txt"
run pf config check
assert_eq 3 "$RC" "config check exit status"
assert_contains "$ERR" "$CONF:$line: notify 'toot': mastodon URL: a direct message needs the account to mention" "config check error"
printf '%s\n%s\n' "$OUT" "$ERR" >"$SAVED/bad-url-check.txt"

step "no token in any output or in the state directory"
leaks=$(grep -rl -- "$mark" "$SAVED" "$T/state" 2>/dev/null | grep -v '/pf.conf$' || true)
assert_eq "" "$leaks" "files holding a token"
echo "t_notify: ok"
