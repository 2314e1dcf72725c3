#!/usr/bin/env python3
"""A small, low-level S3 client and tree generator for the mirror tests (Python 3 stdlib only).

It signs its own requests (SigV4, path-style, payload hash signed), so it can store keys that
rclone and s3cmd would rewrite or refuse ('..' segments, control characters), set any header and
ACL, and count nothing behind the tests' back. Credentials come from the environment of the
server prefix given with --server P: P_ENDPOINT, P_ACCESS_KEY, P_SECRET_KEY, P_REGION (default
us-east-1), never from the command line.

Objects are described by JSON lines ("specs"): {"key": K, "size": N, "seed": S, "headers": {...},
"acl": "public-read"|"private", "part_size": BYTES}. The content of an object is SHAKE-256 of its
seed, cut to its size, so a spec is enough to know every byte; a new seed changes the content at
the same size.

Commands (BUCKET may be "bucket/prefix/": keys are then written and read below the prefix):
  gen [--count N] [--seed S] [--cache-share F] [--big-mib M] [--specials] [--no-unsafe-local]
        print the specs of a Mastodon-shaped tree (media_attachments, accounts, preview cards,
        custom emojis, a cache/ share) with deterministic ids and sizes; --specials adds keys with
        spaces, '+', '%', unicode, 1,000-byte names, zero-byte objects and objects with
        Content-Type, Cache-Control, Content-Disposition, Content-Encoding, x-amz-meta-* and
        private ACLs; --big-mib adds one object of that size uploaded in parts (multipart).
  put --server P BUCKET [FILE]   upload the specs of FILE (default stdin), 8 at a time
  write-local DIR [FILE]         write the specs as files below DIR (mode 0644)
  list --server P BUCKET         one JSON line per object: key (relative), size, etag, mtime
  digest --server P BUCKET [--max-size N]
                                 "key<TAB>size<TAB>md5" per object, sorted by key (downloads;
                                 objects above N bytes are not read: "(not read)")
  digest-local DIR               the same for the files below DIR
  head --server P BUCKET KEY     the object's response headers as JSON (names in lower case)
  acl --server P BUCKET KEY      "public-read" when AllUsers may READ, else "private"
  delete --server P BUCKET KEY...  delete these keys
Keys on the command line may use \\xHH escapes (for control characters).
"""

import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def content(seed, size):
    if size == 0:
        return b""
    return hashlib.shake_256(str(seed).encode()).digest(size)


def quote(s, safe=""):
    return urllib.parse.quote(s, safe=UNRESERVED + safe)


