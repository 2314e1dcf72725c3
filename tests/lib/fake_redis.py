#!/usr/bin/env python3
"""A scripted fake Redis 7.0 server for the fault tests (a real server is used for the rest).

usage: fake_redis.py --rdb FILE --port-file FILE --log FILE [--mode MODE] [--password-file F]
                     [--keyspace-file FILE] [--keepalives N] [--port N] [--max-seconds N]

Answers AUTH, PING, INFO (the text of a redis 7.0.15 server; the keyspace section from
--keyspace-file, lines like "db0:keys=10,expires=2,avg_ttl=0", as INFO keyspace prints them),
SELECT, CLIENT, REPLCONF (+OK), and PSYNC (+FULLRESYNC, then the payload) / SYNC (the payload) with
the bytes of --rdb, after --keepalives bare newlines. Modes (--mode):
  ok             `$<len>` transfer of the whole file, then close
  eof            diskless framing: `$EOF:<40 hex>`, the file, the same 40 bytes, then close
  truncate:N     `$<len>` header, only the first N payload bytes, then close
  corrupt:OFF    `$<len>` transfer with the byte at OFF flipped (xor 0xff)
  drop-mid       EOF framing, close after half the payload (no mark)
  refuse-sync    -NOPERM for PSYNC and SYNC (and -NOPERM for REPLCONF rdb-only is NOT sent: a real
                 server lets any user run REPLCONF)
  wrongpass      -WRONGPASS for every AUTH
Every command received is logged to --log as one JSON line {"conn": N, "cmd": [args...]} (the
arguments as latin-1 text), and "event" lines say what the fake did (payload sent, closed).
Exits after --max-seconds (default 300).
"""

import argparse
import json
import os
import socket
import sys
import threading
import time

INFO_TEMPLATE = """# Server\r
redis_version:7.0.15\r
redis_git_sha1:00000000\r
redis_git_dirty:0\r
redis_build_id:ae4d7c971a948f0\r
redis_mode:standalone\r
os:Linux 6.1.0 x86_64\r
arch_bits:64\r
multiplexing_api:epoll\r
gcc_version:12.2.0\r
process_id:{pid}\r
run_id:0123456789abcdef0123456789abcdef01234567\r
tcp_port:{port}\r
uptime_in_seconds:100\r
executable:/usr/bin/redis-server\r
config_file:\r
\r
# Clients\r
connected_clients:1\r
\r
# Memory\r
used_memory:{used_memory}\r
used_memory_human:{used_memory_mb:.2f}M\r
maxmemory:0\r
maxmemory_policy:noeviction\r
\r
# Persistence\r
loading:0\r
rdb_bgsave_in_progress:0\r
rdb_last_bgsave_status:ok\r
aof_enabled:0\r
aof_rewrite_in_progress:0\r
\r
# Stats\r
total_connections_received:1\r
\r
# Replication\r
role:master\r
connected_slaves:0\r
master_replid:0123456789abcdef0123456789abcdef01234567\r
master_repl_offset:0\r
\r
# CPU\r
used_cpu_sys:0.1\r
used_cpu_user:0.1\r
\r
# Keyspace\r
{keyspace}"""

MARK = b"0123456789abcdef0123456789abcdef0123beef"


class Log:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, obj):
        with self.lock:
            self.f.write(json.dumps(obj) + "\n")
            self.f.flush()


