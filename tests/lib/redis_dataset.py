#!/usr/bin/env python3
"""A Mastodon-shaped Redis dataset as a RESP command stream for `redis-cli --pipe`.

usage: redis_dataset.py [--seed N] [--scale S | --target-bytes B] [--no-large] > data.resp
       redis-cli -p PORT --pipe < data.resp

Deterministic from the seed (apart from what the server adds: TTL deadlines are relative to the
load, and the stream's pending entries carry their delivery time). --scale 1.0 is about 1.2 GB of
used_memory, shaped as measured in shared/notes (C.1: 122 k keys): 20 k home feeds of 400 status
ids, 2 k list feeds, 90 k Sidekiq jobs in four queues, 40 k retry/schedule entries, 100 k cache
strings with TTLs. --target-bytes picks the scale for roughly that used_memory.

What is in it (db 0 unless noted), to cover the value types and encodings a snapshot must carry:
  feed:home:<id>      zset, 400 status ids (score = id): skiplist encoding
  feed:list:<id>      zset, 60 ids: listpack encoding
  queue:default|push|pull|mailers   lists of Sidekiq job JSON (quicklist)
  schedule, retry, dead             zsets, score = time, member = job JSON
  queues, processes                 sets (small listpack-less hashtable / intset below)
  <host>:<pid>:<hex>                Sidekiq process hashes (listpack), plus <...>:work hashes
  stat:processed, stat:failed, stat:processed:<date>  counters (INCR-able ints)
  counter:account:<id>:statuses     counters
  cache:views/... (db 0) and cache:... (db 1)  strings with EX TTLs (embstr and raw)
  account:<id>:profile              hashes with 40 fields (hashtable) and small ones (listpack)
  relationships:<id>                intset sets; tags:<id> sets of strings
  stream:events                     a stream with a consumer group and pending (unacked) entries
  large:blob (1 MiB string), large:zset (50 k members), large:list (20 k elements)
  db 1: cache strings with TTLs, counters, a few persistent strings
"""

import argparse
import random
import sys

# used_memory of the scaled part at --scale 1.0, and of the large values plus an empty server
# (calibrated on redis 7.0.15: 21 MB at 0.01, 131 MB at 0.1).
FULL_BYTES = 1_220_000_000
FIXED_BYTES = 9_000_000


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = b"%d" % a
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Writer:
    def __init__(self, stream):
        self.stream = stream
        self.parts = []
        self.size = 0
        self.commands = 0

    def cmd(self, *args):
        b = resp(args)
        self.parts.append(b)
        self.size += len(b)
        self.commands += 1
        if self.size >= 1 << 20:
            self.flush()

    def flush(self):
        self.stream.write(b"".join(self.parts))
        self.parts = []
        self.size = 0


WORKERS = [
    ("ActivityPub::DeliveryWorker", "push"),
    ("ActivityPub::ProcessingWorker", "default"),
    ("LinkCrawlWorker", "pull"),
    ("FetchReplyWorker", "pull"),
    ("ActionMailer::MailDeliveryJob", "mailers"),
    ("DistributionWorker", "default"),
    ("PushUpdateWorker", "push"),
    ("ThreadResolveWorker", "pull"),
]

ERRORS = [
    ("Mastodon::UnexpectedResponseError", "https://example.social/inbox returned code 503"),
    ("HTTP::ConnectionError", "failed to connect: Connection refused - connect(2) for 203.0.113.9:443"),
    ("OpenSSL::SSL::SSLError", "SSL_connect returned=1 errno=0 peeraddr=198.51.100.7:443 state=error"),
    ("Mastodon::RaceConditionError", "Could not acquire lock"),
]

BASE_TIME = 1_710_000_000  # March 2024
BASE_STATUS = 112_000_000_000_000_000


def hexid(rng, n):
    return "%0*x" % (n, rng.getrandbits(4 * n))