class Client:
    def __init__(self, prefix):
        env = os.environ
        try:
            self.endpoint = env[prefix + "_ENDPOINT"]
            self.access = env[prefix + "_ACCESS_KEY"]
            self.secret = env[prefix + "_SECRET_KEY"]
        except KeyError as e:
            sys.exit("mirror_s3: %s is not set" % e)
        self.region = env.get(prefix + "_REGION") or "us-east-1"
        u = urllib.parse.urlsplit(self.endpoint)
        self.host = u.netloc
        self.hostname = u.hostname
        self.port = u.port or 80

    def _sign(self, method, path, query, headers, payload_hash):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = now.strftime("%Y%m%d")
        headers["host"] = self.host
        headers["x-amz-date"] = amz_date
        headers["x-amz-content-sha256"] = payload_hash
        names = sorted(k.lower() for k in headers)
        lower = {k.lower(): str(v).strip() for k, v in headers.items()}
        canon_headers = "".join("%s:%s\n" % (n, lower[n]) for n in names)
        signed = ";".join(names)
        canon_query = "&".join("%s=%s" % (quote(k), quote(v)) for k, v in sorted(query))
        canon = "\n".join([method, path, canon_query, canon_headers, signed, payload_hash])
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canon.encode()).hexdigest()])
        key = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                    "Signature=%s" % (self.access, scope, signed, sig))
        return canon_query

    def request(self, method, bucket, key="", query=(), headers=None, body=b"", stream=None):
        """(status, headers dict in lower case, body bytes). With stream, the body is fed to it in
        chunks and not returned."""
        headers = dict(headers or {})
        path = "/" + quote(bucket)
        if key:
            path += "/" + quote(key, safe="/")
        query = list(query)
        payload_hash = hashlib.sha256(body).hexdigest()
        qs = self._sign(method, path, query, headers, payload_hash)
        url = path + ("?" + qs if qs else "")
        for attempt in range(5):
            conn = http.client.HTTPConnection(self.hostname, self.port, timeout=120)
            try:
                conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                rh = {k.lower(): v for k, v in resp.getheaders()}
                if stream is not None and resp.status == 200:
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        stream(chunk)
                    data = b""
                else:
                    data = resp.read()
                if resp.status in (500, 503) and attempt < 4:
                    continue
                return resp.status, rh, data
            except (ConnectionError, http.client.HTTPException):
                if attempt == 4:
                    raise
            finally:
                conn.close()
        raise RuntimeError("unreachable")

    def check(self, what, status, data, ok=(200, 204)):
        if status not in ok:
            sys.exit("mirror_s3: %s: HTTP %d %s" % (what, status, data[:300].decode("utf-8",
                                                                                       "replace")))

    def put(self, bucket, key, data, headers, part_size=0):
        if part_size and len(data) > part_size:
            st, _, out = self.request("POST", bucket, key, [("uploads", "")], headers)
            self.check("initiate %s" % key, st, out)
            upload_id = ET.fromstring(out).find("{*}UploadId").text
            parts = []
            for n, off in enumerate(range(0, len(data), part_size), 1):
                st, rh, out = self.request("PUT", bucket, key,
                                           [("partNumber", str(n)), ("uploadId", upload_id)],
                                           body=data[off:off + part_size])
                self.check("part %d of %s" % (n, key), st, out)
                parts.append((n, rh["etag"]))
            xml = "<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % "".join(
                "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % p for p in parts)
            st, _, out = self.request("POST", bucket, key, [("uploadId", upload_id)],
                                      body=xml.encode())
            self.check("complete %s" % key, st, out)
            return
        st, _, out = self.request("PUT", bucket, key, headers=headers, body=data)
        self.check("put %r" % key, st, out)

    def list(self, bucket, prefix=""):
        token = None
        while True:
            q = [("list-type", "2"), ("encoding-type", "url")]
            if prefix:
                q.append(("prefix", prefix))
            if token:
                q.append(("continuation-token", token))
            st, _, out = self.request("GET", bucket, query=q)
            self.check("list %s" % bucket, st, out)
            root = ET.fromstring(out)
            for c in root.findall("{*}Contents"):
                yield {"key": urllib.parse.unquote(c.find("{*}Key").text),
                       "size": int(c.find("{*}Size").text),
                       "etag": c.find("{*}ETag").text.strip('"'),
                       "mtime": c.find("{*}LastModified").text}
            if root.find("{*}IsTruncated").text != "true":
                return
            token = root.find("{*}NextContinuationToken").text


def split_bucket(arg):
    bucket, _, prefix = arg.partition("/")
    return bucket, prefix


def unescape(key):
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), key)


def read_specs(path):
    f = open(path, encoding="utf-8") if path and path != "-" else sys.stdin
    with f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------------------------------------
# The Mastodon-shaped tree

CACHE_CONTROL = "public, max-age=315576000, immutable"


def snowflake_path(rng):
    # Mastodon's id_partition: the 18-digit id in groups of three.
    ident = "%018d" % rng.randrange(109000000000000000, 112000000000000000)
    return "/".join(ident[i:i + 3] for i in range(0, 18, 3))


