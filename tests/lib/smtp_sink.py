#!/usr/bin/python3
"""A real SMTP server for the notification tests (aiosmtpd, Debian's python3-aiosmtpd): every
message received is appended to a JSON-lines file with its envelope and the AUTH login used.

    smtp_sink.py --port-file FILE --log FILE [--user U --password P] [--max-seconds N]

Listens on 127.0.0.1 (a free port, written to --port-file once listening). With --user/--password,
AUTH PLAIN/LOGIN is offered without TLS (a test on 127.0.0.1 only) and other credentials are
refused; messages are accepted either way, and "login" records who sent them (null: no AUTH).
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Saver:
    def __init__(self, log):
        self.log = log

    async def handle_DATA(self, server, session, envelope):
        data = session.auth_data if session.authenticated else None
        login = data.login.decode() if data is not None and hasattr(data, "login") else None
        entry = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "login": login,
            "data": envelope.content.decode("utf-8", "replace"),
            "time": time.time(),
        }
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        return "250 OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--max-seconds", type=int, default=600)
    a = ap.parse_args()
    open(a.log, "a").close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (a.user is not None and auth_data.login.decode() == a.user
              and auth_data.password.decode() == a.password)
        return AuthResult(success=ok, auth_data=auth_data)

    kwargs = {}
    if a.user is not None:
        kwargs = {"authenticator": authenticator, "auth_require_tls": False}
    ctl = Controller(Saver(a.log), hostname="127.0.0.1", port=port, **kwargs)
    ctl.start()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, a.port_file)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait(a.max_seconds)
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