def job_json(rng, i, klass=None, queue=None, retry_count=None):
    if klass is None:
        klass, queue = WORKERS[rng.randrange(len(WORKERS))]
    created = BASE_TIME + rng.randrange(86400) + rng.random()
    args = [rng.randrange(1, 5_000_000), "https://remote%d.example/inbox" % rng.randrange(5000)]
    if klass == "ActivityPub::DeliveryWorker":
        payload = '{"@context":"https://www.w3.org/ns/activitystreams","id":"https://mastodon.example/users/u%d/statuses/%d/activity","type":"Create","actor":"https://mastodon.example/users/u%d","published":"2024-03-09T%02d:%02d:%02dZ","to":["https://www.w3.org/ns/activitystreams#Public"],"object":{"id":"https://mastodon.example/users/u%d/statuses/%d","type":"Note","content":"<p>%s</p>"}}' % (
            args[0], BASE_STATUS + i, args[0], rng.randrange(24), rng.randrange(60), rng.randrange(60),
            args[0], BASE_STATUS + i, "lorem ipsum dolor sit amet " * rng.randrange(1, 8))
        args = [payload.replace('"', '\\"'), args[0], args[1]]
        args_json = '["%s",%d,"%s"]' % tuple(args)
    else:
        args_json = '[%d,"%s"]' % (args[0], args[1])
    s = '{"retry":8,"queue":"%s","args":%s,"class":"%s","jid":"%s","created_at":%.6f,"enqueued_at":%.6f' % (
        queue, args_json, klass, hexid(rng, 24), created, created + rng.random())
    if retry_count is not None:
        cls, msg = ERRORS[rng.randrange(len(ERRORS))]
        s += ',"error_message":"%s","error_class":"%s","failed_at":%.6f,"retry_count":%d,"retried_at":%.6f' % (
            msg, cls, created + 10, retry_count, created + 60)
    return s + "}"