def gen(args):
    rng = random.Random(args.seed)
    out = []

    def add(key, size, ctype, acl="public-read", **extra):
        headers = {"Content-Type": ctype}
        if not key.startswith("cache/") or rng.random() < 0.5:
            headers["Cache-Control"] = CACHE_CONTROL
        headers.update(extra.pop("headers", {}))
        spec = {"key": key, "size": size, "seed": "%s:%s:1" % (args.seed, key),
                "headers": headers, "acl": acl}
        spec.update(extra)
        out.append(spec)

    kinds = [("media_attachments/files", (".jpg", "image/jpeg"), ("original", "small"), 6),
             ("accounts/avatars", (".png", "image/png"), ("original", "static"), 2),
             ("accounts/headers", (".jpg", "image/jpeg"), ("original",), 1),
             ("preview_cards/images", (".jpg", "image/jpeg"), ("original",), 1),
             ("custom_emojis/images", (".png", "image/png"), ("original", "static"), 1)]
    weights = [k[3] for k in kinds]
    made = 0
    while made < args.count:
        base, (ext, ctype), styles, _ = rng.choices(kinds, weights)[0]
        part = snowflake_path(rng)
        name = "%016x" % rng.getrandbits(64)
        cache = rng.random() < args.cache_share
        for style in styles:
            if made >= args.count:
                break
            size = rng.randrange(200, 12000) if style != "original" else rng.randrange(1000,
                                                                                       40000)
            if rng.random() < 0.03:
                size = rng.randrange(200000, 600000)  # a video
            key = "%s%s/%s/%s/%s%s" % ("cache/" if cache else "", base, part, style, name, ext)
            add(key, size, ctype if size < 200000 else "video/mp4")
            made += 1
    if args.specials:
        add("specials/a key with spaces.txt", 120, "text/plain")
        add("specials/plus+sign+key.txt", 121, "text/plain")
        add("specials/percent%20literal%2Fkey.txt", 122, "text/plain")
        add("specials/unicode-éü-日本語-😀.txt", 123, "text/plain; charset=utf-8")
        add("specials/tilde~and=equals&amp;.txt", 124, "text/plain")
        # 1,000 bytes: one segment of 991 characters (S3 only) and one split into directories
        # that a file system accepts (each name under 255 bytes).
        add("specials/" + "n" * 991, 125, "application/octet-stream", long_name=True)
        seg = "d" * 200
        add("specials/long/" + "/".join([seg] * 4) + "/" + "e" * (1000 - 14 - 804 - 4) + ".bin",
            126, "application/octet-stream")
        add("specials/empty-1", 0, "application/octet-stream")
        add("specials/deep/empty-2.txt", 0, "text/plain")
        add("specials/meta/download.pdf", 3000, "application/pdf",
            headers={"Content-Disposition": 'attachment; filename="report 2024.pdf"',
                     "x-amz-meta-mastodon-id": "109348123456789000",
                     "x-amz-meta-origin": "permafrost test"})
        add("specials/meta/style.css.gz", 2000, "text/css",
            headers={"Content-Encoding": "gzip", "Cache-Control": "max-age=60"})
        add("specials/private/secret.bin", 500, "application/octet-stream", acl="private")
    if args.big_mib:
        add("media_attachments/files/110/000/000/000/000/001/original/%016x.mp4" %
            rng.getrandbits(64), args.big_mib * 1024 * 1024, "video/mp4",
            part_size=16 * 1024 * 1024)
    out.sort(key=lambda s: s["key"].encode())
    for s in out:
        print(json.dumps(s, ensure_ascii=False))


# ---------------------------------------------------------------------------------------------
# Commands

def cmd_put(args):
    c = Client(args.server)
    bucket, prefix = split_bucket(args.bucket)
    specs = read_specs(args.file)

    def one(s):
        headers = dict(s.get("headers", {}))
        if s.get("acl"):
            headers["x-amz-acl"] = s["acl"]
        c.put(bucket, prefix + s["key"], content(s["seed"], s["size"]), headers,
              s.get("part_size", 0))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(one, s) for s in specs]:
            f.result()


