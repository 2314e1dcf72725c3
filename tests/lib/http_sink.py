#!/usr/bin/python3
"""An HTTP sink for the notification tests: records every request (method, path, headers, body,
the status it was answered with) as one JSON line, and can be told to fail.

    http_sink.py --port-file FILE --log FILE [--rule PREFIX=SPEC]... [--max-seconds N]

Listens on 127.0.0.1 (a free port, written to --port-file once listening). Each --rule applies to
requests whose path starts with PREFIX (the first matching rule wins); SPEC is
  500,500     answer 500, then 500, then 200 from the third request on (any statuses)
  always:429  answer 429 every time
  hang        read the request and never answer (until the client gives up)
Otherwise every request gets 200 with a body fitting the service: Matrix's directory lookup
(GET /_matrix/client/v3/directory/room/...) answers {"room_id": "!resolved:example.org"}, a Mastodon
status {"id": "1"}, anything else {}. A request is logged before its answer is sent, so the log is
complete once the client has its answer.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"log": None, "rules": [], "counts": {}}


def parse_rule(text):
    prefix, _, spec = text.partition("=")
    if spec == "hang":
        return {"prefix": prefix, "hang": True}
    if spec.startswith("always:"):
        return {"prefix": prefix, "always": int(spec[7:])}
    return {"prefix": prefix, "statuses": [int(s) for s in spec.split(",") if s]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends: without this, Nagle holds the body of an answer on a
    # kept-alive connection until the client's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rule = None
        for r in STATE["rules"]:
            if self.path.startswith(r["prefix"]):
                rule = r
                break
        status = 200
        with LOCK:
            if rule is not None and not rule.get("hang"):
                n = STATE["counts"].get(rule["prefix"], 0)
                STATE["counts"][rule["prefix"]] = n + 1
                if "always" in rule:
                    status = rule["always"]
                elif n < len(rule["statuses"]):
                    status = rule["statuses"][n]
            entry = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "status": "hang" if rule is not None and rule.get("hang") else status,
                "time": time.time(),
            }
            with open(STATE["log"], "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        if rule is not None and rule.get("hang"):
            time.sleep(120)
            return
        if status != 200:
            out = json.dumps({"error": "scripted failure %d" % status}).encode()
        elif self.command == "GET" and self.path.startswith("/_matrix/client/v3/directory/room/"):
            out = json.dumps({"room_id": "!resolved:example.org", "servers": ["example.org"]}).encode()
        elif self.path.startswith("/api/v1/statuses"):
            out = json.dumps({"id": "1"}).encode()
        else:
            out = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = _answer
    do_POST = _answer
    do_PUT = _answer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rule", action="append", default=[])
    ap.add_argument("--max-seconds", type=int, default=600)
    a = ap.parse_args()
    STATE["log"] = a.log
    STATE["rules"] = [parse_rule(r) for r in a.rule]
    open(a.log, "a").close()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    threading.Timer(a.max_seconds, lambda: os._exit(0)).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