def generate(w, scale, seed, large):
    rng = random.Random(seed)

    def n(full):
        return max(1, int(round(full * scale)))

    # --- db 0 -----------------------------------------------------------------------------
    w.cmd("SELECT", 0)

    # Home feeds: 400 most recent status ids each (Mastodon's FeedManager MAX_ITEMS).
    for acct in range(1, n(20000) + 1):
        newest = BASE_STATUS + rng.randrange(1 << 40)
        step = 1 + rng.randrange(1 << 20)
        args = ["ZADD", "feed:home:%d" % acct]
        for k in range(400):
            sid = b"%d" % (newest - k * step - rng.randrange(step))
            args.append(sid)
            args.append(sid)
        w.cmd(*args)

    # List feeds: short, so they stay listpack-encoded.
    for lid in range(1, n(2000) + 1):
        newest = BASE_STATUS + rng.randrange(1 << 40)
        args = ["ZADD", "feed:list:%d" % lid]
        for k in range(60):
            sid = b"%d" % (newest - k * 4096 - rng.randrange(4096))
            args += [sid, sid]
        w.cmd(*args)

    # Sidekiq queues (LPUSH is what Sidekiq does), in batches of 100 jobs per command.
    queues = {"default": [], "push": [], "pull": [], "mailers": []}
    for i in range(n(90000)):
        klass, queue = WORKERS[rng.randrange(len(WORKERS))]
        queues[queue].append(job_json(rng, i, klass, queue))
    for q, jobs in queues.items():
        for b in range(0, len(jobs), 100):
            w.cmd("LPUSH", "queue:" + q, *jobs[b:b + 100])
    w.cmd("SADD", "queues", *queues.keys())

    # schedule / retry / dead: zsets, score = time.
    for name, full in (("schedule", 15000), ("retry", 25000), ("dead", 2000)):
        args = ["ZADD", name]
        for i in range(n(full)):
            when = "%.6f" % (BASE_TIME + rng.randrange(7 * 86400) + rng.random())
            args += [when, job_json(rng, i, retry_count=rng.randrange(1, 16) if name != "schedule" else None)]
            if len(args) >= 202:
                w.cmd(*args)
                args = ["ZADD", name]
        if len(args) > 2:
            w.cmd(*args)

    # Sidekiq processes and their work hashes.
    procs = []
    for p in range(8):
        ident = "mastodon-sidekiq-%d:%d:%s" % (p % 3, 1000 + p, hexid(rng, 12))
        procs.append(ident)
        info = '{"hostname":"mastodon-sidekiq-%d","started_at":%.3f,"pid":%d,"tag":"","concurrency":25,"queues":["default","push","pull","mailers"],"labels":[],"identity":"%s","version":"6.5.12"}' % (
            p % 3, BASE_TIME + p, 1000 + p, ident)
        w.cmd("HSET", ident, "info", info, "busy", rng.randrange(25), "beat", "%.3f" % (BASE_TIME + 5.0),
              "quiet", "false", "rss", rng.randrange(200000, 900000), "rtt_us", rng.randrange(50, 900))
        w.cmd("HSET", ident + ":work", *sum(([hexid(rng, 4), '{"queue":"push","payload":%s,"run_at":%d}' % (
            job_json(rng, p), BASE_TIME)] for _ in range(3)), []))
    w.cmd("SADD", "processes", *procs)

    # Counters.
    w.cmd("SET", "stat:processed", 987654321)
    w.cmd("SET", "stat:failed", 1234567)
    for d in range(1, 31):
        w.cmd("SET", "stat:processed:2024-03-%02d" % d, rng.randrange(10 ** 7))
        w.cmd("SET", "stat:failed:2024-03-%02d" % d, rng.randrange(10 ** 4))
    for acct in range(1, n(20000) + 1):
        w.cmd("SET", "counter:account:%d:statuses" % acct, rng.randrange(100000))

    # Hashes: a few big ones (hashtable encoding), many small ones (listpack).
    for acct in range(1, n(2000) + 1):
        fields = 40 if acct % 10 == 0 else 6
        args = ["HSET", "account:%d:profile" % acct]
        for f in range(fields):
            args += ["field%d" % f, "value %d %s" % (f, hexid(rng, 8 + (f % 3) * 30 if fields > 6 else 8))]
        w.cmd(*args)

    # Sets: intsets of account ids, sets of tag names.
    for acct in range(1, n(1000) + 1):
        w.cmd("SADD", "relationships:%d" % acct, *(rng.randrange(1, 10 ** 6) for _ in range(20)))
        w.cmd("SADD", "tags:%d" % acct, *("tag%s" % hexid(rng, 6) for _ in range(10)))

    # Cache strings with TTLs (Rails cache entries): small (embstr) and a few KB (raw).
    for i in range(n(75000)):
        size = 30 if i % 4 == 0 else 800 + rng.randrange(3000)
        val = (hexid(rng, 32) * (size // 32 + 1))[:size]
        w.cmd("SET", "cache:views/statuses/%d-%d" % (BASE_STATUS + i, i), val, "EX", 3600 + rng.randrange(7 * 86400))
    # Keys with a millisecond deadline far away (PEXPIREAT).
    for i in range(n(500)):
        w.cmd("SET", "account:%d:regeneration" % (i + 1), "1", "PXAT", (BASE_TIME + 10 * 365 * 86400) * 1000 + i)

    # A stream with a consumer group and pending entries (delivered, never acknowledged).
    for i in range(n(5000) + 20):
        w.cmd("XADD", "stream:events", "%d-%d" % (BASE_TIME * 1000 + i // 3, i % 3),
              "type", "status.created", "id", BASE_STATUS + i, "account", rng.randrange(1, 10 ** 6))
    w.cmd("XGROUP", "CREATE", "stream:events", "indexers", "0")
    w.cmd("XGROUP", "CREATE", "stream:events", "notifiers", "$")
    w.cmd("XREADGROUP", "GROUP", "indexers", "worker-1", "COUNT", 10, "STREAMS", "stream:events", ">")
    w.cmd("XREADGROUP", "GROUP", "indexers", "worker-2", "COUNT", 5, "STREAMS", "stream:events", ">")

    # Large values.
    if large:
        block = bytes(rng.getrandbits(8) for _ in range(4096))
        w.cmd("SET", "large:blob", (block * 256)[: 1 << 20])
        for b in range(0, 50000, 1000):
            args = ["ZADD", "large:zset"]
            for k in range(b, b + 1000):
                args += [k * 7, "member:%08d" % k]
            w.cmd(*args)
        for b in range(0, 20000, 1000):
            w.cmd("RPUSH", "large:list", *("element %d %s" % (k, hexid(rng, 8)) for k in range(b, b + 1000)))

    # --- db 1 -----------------------------------------------------------------------------
    w.cmd("SELECT", 1)
    for i in range(n(25000)):
        size = 40 if i % 3 == 0 else 500 + rng.randrange(2000)
        val = (hexid(rng, 32) * (size // 32 + 1))[:size]
        w.cmd("SET", "cache:rails:%s" % hexid(rng, 16), val, "EX", 3600 + rng.randrange(86400))
    for i in range(n(2000)):
        w.cmd("SET", "rate-limit:%d" % i, rng.randrange(300))
    w.cmd("SET", "db1:marker", "persistent string in db 1")
    w.cmd("RPUSH", "db1:list", "a", "b", "c")
    w.cmd("SELECT", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--scale", type=float, help="1.0 is about %d MB of used_memory" % (FULL_BYTES >> 20))
    g.add_argument("--target-bytes", type=int, help="aim at about this used_memory")
    ap.add_argument("--no-large", action="store_true", help="leave out the large values")
    a = ap.parse_args()
    if a.target_bytes is not None:
        scale = max(a.target_bytes - FIXED_BYTES, FULL_BYTES // 1000) / FULL_BYTES
    elif a.scale is not None:
        scale = a.scale
    else:
        scale = 0.01
    if scale <= 0:
        ap.error("the scale must be positive")
    w = Writer(sys.stdout.buffer)
    generate(w, scale, a.seed, not a.no_large)
    w.flush()
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