def cmd_write_local(args):
    for s in read_specs(args.file):
        if any(len(part.encode()) > 255 for part in s["key"].split("/")):
            continue  # a name no file system takes (the 1,000-byte single segment)
        path = os.path.join(args.dir, s["key"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content(s["seed"], s["size"]))
        os.chmod(path, 0o644)


def cmd_list(args):
    c = Client(args.server)
    bucket, prefix = split_bucket(args.bucket)
    for o in c.list(bucket, prefix):
        o["key"] = o["key"][len(prefix):]
        print(json.dumps(o, ensure_ascii=False))


def printable(key):
    return key.encode("unicode_escape").decode("ascii") if not key.isprintable() else key


def cmd_digest(args):
    c = Client(args.server)
    bucket, prefix = split_bucket(args.bucket)
    objs = sorted(c.list(bucket, prefix), key=lambda o: o["key"].encode())

    def one(o):
        if args.max_size is not None and o["size"] > args.max_size:
            # Checked once in full; afterwards only its presence and size.
            return "%s\t%d\t(not read)" % (printable(o["key"][len(prefix):]), o["size"])
        h = hashlib.md5()
        st, _, out = c.request("GET", bucket, o["key"], stream=h.update)
        c.check("get %r" % o["key"], st, out)
        return "%s\t%d\t%s" % (printable(o["key"][len(prefix):]), o["size"], h.hexdigest())

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for line in pool.map(one, objs):
            print(line)


def cmd_digest_local(args):
    rows = []
    for d, _, files in os.walk(args.dir):
        for name in files:
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                data = f.read()
            rows.append((os.path.relpath(path, args.dir), len(data),
                         hashlib.md5(data).hexdigest()))
    for key, size, md5 in sorted(rows, key=lambda r: r[0].encode()):
        print("%s\t%d\t%s" % (printable(key), size, md5))


def cmd_head(args):
    c = Client(args.server)
    bucket, prefix = split_bucket(args.bucket)
    st, rh, out = c.request("HEAD", bucket, prefix + unescape(args.key))
    c.check("head", st, out)
    print(json.dumps(rh, sort_keys=True))


def cmd_acl(args):
    c = Client(args.server)
    bucket, prefix = split_bucket(args.bucket)
    st, _, out = c.request("GET", bucket, prefix + unescape(args.key), [("acl", "")])
    c.check("get acl", st, out)
    public = False
    for g in ET.fromstring(out).findall(".//{*}Grant"):
        uri = g.find("{*}Grantee/{*}URI")
        perm = g.find("{*}Permission")
        if uri is not None and uri.text == ALL_USERS and perm.text in ("READ", "FULL_CONTROL"):
            public = True
    print("public-read" if public else "private")


def cmd_delete(args):
    c = Client(args.server)
    bucket, prefix = split_bucket(args.bucket)
    for k in args.keys:
        st, _, out = c.request("DELETE", bucket, prefix + unescape(k))
        c.check("delete", st, out)


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--count", type=int, default=100)
    g.add_argument("--seed", default="pf")
    g.add_argument("--cache-share", type=float, default=0.15)
    g.add_argument("--big-mib", type=int, default=0)
    g.add_argument("--specials", action="store_true")
    for name in ("put", "list", "digest", "head", "acl", "delete"):
        s = sub.add_parser(name)
        s.add_argument("--server", required=True)
        s.add_argument("bucket")
        if name == "put":
            s.add_argument("file", nargs="?")
        elif name == "digest":
            s.add_argument("--max-size", type=int)
        elif name in ("head", "acl"):
            s.add_argument("key")
        elif name == "delete":
            s.add_argument("keys", nargs="+")
    w = sub.add_parser("write-local")
    w.add_argument("dir")
    w.add_argument("file", nargs="?")
    d = sub.add_parser("digest-local")
    d.add_argument("dir")
    args = p.parse_args(argv)
    {"gen": gen, "put": cmd_put, "write-local": cmd_write_local, "list": cmd_list,
     "digest": cmd_digest, "digest-local": cmd_digest_local, "head": cmd_head, "acl": cmd_acl,
     "delete": cmd_delete}[args.cmd](args)


if __name__ == "__main__":
    main(sys.argv[1:])