class Conn:
    def __init__(self, sock, n, cfg, log):
        self.sock = sock
        self.n = n
        self.cfg = cfg
        self.log = log
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf and b"\n" not in self.buf:
            self.fill()
        i = self.buf.find(b"\n")
        ln, self.buf = self.buf[:i], self.buf[i + 1:]
        return ln.rstrip(b"\r")

    def exact(self, k):
        while len(self.buf) < k:
            self.fill()
        d, self.buf = self.buf[:k], self.buf[k:]
        return d

    def command(self):
        ln = self.line()
        while ln == b"":
            ln = self.line()
        if not ln.startswith(b"*"):
            return ln.split()  # inline command (e.g. SYNC\r\n)
        argc = int(ln[1:])
        args = []
        for _ in range(argc):
            h = self.line()
            if not h.startswith(b"$"):
                raise ValueError("bad bulk header %r" % h)
            k = int(h[1:])
            args.append(self.exact(k))
            self.exact(2)
        return args

    def send(self, b):
        self.sock.sendall(b)

    def event(self, what, **kw):
        kw.update({"conn": self.n, "event": what})
        self.log.write(kw)

    def info(self):
        ks = self.cfg.keyspace
        return INFO_TEMPLATE.format(pid=os.getpid(), port=self.cfg.bound_port,
                                    used_memory=self.cfg.used_memory,
                                    used_memory_mb=self.cfg.used_memory / 1048576.0,
                                    keyspace=ks).encode()

    def payload(self, psync):
        mode = self.cfg.mode
        data = self.cfg.rdb
        if psync:
            self.send(b"+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0\r\n")
        for _ in range(self.cfg.keepalives):
            self.send(b"\n")
            time.sleep(0.05)
        if mode in ("ok", "eof") or mode.startswith("corrupt:"):
            if mode.startswith("corrupt:"):
                off = int(mode.split(":", 1)[1])
                if off < 0:
                    off += len(data)
                b = bytearray(data)
                b[off] ^= 0xFF
                data = bytes(b)
            if mode == "eof":
                self.send(b"$EOF:" + MARK + b"\r\n")
                self.send(data)
                self.send(MARK)
            else:
                self.send(b"$%d\r\n" % len(data))
                self.send(data)
            self.event("payload sent", bytes=len(data))
        elif mode.startswith("truncate:"):
            k = int(mode.split(":", 1)[1])
            self.send(b"$%d\r\n" % len(data))
            self.send(data[:k])
            self.event("payload truncated", bytes=min(k, len(data)), of=len(data))
        elif mode == "drop-mid":
            self.send(b"$EOF:" + MARK + b"\r\n")
            self.send(data[: len(data) // 2])
            self.event("payload dropped", bytes=len(data) // 2, of=len(data))
        else:
            raise ValueError("mode %r" % mode)
        raise EOFError  # close, as a server does after an rdb-only transfer

    def serve(self):
        authed = self.cfg.password is None and self.cfg.mode != "wrongpass"
        while True:
            args = self.command()
            if not args:
                continue
            self.log.write({"conn": self.n, "cmd": [a.decode("latin-1") for a in args]})
            name = args[0].upper()
            mode = self.cfg.mode
            if name == b"AUTH":
                if mode == "wrongpass":
                    self.send(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
                elif self.cfg.password is not None and args[-1].decode("latin-1") != self.cfg.password:
                    self.send(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
                else:
                    authed = True
                    self.send(b"+OK\r\n")
                continue
            if name == b"HELLO":
                self.send(b"-ERR unknown command 'HELLO'\r\n")
                continue
            if not authed:
                self.send(b"-NOAUTH Authentication required.\r\n")
                continue
            if name == b"PING":
                self.send(b"+PONG\r\n")
            elif name == b"INFO":
                body = self.info()
                want = {a.decode("latin-1").lower() for a in args[1:]}
                if want and not want & {"all", "everything", "default"}:
                    # Only the sections asked for, as a real server does.
                    parts = body.split(b"\r\n\r\n")
                    body = b"\r\n\r\n".join(
                        p for p in parts if p[2:].split(b"\r\n")[0].decode().lower() in want)
                self.send(b"$%d\r\n%s\r\n" % (len(body), body))
            elif name in (b"REPLCONF", b"SELECT", b"CLIENT"):
                self.send(b"+OK\r\n")
            elif name in (b"PSYNC", b"SYNC"):
                if mode == "refuse-sync":
                    self.send(b"-NOPERM this user has no permissions to run the '%s' command\r\n" %
                              name.lower())
                    continue
                self.payload(name == b"PSYNC")
            elif name == b"QUIT":
                self.send(b"+OK\r\n")
                raise EOFError
            else:
                self.send(b"-ERR unknown command '%s', with args beginning with: \r\n" %
                          args[0][:64])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rdb", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--password-file", help="require AUTH with the password in this file")
    ap.add_argument("--keyspace-file")
    ap.add_argument("--used-memory", type=int, default=1048576)
    ap.add_argument("--keepalives", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=300)
    cfg = ap.parse_args()
    ok_modes = ("ok", "eof", "drop-mid", "refuse-sync", "wrongpass")
    if cfg.mode not in ok_modes and not cfg.mode.startswith(("truncate:", "corrupt:")):
        ap.error("unknown mode %r" % cfg.mode)
    with open(cfg.rdb, "rb") as f:
        cfg.rdb = f.read()
    cfg.password = None
    if cfg.password_file:
        with open(cfg.password_file, encoding="utf-8") as f:
            cfg.password = f.read().strip()
    ks = ""
    if cfg.keyspace_file:
        with open(cfg.keyspace_file, encoding="utf-8") as f:
            ks = "".join(ln.strip() + "\r\n" for ln in f if ln.strip().startswith("db"))
    cfg.keyspace = ks
    log = Log(cfg.log)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", cfg.port))
    srv.listen(16)
    cfg.bound_port = srv.getsockname()[1]
    tmp = cfg.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % cfg.bound_port)
    os.replace(tmp, cfg.port_file)

    deadline = time.monotonic() + cfg.max_seconds
    srv.settimeout(0.5)
    n = 0
    while time.monotonic() < deadline:
        try:
            s, _ = srv.accept()
        except socket.timeout:
            continue
        n += 1

        def run(sock, k):
            c = Conn(sock, k, cfg, log)
            c.event("connected")
            try:
                c.serve()
            except (EOFError, ConnectionError, ValueError) as e:
                if isinstance(e, ValueError):
                    c.event("protocol error", detail=str(e))
            finally:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
                c.event("closed")

        threading.Thread(target=run, args=(s, n), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
