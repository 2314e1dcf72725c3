#!/usr/bin/env python3
"""A scripted fake S3 server for fault-injection tests of the S3 client (Python 3 stdlib only).

By default it is a small, strict, in-memory S3 with path-style URLs
(http://127.0.0.1:PORT/BUCKET/KEY): PutObject, GetObject (Range, If-Match, If-None-Match),
HeadObject, DeleteObject, CopyObject, ListObjectsV2 (and V1), DeleteObjects, multipart upload
(initiate, upload part, upload part copy, complete, abort, list parts, list uploads), buckets
(create, head, delete, list), object ACLs (the canned private and public-read, through x-amz-acl
and GET/PUT ?acl). Content-Type, Cache-Control, Content-Disposition, Content-Encoding,
Content-Language, Expires and x-amz-meta-* are kept with an object. It does not verify signatures, but every S3 request needs an
Authorization header starting with "AWS4-HMAC-SHA256 Credential=" (or presigned query parameters)
and an x-amz-content-sha256 header; hex payload hashes and Content-MD5 are checked against the body.
Anything it does not implement is answered with 501 NotImplemented, never silently accepted.

Faults come from a script of rules (JSON), given with --script and replaceable at run time with
POST /__control/script. A script is a list of rules, or an object {"rules": [...], "settings": {...}}
(settings: min_part_size, page_size, auto_create). A rule:

  match (all given conditions must hold):
    "method":  "PUT" or ["PUT", "POST"]            (case-insensitive)
    "path":    regular expression, re.search on the raw (still percent-encoded) path
    "query":   substring or list of substrings of the raw query string ("uploadId=", "partNumber=2")
    "header":  header name or list of names that must be present (case-insensitive)
  counting:
    "after":   skip the first N matching requests (they are served normally), default 0
    "times":   apply to this many matching requests after those, default 1; 0 means every one
  actions (one rule may combine stall_seconds with any of the others):
    "status", "code", "message", "headers", "body":
               answer with this status instead of serving the request. The body is "body" (text)
               when given, else an S3 <Error> document made from "code" and "message" (message ""
               gives an empty <Message/>), else empty. "headers" is an object of extra headers.
               {"status": 200, "code": "InternalError"} gives a 200 with an <Error> body.
    "reset_after_bytes": N   send the status line, headers and the first N bytes of the body,
               then reset the connection (SO_LINGER 0, the peer sees ECONNRESET).
    "truncate": N or true    announce the full Content-Length, send only N body bytes (true: half),
               then close the connection normally.
    "stall_seconds": S       read the request, serve it (its effect, e.g. a stored object, takes
               place now), then wait S seconds (at most 300) before answering.
    "drop": true or "rst"    read the request and close the connection without answering, with a
               FIN (true) or a reset ("rst"). The request has no effect.
    "before_body": true      with status or drop: act as soon as the request headers are in,
               without reading the body and, for "Expect: 100-continue", instead of the
               100 Continue (as S3 rejects a PUT early); the connection is then closed (the
               unread body is drained for up to 5 s first, so the client can read the answer).
  "name":      a label copied into the log (default: the rule's index).

Every request is logged to --log as one JSON line (written just before the response is sent, so
a client that has its answer finds the line): t, time, conn (connection number), seq (request
number on that connection), method, path, query, headers (a few, and "authorization": "yes"/"no"),
bytes_in, status (null when dropped), code (the S3 error code, if any), fault, rule, request_id.
Control requests are logged with "control": true.

Control endpoints (no authorization needed; the server listens on 127.0.0.1 only):
  POST /__control/script   body: a script (JSON) replacing the rules and their counters;
                           an empty body re-reads the --script file
  GET  /__control/script   the rules with their "matched" and "applied" counters
  GET  /__control/state    buckets, objects (size, etag) and multipart uploads in progress
  POST /__control/reset    forget every bucket, object and upload

Command line: --port N (0: pick a free one), --port-file FILE (the port, written once listening),
--log FILE, --script FILE, --max-seconds N (default 600: exits by itself after that),
--min-part-size BYTES (default 5 MiB), --page-size N (listing page cap, default 1000),
--no-auto-create (buckets must be created with PUT /BUCKET or --bucket NAME), --bucket NAME,
--max-body BYTES (default 256 MiB). SIGTERM and SIGINT end it; SIGHUP re-reads the --script file.
"""

import argparse
import base64
import binascii
import email.utils
import hashlib
import http
import http.server
import itertools
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as xml_escape

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
CONTROL_PREFIX = "/__control/"
MAX_STALL_SECONDS = 300
LOGGED_HEADERS = ("range", "content-length", "content-md5", "x-amz-content-sha256",
                  "x-amz-copy-source", "x-amz-copy-source-range", "x-amz-date", "transfer-encoding",
                  "if-match", "if-none-match", "expect")

DEFAULT_MESSAGES = {
    "AccessDenied": "Access Denied",
    "BadDigest": "The Content-MD5 you specified did not match what we received.",
    "BucketNotEmpty": "The bucket you tried to delete is not empty",
    "EntityTooLarge": "Your proposed upload exceeds the maximum allowed size",
    "EntityTooSmall": "Your proposed upload is smaller than the minimum allowed object size.",
    "InternalError": "We encountered an internal error. Please try again.",
    "InvalidArgument": "Invalid Argument",
    "InvalidDigest": "The Content-MD5 you specified is not valid.",
    "InvalidPart": "One or more of the specified parts could not be found.",
    "InvalidPartOrder": "The list of parts was not in ascending order.",
    "InvalidRange": "The requested range is not satisfiable",
    "InvalidRequest": "Invalid Request",
    "MalformedXML": "The XML you provided was not well-formed or did not validate against our "
                    "published schema.",
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchUpload": "The specified upload does not exist.",
    "NotImplemented": "A header or query you provided implies functionality that is not "
                      "implemented.",
    "PreconditionFailed": "At least one of the pre-conditions you specified did not hold",
    "RequestTimeTooSkewed": "The difference between the request time and the current time is "
                            "too large.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "SignatureDoesNotMatch": "The request signature we calculated does not match the signature "
                             "you provided. Check your key and signing method.",
    "SlowDown": "Please reduce your request rate.",
    "XAmzContentSHA256Mismatch": "The provided 'x-amz-content-sha256' header does not match what "
                                 "was computed.",
}


class S3Error(Exception):
    def __init__(self, status, code, message=None, headers=None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = DEFAULT_MESSAGES.get(code, code) if message is None else message
        self.headers = headers or {}


class BadScript(Exception):
    pass


class Response:
    """A complete answer: the status, headers and body; head_only sends no body (HEAD)."""

    def __init__(self, status, headers=None, body=b"", head_only=False, code=None):
        self.status = status
        self.headers = list((headers or {}).items()) if isinstance(headers, dict) else \
            list(headers or [])
        self.body = body
        self.head_only = head_only
        self.code = code


def error_xml(code, message, resource, request_id):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<Resource>%s</Resource><RequestId>%s</RequestId></Error>'
            % (xml_escape(code), xml_escape(message), xml_escape(resource),
               xml_escape(request_id))).encode()


def iso_time(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % (int(ts * 1000) % 1000)


def http_time(ts):
    return email.utils.formatdate(ts, usegmt=True)


def xml_doc(root, inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="%s">%s</%s>'
            % (root, S3_NS, inner, root)).encode()


def el(tag, value):
    # Quotes too, as S3 does (<ETag>&quot;...&quot;</ETag>): clients must decode entities.
    return "<%s>%s</%s>" % (tag, xml_escape(str(value), {'"': "&quot;"}), tag)


def strip_ns(tag):
    return tag.rsplit("}", 1)[-1]


# ---------------------------------------------------------------------------------------------
# The fault script

RULE_KEYS = {"name", "method", "path", "query", "header", "after", "times", "status", "code",
             "message", "headers", "body", "reset_after_bytes", "truncate", "stall_seconds", "drop",
             "before_body"}
SETTING_KEYS = {"min_part_size", "page_size", "auto_create"}


def _str_list(rule, key):
    v = rule.get(key)
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    raise BadScript("rule %r: %r must be a string or a list of strings" % (rule, key))


def _int(rule, key, default, minimum=0):
    v = rule.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise BadScript("rule %r: %r must be an integer >= %d" % (rule, key, minimum))
    return v


class Rule:
    def __init__(self, index, spec):
        if not isinstance(spec, dict):
            raise BadScript("rule %d is not an object" % index)
        unknown = set(spec) - RULE_KEYS
        if unknown:
            raise BadScript("rule %d: unknown keys %s" % (index, sorted(unknown)))
        self.spec = spec
        self.name = str(spec.get("name", index))
        self.methods = [m.upper() for m in _str_list(spec, "method")]
        try:
            self.path = re.compile(spec["path"]) if "path" in spec else None
        except (re.error, TypeError) as e:
            raise BadScript("rule %d: bad path regex: %s" % (index, e)) from e
        self.query = _str_list(spec, "query")
        self.header = [h.lower() for h in _str_list(spec, "header")]
        self.after = _int(spec, "after", 0)
        self.times = _int(spec, "times", 1)
        self.status = _int(spec, "status", None, 100)
        if self.status is not None and self.status > 599:
            raise BadScript("rule %d: status out of range" % index)
        self.code = spec.get("code")
        self.message = spec.get("message")
        self.headers = spec.get("headers", {})
        if not isinstance(self.headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()):
            raise BadScript("rule %d: headers must be an object of strings" % index)
        self.body = spec.get("body")
        for key in ("code", "message", "body"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise BadScript("rule %d: %r must be a string" % (index, key))
        if (self.code is not None or self.body is not None or self.headers) and self.status is None:
            raise BadScript("rule %d: code/message/headers/body need a status" % index)
        self.reset_after_bytes = _int(spec, "reset_after_bytes", None)
        trunc = spec.get("truncate")
        if trunc is not None and trunc is not True and (
                isinstance(trunc, bool) or not isinstance(trunc, int) or trunc < 0):
            raise BadScript("rule %d: truncate must be true or a byte count" % index)
        self.truncate = trunc if trunc is not False else None
        stall = spec.get("stall_seconds")
        if stall is not None and (isinstance(stall, bool) or not isinstance(stall, (int, float))
                                  or stall < 0):
            raise BadScript("rule %d: stall_seconds must be a number >= 0" % index)
        self.stall = min(float(stall), MAX_STALL_SECONDS) if stall is not None else None
        drop = spec.get("drop")
        if drop not in (None, False, True, "rst"):
            raise BadScript("rule %d: drop must be true or \"rst\"" % index)
        self.drop = drop or None
        exclusive = [k for k in ("reset_after_bytes", "truncate", "drop") if spec.get(k) not in
                     (None, False)]
        if len(exclusive) > 1:
            raise BadScript("rule %d: %s exclude each other" % (index, " and ".join(exclusive)))
        if self.drop and self.status is not None:
            raise BadScript("rule %d: drop and status exclude each other" % index)
        self.before_body = spec.get("before_body", False)
        if not isinstance(self.before_body, bool):
            raise BadScript("rule %d: before_body must be true or false" % index)
        if self.before_body and (self.reset_after_bytes is not None or self.truncate is not None
                                 or (self.status is None and not self.drop)):
            raise BadScript("rule %d: before_body goes with status or drop only" % index)
        if self.status is None and not exclusive and self.stall is None:
            raise BadScript("rule %d has no action (status, reset_after_bytes, truncate, "
                            "stall_seconds or drop)" % index)
        self.matched = 0
        self.applied = 0

    def matches(self, method, path, query, headers):
        if self.methods and method not in self.methods:
            return False
        if self.path is not None and not self.path.search(path):
            return False
        if any(q not in query for q in self.query):
            return False
        if any(h not in headers for h in self.header):
            return False
        return True

    def describe(self):
        d = dict(self.spec)
        d["matched"] = self.matched
        d["applied"] = self.applied
        return d


class Script:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    @staticmethod
    def parse(text):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise BadScript("script is not JSON: %s" % e) from e
        settings = {}
        if isinstance(doc, dict):
            unknown = set(doc) - {"rules", "settings"}
            if unknown:
                raise BadScript("unknown script keys %s" % sorted(unknown))
            settings = doc.get("settings", {})
            doc = doc.get("rules", [])
        if not isinstance(doc, list):
            raise BadScript("a script is a list of rules or {\"rules\": [...]}")
        if not isinstance(settings, dict) or set(settings) - SETTING_KEYS:
            raise BadScript("settings must be an object with keys among %s" % sorted(SETTING_KEYS))
        return [Rule(i, r) for i, r in enumerate(doc)], settings

    def replace(self, rules):
        with self.lock:
            self.rules = rules

    def pick(self, method, path, query, headers):
        """The first rule that matches and still applies; counts the match."""
        with self.lock:
            for rule in self.rules:
                if not rule.matches(method, path, query, headers):
                    continue
                rule.matched += 1
                if rule.matched <= rule.after:
                    continue
                if rule.times and rule.applied >= rule.times:
                    continue
                rule.applied += 1
                return rule
        return None

    def describe(self):
        with self.lock:
            return [r.describe() for r in self.rules]


# ---------------------------------------------------------------------------------------------
# The in-memory store

class Obj:
    def __init__(self, data, etag, ctype, meta, acl="private"):
        self.data = data
        self.etag = etag
        self.mtime = time.time()
        self.ctype = ctype
        self.meta = meta
        self.acl = acl


class Upload:
    _seq = itertools.count(1)

    def __init__(self, key, ctype, meta, acl="private"):
        self.key = key
        self.acl = acl
        self.id = secrets.token_urlsafe(24)
        self.seq = next(Upload._seq)
        self.initiated = time.time()
        self.ctype = ctype
        self.meta = meta
        self.parts = {}  # number -> (data, md5 hex, mtime)


class Bucket:
    def __init__(self, name):
        self.name = name
        self.created = time.time()
        self.objects = {}
        self.uploads = {}


class Settings:
    def __init__(self, args):
        self.min_part_size = args.min_part_size
        self.page_size = args.page_size
        self.auto_create = args.auto_create

    def update(self, d):
        for k, v in d.items():
            if k == "auto_create":
                if not isinstance(v, bool):
                    raise BadScript("auto_create must be true or false")
            elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise BadScript("%s must be a positive integer" % k)
        for k, v in d.items():
            setattr(self, k, v)


BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class Store:
    def __init__(self, settings):
        self.lock = threading.RLock()
        self.buckets = {}
        self.settings = settings

    def bucket(self, name, create=False):
        b = self.buckets.get(name)
        if b is None:
            if not (create or self.settings.auto_create):
                raise S3Error(404, "NoSuchBucket")
            if not BUCKET_RE.match(name):
                raise S3Error(400, "InvalidBucketName", "The specified bucket is not valid.")
            b = self.buckets[name] = Bucket(name)
        return b

    def state(self):
        with self.lock:
            out = {}
            for name, b in sorted(self.buckets.items()):
                out[name] = {
                    "objects": {k: {"size": len(o.data), "etag": o.etag, "acl": o.acl}
                                for k, o in sorted(b.objects.items())},
                    "uploads": [{"key": u.key, "upload_id": u.id, "parts": sorted(u.parts)}
                                for u in sorted(b.uploads.values(), key=lambda u: u.seq)],
                }
            return out


# ---------------------------------------------------------------------------------------------
# S3 operations

def md5_etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


# Stored with an object and sent back by GET and HEAD, as S3 does.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language",
                  "expires")
CANNED_ACLS = ("private", "public-read")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def request_meta(headers):
    meta = {k: v for k, v in headers.items() if k.startswith("x-amz-meta-") or
            k in STORED_HEADERS}
    return headers.get("content-type", "binary/octet-stream"), meta


def request_acl(headers):
    acl = headers.get("x-amz-acl", "private")
    if acl not in CANNED_ACLS:
        raise S3Error(501, "NotImplemented", "fake_s3 implements the canned ACLs %s only"
                      % ", ".join(CANNED_ACLS))
    return acl


def acl_xml(acl):
    owner = "<Owner><ID>fake</ID><DisplayName>fake</DisplayName></Owner>"
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    grants = ('<Grant><Grantee %s xsi:type="CanonicalUser"><ID>fake</ID>'
              '<DisplayName>fake</DisplayName></Grantee><Permission>FULL_CONTROL</Permission>'
              '</Grant>' % xsi)
    if acl == "public-read":
        grants += ('<Grant><Grantee %s xsi:type="Group"><URI>%s</URI></Grantee>'
                   '<Permission>READ</Permission></Grant>' % (xsi, ALL_USERS))
    return xml_doc("AccessControlPolicy", owner + "<AccessControlList>%s</AccessControlList>"
                   % grants)


def object_headers(obj):
    h = [("ETag", obj.etag), ("Last-Modified", http_time(obj.mtime)),
         ("Content-Type", obj.ctype), ("Accept-Ranges", "bytes")]
    h.extend(sorted(obj.meta.items()))
    return h


def parse_range(value, size):
    """(start, end) inclusive, None to ignore the header (as S3 does with what it cannot parse)."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", value)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0 or size == 0:
            raise S3Error(416, "InvalidRange", headers={"Content-Range": "bytes */%d" % size})
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if m.group(2) and end < start:
        return None
    if start >= size:
        raise S3Error(416, "InvalidRange", headers={"Content-Range": "bytes */%d" % size})
    return start, min(end, size - 1)


def etag_matches(header, etag):
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or etag.strip('"') in [t.strip('"') for t in tags]


def parse_xml(body):
    try:
        return ET.fromstring(body)
    except ET.ParseError as e:
        raise S3Error(400, "MalformedXML") from e


class S3:
    def __init__(self, store):
        self.store = store

    @property
    def settings(self):
        return self.store.settings

    def handle(self, req):
        with self.store.lock:
            return self._route(req)

    # Which query parameters each operation understands; anything else is NotImplemented.
    def _only(self, req, allowed):
        extra = [k for k in req.q if k not in allowed and not k.startswith("X-Amz-")]
        if extra:
            raise S3Error(501, "NotImplemented",
                          "fake_s3 does not implement ?%s for %s" % (extra[0], req.method))

    def _route(self, req):
        m, b, k, q = req.method, req.bucket, req.key, req.q
        if b == "":
            if m == "GET":
                self._only(req, ())
                return self.list_buckets()
            raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed.")
        if k == "":
            if m == "PUT":
                self._only(req, ())
                return self.create_bucket(req)
            if m == "HEAD":
                self._only(req, ())
                self.store.bucket(b)
                return Response(200, {}, head_only=True)
            if m == "GET":
                if "uploads" in q:
                    self._only(req, ("uploads", "prefix", "key-marker", "upload-id-marker",
                                     "max-uploads", "delimiter", "encoding-type"))
                    return self.list_uploads(req)
                if "location" in q:
                    self._only(req, ("location",))
                    self.store.bucket(b)
                    return Response(200, {"Content-Type": "application/xml"},
                                    xml_doc("LocationConstraint", ""))
                if q.get("list-type") == "2":
                    self._only(req, ("list-type", "prefix", "delimiter", "max-keys",
                                     "continuation-token", "start-after", "encoding-type",
                                     "fetch-owner"))
                    return self.list_objects(req, 2)
                self._only(req, ("prefix", "delimiter", "max-keys", "marker", "encoding-type"))
                return self.list_objects(req, 1)
            if m == "POST" and "delete" in q:
                self._only(req, ("delete",))
                return self.delete_objects(req)
            if m == "DELETE":
                self._only(req, ())
                return self.delete_bucket(req)
            raise S3Error(501, "NotImplemented", "fake_s3 does not implement %s on a bucket" % m)
        if len(k.encode()) > 1024:
            raise S3Error(400, "KeyTooLongError", "Your key is too long")
        if "acl" in q and m in ("GET", "PUT"):
            self._only(req, ("acl",))
            return self.object_acl(req)
        if m == "PUT":
            if "uploadId" in q or "partNumber" in q:
                self._only(req, ("uploadId", "partNumber"))
                return self.upload_part(req)
            self._only(req, ())
            if "x-amz-copy-source" in req.headers:
                return self.copy_object(req)
            return self.put_object(req)
        if m in ("GET", "HEAD"):
            if "uploadId" in q and m == "GET":
                self._only(req, ("uploadId", "max-parts", "part-number-marker"))
                return self.list_parts(req)
            self._only(req, ("response-content-type", "response-cache-control",
                             "response-content-disposition", "response-content-encoding"))
            return self.get_object(req)
        if m == "POST":
            if "uploads" in q:
                self._only(req, ("uploads",))
                return self.initiate(req)
            if "uploadId" in q:
                self._only(req, ("uploadId",))
                return self.complete(req)
        if m == "DELETE":
            if "uploadId" in q:
                self._only(req, ("uploadId",))
                return self.abort(req)
            self._only(req, ())
            bucket = self.store.bucket(b)
            bucket.objects.pop(k, None)
            return Response(204)
        raise S3Error(501, "NotImplemented", "fake_s3 does not implement %s on an object" % m)

    # -- buckets

    def list_buckets(self):
        inner = "<Owner><ID>fake</ID><DisplayName>fake</DisplayName></Owner><Buckets>"
        for name, b in sorted(self.store.buckets.items()):
            inner += "<Bucket>%s%s</Bucket>" % (el("Name", name), el("CreationDate",
                                                                    iso_time(b.created)))
        inner += "</Buckets>"
        return Response(200, {"Content-Type": "application/xml"},
                        xml_doc("ListAllMyBucketsResult", inner))

    def create_bucket(self, req):
        self.store.bucket(req.bucket, create=True)
        return Response(200, {"Location": "/" + req.bucket})

    def delete_bucket(self, req):
        b = self.store.bucket(req.bucket)
        if b.objects or b.uploads:
            raise S3Error(409, "BucketNotEmpty")
        del self.store.buckets[req.bucket]
        return Response(204)

    # -- objects

    def put_object(self, req):
        b = self.store.bucket(req.bucket)
        ctype, meta = request_meta(req.headers)
        obj = Obj(req.body, md5_etag(req.body), ctype, meta, request_acl(req.headers))
        b.objects[req.key] = obj
        return Response(200, {"ETag": obj.etag})

    def object_acl(self, req):
        b = self.store.bucket(req.bucket)
        obj = b.objects.get(req.key)
        if obj is None:
            raise S3Error(404, "NoSuchKey")
        if req.method == "GET":
            return Response(200, {"Content-Type": "application/xml"}, acl_xml(obj.acl))
        if req.body:
            raise S3Error(501, "NotImplemented", "fake_s3 takes canned ACLs (x-amz-acl) only")
        obj.acl = request_acl(req.headers)
        return Response(200)

    def get_object(self, req):
        b = self.store.bucket(req.bucket)
        obj = b.objects.get(req.key)
        if obj is None:
            raise S3Error(404, "NoSuchKey")
        head = req.method == "HEAD"
        im = req.headers.get("if-match")
        if im is not None and not etag_matches(im, obj.etag):
            raise S3Error(412, "PreconditionFailed")
        inm = req.headers.get("if-none-match")
        if inm is not None and etag_matches(inm, obj.etag):
            return Response(304, [("ETag", obj.etag)], head_only=True)
        headers = object_headers(obj)
        for q, h in (("response-content-type", "Content-Type"),):
            if q in req.q:
                headers = [(n, v) for n, v in headers if n != h] + [(h, req.q[q])]
        rng = req.headers.get("range")
        r = parse_range(rng, len(obj.data)) if rng is not None else None
        if r is None:
            return Response(200, headers, obj.data, head_only=head)
        start, end = r
        headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, len(obj.data))))
        return Response(206, headers, obj.data[start:end + 1], head_only=head)

    def _copy_source(self, req):
        src = urllib.parse.unquote(req.headers["x-amz-copy-source"].split("?", 1)[0])
        src = src.lstrip("/")
        if "/" not in src:
            raise S3Error(400, "InvalidArgument", "Copy Source must mention the source bucket "
                                                  "and key: sourcebucket/sourcekey")
        sb, sk = src.split("/", 1)
        if sb not in self.store.buckets:
            raise S3Error(404, "NoSuchBucket")
        obj = self.store.buckets[sb].objects.get(sk)
        if obj is None:
            raise S3Error(404, "NoSuchKey")
        im = req.headers.get("x-amz-copy-source-if-match")
        if im is not None and not etag_matches(im, obj.etag):
            raise S3Error(412, "PreconditionFailed")
        return sb, sk, obj

    def copy_object(self, req):
        if req.body:
            raise S3Error(400, "InvalidRequest", "CopyObject takes no request body")
        b = self.store.bucket(req.bucket)
        sb, sk, src = self._copy_source(req)
        directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error(400, "InvalidArgument", "Unknown metadata directive.")
        if directive == "COPY":
            if (sb, sk) == (req.bucket, req.key):
                raise S3Error(400, "InvalidRequest",
                              "This copy request is illegal because it is trying to copy an "
                              "object to itself without changing the object's metadata, storage "
                              "class, website redirect location or encryption attributes.")
            ctype, meta = src.ctype, dict(src.meta)
        else:
            ctype, meta = request_meta(req.headers)
        obj = Obj(src.data, md5_etag(src.data), ctype, meta, request_acl(req.headers))
        b.objects[req.key] = obj
        inner = el("LastModified", iso_time(obj.mtime)) + el("ETag", obj.etag)
        return Response(200, {"Content-Type": "application/xml"},
                        xml_doc("CopyObjectResult", inner))

    # -- listings

    def _list_core(self, b, prefix, delimiter, marker, marker_is_prefix, limit):
        """(entries, truncated): entries are ("key", key, obj) or ("prefix", prefix, None)."""
        entries = []
        last_prefix = None
        for key in sorted(b.objects):
            if not key.startswith(prefix) or key <= marker:
                continue
            if marker_is_prefix and key.startswith(marker):
                continue
            if delimiter:
                i = key.find(delimiter, len(prefix))
                if i >= 0:
                    cp = key[:i + len(delimiter)]
                    if cp == last_prefix:
                        continue
                    if len(entries) == limit:
                        return entries, True
                    entries.append(("prefix", cp, None))
                    last_prefix = cp
                    continue
            if len(entries) == limit:
                return entries, True
            entries.append(("key", key, b.objects[key]))
        return entries, False

    def list_objects(self, req, version):
        b = self.store.bucket(req.bucket)
        q = req.q
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        try:
            max_keys = int(q.get("max-keys", "1000"))
            if max_keys < 0:
                raise ValueError
        except ValueError as e:
            raise S3Error(400, "InvalidArgument", "max-keys must be a non-negative integer") from e
        limit = min(max_keys, self.settings.page_size)
        enc = q.get("encoding-type")
        if enc not in (None, "url"):
            raise S3Error(400, "InvalidArgument", "Invalid Encoding Method specified in Request")

        def e(s):
            return urllib.parse.quote(s, safe="/") if enc == "url" else s

        marker, marker_is_prefix = "", False
        if version == 2:
            start_after = q.get("start-after", "")
            token = q.get("continuation-token")
            if token is not None:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                    marker, marker_is_prefix = str(tok["m"]), bool(tok["p"])
                except (ValueError, KeyError, TypeError, binascii.Error) as ex:
                    raise S3Error(400, "InvalidArgument",
                                  "The continuation token provided is incorrect") from ex
            elif start_after:
                marker = start_after
        else:
            marker = q.get("marker", "")
            marker_is_prefix = bool(delimiter) and marker.endswith(delimiter)
        entries, truncated = self._list_core(b, prefix, delimiter, marker, marker_is_prefix,
                                             limit)
        inner = el("Name", req.bucket) + el("Prefix", e(prefix))
        if delimiter:
            inner += el("Delimiter", e(delimiter))
        inner += el("MaxKeys", max_keys)
        if enc:
            inner += el("EncodingType", enc)
        if version == 2:
            inner += el("KeyCount", len(entries))
            if "continuation-token" in q:
                inner += el("ContinuationToken", q["continuation-token"])
            if "start-after" in q:
                inner += el("StartAfter", e(q["start-after"]))
        else:
            inner += el("Marker", e(marker))
        inner += el("IsTruncated", "true" if truncated else "false")
        if truncated and entries:
            kind, name, _ = entries[-1]
            if version == 2:
                tok = json.dumps({"m": name, "p": kind == "prefix"}).encode()
                inner += el("NextContinuationToken", base64.urlsafe_b64encode(tok).decode())
            elif delimiter:
                inner += el("NextMarker", e(name))
        for kind, name, obj in entries:
            if kind == "key":
                inner += "<Contents>%s%s%s%s%s</Contents>" % (
                    el("Key", e(name)), el("LastModified", iso_time(obj.mtime)),
                    el("ETag", obj.etag), el("Size", len(obj.data)),
                    el("StorageClass", "STANDARD"))
        for kind, name, obj in entries:
            if kind == "prefix":
                inner += "<CommonPrefixes>%s</CommonPrefixes>" % el("Prefix", e(name))
        root = "ListBucketResult"
        return Response(200, {"Content-Type": "application/xml"}, xml_doc(root, inner))

    # -- DeleteObjects

    def delete_objects(self, req):
        b = self.store.bucket(req.bucket)
        if "content-md5" not in req.headers and not any(
                h.startswith("x-amz-checksum-") for h in req.headers):
            raise S3Error(400, "InvalidRequest",
                          "Missing required header for this request: Content-MD5")
        root = parse_xml(req.body)
        if strip_ns(root.tag) != "Delete":
            raise S3Error(400, "MalformedXML")
        quiet = False
        keys = []
        for child in root:
            tag = strip_ns(child.tag)
            if tag == "Quiet":
                quiet = (child.text or "").strip().lower() == "true"
            elif tag == "Object":
                key = None
                for sub in child:
                    if strip_ns(sub.tag) == "Key":
                        key = sub.text or ""
                if not key:
                    raise S3Error(400, "MalformedXML")
                keys.append(key)
        if not keys or len(keys) > 1000:
            raise S3Error(400, "MalformedXML")
        inner = ""
        for key in keys:
            b.objects.pop(key, None)
            if not quiet:
                inner += "<Deleted>%s</Deleted>" % el("Key", key)
        return Response(200, {"Content-Type": "application/xml"}, xml_doc("DeleteResult", inner))

    # -- multipart

    def _upload(self, b, req):
        u = b.uploads.get(req.q.get("uploadId", ""))
        if u is None or u.key != req.key:
            raise S3Error(404, "NoSuchUpload")
        return u

    def initiate(self, req):
        if req.body:
            raise S3Error(400, "InvalidRequest", "CreateMultipartUpload takes no request body")
        b = self.store.bucket(req.bucket)
        ctype, meta = request_meta(req.headers)
        u = Upload(req.key, ctype, meta, request_acl(req.headers))
        b.uploads[u.id] = u
        inner = el("Bucket", req.bucket) + el("Key", req.key) + el("UploadId", u.id)
        return Response(200, {"Content-Type": "application/xml"},
                        xml_doc("InitiateMultipartUploadResult", inner))

    def upload_part(self, req):
        b = self.store.bucket(req.bucket)
        if "uploadId" not in req.q or "partNumber" not in req.q:
            raise S3Error(400, "InvalidRequest", "partNumber and uploadId go together")
        u = self._upload(b, req)
        try:
            n = int(req.q["partNumber"])
            if not 1 <= n <= 10000:
                raise ValueError
        except ValueError as e:
            raise S3Error(400, "InvalidArgument",
                          "Part number must be an integer between 1 and 10000, inclusive") from e
        if "x-amz-copy-source" in req.headers:
            if req.body:
                raise S3Error(400, "InvalidRequest", "UploadPartCopy takes no request body")
            _, _, src = self._copy_source(req)
            data = src.data
            rng = req.headers.get("x-amz-copy-source-range")
            if rng is not None:
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng.strip())
                if not m or int(m.group(1)) > int(m.group(2)) or int(m.group(2)) >= len(data):
                    raise S3Error(400, "InvalidArgument", "The x-amz-copy-source-range value "
                                                          "must be of the form bytes=first-last "
                                                          "within the source object")
                data = data[int(m.group(1)):int(m.group(2)) + 1]
        else:
            data = req.body
        md5 = hashlib.md5(data).hexdigest()
        now = time.time()
        u.parts[n] = (data, md5, now)
        if "x-amz-copy-source" in req.headers:
            inner = el("LastModified", iso_time(now)) + el("ETag", '"%s"' % md5)
            return Response(200, {"Content-Type": "application/xml"},
                            xml_doc("CopyPartResult", inner))
        return Response(200, {"ETag": '"%s"' % md5})

    def complete(self, req):
        b = self.store.bucket(req.bucket)
        u = self._upload(b, req)
        root = parse_xml(req.body)
        if strip_ns(root.tag) != "CompleteMultipartUpload":
            raise S3Error(400, "MalformedXML")
        listed = []
        for part in root:
            if strip_ns(part.tag) != "Part":
                raise S3Error(400, "MalformedXML")
            num = etag = None
            for sub in part:
                tag = strip_ns(sub.tag)
                if tag == "PartNumber":
                    num = (sub.text or "").strip()
                elif tag == "ETag":
                    etag = (sub.text or "").strip()
            if num is None or etag is None or not num.isdigit():
                raise S3Error(400, "MalformedXML")
            listed.append((int(num), etag))
        if not listed:
            raise S3Error(400, "MalformedXML", "You must specify at least one part")
        for i in range(1, len(listed)):
            if listed[i][0] <= listed[i - 1][0]:
                raise S3Error(400, "InvalidPartOrder")
        for i, (num, etag) in enumerate(listed):
            have = u.parts.get(num)
            if have is None or etag.strip('"').lower() != have[1]:
                raise S3Error(400, "InvalidPart")
            if i < len(listed) - 1 and len(have[0]) < self.settings.min_part_size:
                raise S3Error(400, "EntityTooSmall")
        data = b"".join(u.parts[num][0] for num, _ in listed)
        digest = hashlib.md5(b"".join(bytes.fromhex(u.parts[num][1])
                                      for num, _ in listed)).hexdigest()
        obj = Obj(data, '"%s-%d"' % (digest, len(listed)), u.ctype, u.meta, u.acl)
        b.objects[req.key] = obj
        del b.uploads[u.id]
        loc = "http://127.0.0.1/%s/%s" % (req.bucket, urllib.parse.quote(req.key))
        inner = el("Location", loc) + el("Bucket", req.bucket) + el("Key", req.key) + \
            el("ETag", obj.etag)
        return Response(200, {"Content-Type": "application/xml"},
                        xml_doc("CompleteMultipartUploadResult", inner))

    def abort(self, req):
        b = self.store.bucket(req.bucket)
        u = self._upload(b, req)
        del b.uploads[u.id]
        return Response(204)

    def list_parts(self, req):
        b = self.store.bucket(req.bucket)
        u = self._upload(b, req)
        inner = el("Bucket", req.bucket) + el("Key", req.key) + el("UploadId", u.id)
        inner += el("PartNumberMarker", 0) + el("MaxParts", 10000) + el("IsTruncated", "false")
        inner += el("StorageClass", "STANDARD")
        for num in sorted(u.parts):
            data, md5, mtime = u.parts[num]
            inner += "<Part>%s%s%s%s</Part>" % (el("PartNumber", num),
                                                el("LastModified", iso_time(mtime)),
                                                el("ETag", '"%s"' % md5), el("Size", len(data)))
        return Response(200, {"Content-Type": "application/xml"},
                        xml_doc("ListPartsResult", inner))

    def list_uploads(self, req):
        b = self.store.bucket(req.bucket)
        q = req.q
        prefix = q.get("prefix", "")
        if q.get("delimiter"):
            raise S3Error(501, "NotImplemented", "fake_s3 does not implement delimiter here")
        try:
            max_uploads = min(int(q.get("max-uploads", "1000")), 1000)
        except ValueError as e:
            raise S3Error(400, "InvalidArgument", "max-uploads must be an integer") from e
        key_marker = q.get("key-marker", "")
        id_marker = q.get("upload-id-marker", "")
        seq_marker = 0
        if id_marker:
            found = b.uploads.get(id_marker)
            seq_marker = found.seq if found is not None else 0
        ups = [u for u in sorted(b.uploads.values(), key=lambda u: (u.key, u.seq))
               if u.key.startswith(prefix) and
               (u.key > key_marker or (id_marker and u.key == key_marker and u.seq > seq_marker))]
        truncated = len(ups) > max_uploads
        ups = ups[:max_uploads]
        inner = el("Bucket", req.bucket) + el("KeyMarker", key_marker) + \
            el("UploadIdMarker", id_marker) + el("Prefix", prefix) + el("MaxUploads", max_uploads)
        if truncated and ups:
            inner += el("NextKeyMarker", ups[-1].key) + el("NextUploadIdMarker", ups[-1].id)
        inner += el("IsTruncated", "true" if truncated else "false")
        for u in ups:
            inner += "<Upload>%s%s%s%s%s%s</Upload>" % (
                el("Key", u.key), el("UploadId", u.id),
                "<Initiator><ID>fake</ID><DisplayName>fake</DisplayName></Initiator>",
                "<Owner><ID>fake</ID><DisplayName>fake</DisplayName></Owner>",
                el("StorageClass", "STANDARD"), el("Initiated", iso_time(u.initiated)))
        return Response(200, {"Content-Type": "application/xml"},
                        xml_doc("ListMultipartUploadsResult", inner))


# ---------------------------------------------------------------------------------------------
# HTTP

class Request:
    pass


class ReadError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_s3"
    sys_version = ""

    def setup(self):
        super().setup()
        self.conn_id = self.server.next_conn()
        self.seq = 0

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.verbose:
            sys.stderr.write("fake_s3: %s\n" % (format % args))

    def parse_request(self):
        self._picked = None
        return super().parse_request()

    def _pick(self):
        """The fault rule for this request, chosen once (maybe before the body is read)."""
        if self._picked is None:
            raw_path, _, query = self.path.partition("?")
            rule = None
            if not raw_path.startswith(CONTROL_PREFIX):
                headers = {k.lower(): v for k, v in self.headers.items()}
                rule = self.server.script.pick(self.command, raw_path, query, headers)
            self._picked = (rule,)
        return self._picked[0]

    def handle_expect_100(self):
        rule = self._pick()
        if rule is not None and rule.before_body:
            return True  # the rule's answer replaces the 100 Continue
        return super().handle_expect_100()

    def _drain(self):
        """Read and drop what the client still sends (a lingering close), for up to 5 s."""
        deadline = time.monotonic() + 5
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while time.monotonic() < deadline:
                self.connection.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.connection.recv(65536):
                    break
        except OSError:
            pass

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    # -- reading

    def _read_exact(self, n):
        chunks = []
        while n > 0:
            c = self.rfile.read(min(n, 1 << 20))
            if not c:
                raise ReadError(400, "IncompleteBody", "the request body ended early")
            chunks.append(c)
            n -= len(c)
        return b"".join(chunks)

    def read_body(self):
        limit = self.server.max_body
        te = self.headers.get("Transfer-Encoding", "")
        if te:
            if te.strip().lower() != "chunked":
                raise ReadError(501, "NotImplemented", "Transfer-Encoding %s" % te)
            out = []
            total = 0
            while True:
                line = self.rfile.readline(4096)
                if not line.endswith(b"\n"):
                    raise ReadError(400, "IncompleteBody", "bad chunk header")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError as e:
                    raise ReadError(400, "IncompleteBody", "bad chunk size") from e
                if size == 0:
                    while True:  # trailers, up to the empty line
                        t = self.rfile.readline(4096)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return b"".join(out)
                total += size
                if total > limit:
                    raise ReadError(400, "EntityTooLarge", DEFAULT_MESSAGES["EntityTooLarge"])
                out.append(self._read_exact(size))
                if self.rfile.readline(4096) not in (b"\r\n", b"\n"):
                    raise ReadError(400, "IncompleteBody", "chunk not followed by CRLF")
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        if not cl.strip().isdigit():
            raise ReadError(400, "InvalidArgument", "bad Content-Length")
        n = int(cl)
        if n > limit:
            raise ReadError(400, "EntityTooLarge", DEFAULT_MESSAGES["EntityTooLarge"])
        return self._read_exact(n)

    # -- writing

    def _head_bytes(self, resp, rid, content_length):
        try:
            reason = http.HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Status"
        lines = ["HTTP/1.1 %d %s" % (resp.status, reason),
                 "Date: %s" % http_time(time.time()), "Server: fake_s3",
                 "x-amz-request-id: %s" % rid,
                 "x-amz-id-2: %s" % base64.b64encode(rid.encode()).decode()]
        names = set()
        for name, value in resp.headers:
            lines.append("%s: %s" % (name, value))
            names.add(name.lower())
        if "content-length" not in names:
            lines.append("Content-Length: %d" % content_length)
        if self.close_connection and "connection" not in names:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _reset(self):
        """Close with SO_LINGER 0: the peer gets a TCP reset."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()
        self.close_connection = True

    def send(self, resp, rid, send_bytes=None, reset=False):
        body = b"" if resp.head_only else resp.body
        length = len(resp.body)
        if resp.status in (204, 304) or (resp.status < 200):
            length = 0
        head = self._head_bytes(resp, rid, length)
        try:
            if send_bytes is None:
                self.wfile.write(head + body)
            else:
                self.wfile.write(head + body[:send_bytes])
                self.wfile.flush()
                if reset:
                    self._reset()
                else:
                    self.close_connection = True
        except OSError:
            self.close_connection = True

    def error_response(self, status, code, message, resource, rid, headers=None, head=False):
        hdrs = dict(headers or {})
        hdrs.setdefault("Content-Type", "application/xml")
        return Response(status, hdrs, error_xml(code, message, resource, rid), head_only=head,
                        code=code)

    # -- dispatch

    def dispatch(self):
        srv = self.server
        self.seq += 1
        rid = srv.next_request_id()
        method = self.command
        raw_path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = {"t": round(time.time(), 6),
                 "time": iso_time(time.time()), "conn": self.conn_id, "seq": self.seq,
                 "method": method, "path": raw_path, "query": query,
                 "headers": {h: headers[h] for h in LOGGED_HEADERS if h in headers},
                 "request_id": rid, "status": None, "code": None, "fault": None, "rule": None}
        entry["headers"]["authorization"] = "yes" if "authorization" in headers else "no"
        rule = self._pick()
        if rule is not None and rule.before_body:
            entry["rule"] = rule.name
            self.close_connection = True
            if rule.drop:
                entry["fault"] = "before_body+" + ("drop" if rule.drop is True else "drop-rst")
                srv.log(entry)
                if rule.stall:
                    time.sleep(rule.stall)
                if rule.drop == "rst":
                    self._reset()
                return
            resp = self.rule_response(rule, method, raw_path, rid)
            entry.update(status=resp.status, code=resp.code,
                         fault="before_body+" + ("stall:%g+" % rule.stall if rule.stall else "")
                         + "status:%d" % rule.status)
            srv.log(entry)
            if rule.stall:
                time.sleep(rule.stall)
            self.send(resp, rid)
            self._drain()
            return
        try:
            body = self.read_body()
        except (ReadError, OSError, socket.timeout) as e:
            self.close_connection = True
            if isinstance(e, ReadError):
                resp = self.error_response(e.status, e.code, e.message, raw_path, rid)
                entry.update(status=resp.status, code=resp.code)
                srv.log(entry)
                self.send(resp, rid)
            else:
                entry["fault"] = "client-gone"
                srv.log(entry)
            return
        entry["bytes_in"] = len(body)

        if raw_path.startswith(CONTROL_PREFIX):
            entry["control"] = True
            resp = srv.control(method, raw_path, body)
            entry["status"] = resp.status
            srv.log(entry)
            self.send(resp, rid)
            return

        faults = []
        if rule is not None:
            entry["rule"] = rule.name
            if rule.drop:
                entry["fault"] = "drop" if rule.drop is True else "drop-rst"
                if rule.stall is not None:
                    entry["fault"] = "stall:%g+%s" % (rule.stall, entry["fault"])
                srv.log(entry)
                if rule.stall:
                    time.sleep(rule.stall)
                if rule.drop == "rst":
                    self._reset()
                else:
                    self.close_connection = True
                return
        if rule is not None and rule.status is not None:
            resp = self.rule_response(rule, method, raw_path, rid)
            faults.append("status:%d" % rule.status)
        else:
            resp = self.serve_s3(method, raw_path, query, headers, body, rid)
        entry["status"] = resp.status
        entry["code"] = resp.code
        if rule is not None and rule.stall is not None:
            faults.insert(0, "stall:%g" % rule.stall)
        send_bytes, reset = None, False
        if rule is not None and rule.reset_after_bytes is not None:
            send_bytes, reset = rule.reset_after_bytes, True
            faults.append("reset_after_bytes:%d" % send_bytes)
        elif rule is not None and rule.truncate is not None:
            body_len = 0 if resp.head_only else len(resp.body)
            send_bytes = body_len // 2 if rule.truncate is True else rule.truncate
            faults.append("truncate:%d" % send_bytes)
        entry["fault"] = "+".join(faults) or None
        srv.log(entry)
        if rule is not None and rule.stall:
            time.sleep(rule.stall)
        self.send(resp, rid, send_bytes, reset)

    @staticmethod
    def rule_response(rule, method, raw_path, rid):
        if rule.body is not None:
            rbody = rule.body.encode()
        elif rule.code is not None:
            msg = rule.message if rule.message is not None else \
                DEFAULT_MESSAGES.get(rule.code, "Injected fault")
            rbody = error_xml(rule.code, msg, raw_path, rid)
        else:
            rbody = b""
        hdrs = dict(rule.headers)
        if rbody and rule.code is not None and rule.body is None:
            hdrs.setdefault("Content-Type", "application/xml")
        return Response(rule.status, hdrs, rbody, head_only=method == "HEAD", code=rule.code)

    def serve_s3(self, method, raw_path, query, headers, body, rid):
        head = method == "HEAD"
        try:
            req = Request()
            req.method = method
            req.headers = headers
            req.body = body
            req.q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
            path = urllib.parse.unquote(raw_path)
            if not path.startswith("/"):
                raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.")
            req.bucket, _, req.key = path[1:].partition("/")
            self.check_request(req)
            resp = self.server.s3.handle(req)
            return resp
        except S3Error as e:
            return self.error_response(e.status, e.code, e.message, raw_path, rid, e.headers, head)
        except Exception as e:  # pylint: disable=broad-except
            traceback.print_exc()
            return self.error_response(500, "InternalError", "fake_s3 bug: %r" % e, raw_path,
                                       rid, None, head)

    def check_request(self, req):
        auth = req.headers.get("authorization", "")
        presigned = req.q.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" and \
            "X-Amz-Credential" in req.q and "X-Amz-Signature" in req.q
        if not auth.startswith("AWS4-HMAC-SHA256 Credential=") and not presigned:
            raise S3Error(403, "AccessDenied")
        sha = req.headers.get("x-amz-content-sha256")
        if sha is None:
            if not presigned:
                raise S3Error(400, "InvalidRequest",
                              "Missing required header for this request: x-amz-content-sha256")
        elif sha.startswith("STREAMING-"):
            raise S3Error(501, "NotImplemented", "fake_s3 does not decode aws-chunked bodies")
        elif sha != "UNSIGNED-PAYLOAD":
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                raise S3Error(400, "InvalidArgument",
                              "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lowercase "
                              "SHA-256 hex digest")
            if hashlib.sha256(req.body).hexdigest() != sha:
                raise S3Error(400, "XAmzContentSHA256Mismatch")
        md5 = req.headers.get("content-md5")
        if md5 is not None:
            try:
                want = base64.b64decode(md5.strip(), validate=True)
            except (binascii.Error, ValueError) as e:
                raise S3Error(400, "InvalidDigest") from e
            if len(want) != 16:
                raise S3Error(400, "InvalidDigest")
            if hashlib.md5(req.body).digest() != want:
                raise S3Error(400, "BadDigest")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def server_bind(self):
        # HTTPServer.server_bind would look up the host name (slow on some machines).
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def setup_state(self, args):
        self.verbose = args.verbose
        self.max_body = args.max_body
        self.settings = Settings(args)
        self.store = Store(self.settings)
        for b in args.bucket:
            self.store.bucket(b, create=True)
        self.s3 = S3(self.store)
        self.script = Script()
        self.script_file = args.script
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
        self.counter_lock = threading.Lock()
        self.conn_counter = 0
        self.req_counter = 0

    def next_conn(self):
        with self.counter_lock:
            self.conn_counter += 1
            return self.conn_counter

    def next_request_id(self):
        with self.counter_lock:
            self.req_counter += 1
            return "%08X%s" % (self.req_counter, secrets.token_hex(4).upper())

    def log(self, entry):
        if self.log_file is None:
            return
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self.log_lock:
            self.log_file.write(line)
            self.log_file.flush()

    def load_script(self, text):
        rules, settings = Script.parse(text)
        self.settings.update(settings)
        self.script.replace(rules)
        return len(rules)

    def load_script_file(self):
        if not self.script_file:
            self.script.replace([])
            return 0
        with open(self.script_file, encoding="utf-8") as f:
            return self.load_script(f.read())

    def control(self, method, path, body):
        def js(status, obj):
            return Response(status, {"Content-Type": "application/json"},
                            (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())

        name = path[len(CONTROL_PREFIX):]
        try:
            if name == "script" and method == "POST":
                n = self.load_script(body.decode()) if body.strip() else self.load_script_file()
                return js(200, {"rules": n})
            if name == "script" and method == "GET":
                return js(200, {"rules": self.script.describe()})
            if name == "state" and method == "GET":
                return js(200, {"buckets": self.store.state()})
            if name == "reset" and method == "POST":
                with self.store.lock:
                    self.store.buckets.clear()
                return js(200, {"reset": True})
        except (BadScript, OSError, UnicodeDecodeError) as e:
            return js(400, {"error": str(e)})
        return js(404, {"error": "unknown control request %s %s" % (method, path)})


def parse_args(argv):
    p = argparse.ArgumentParser(description="Scripted fake S3 server for fault-injection tests.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--script")
    p.add_argument("--max-seconds", type=float, default=600)
    p.add_argument("--min-part-size", type=int, default=5 * 1024 * 1024)
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--max-body", type=int, default=256 * 1024 * 1024)
    p.add_argument("--idle-timeout", type=float, default=60,
                   help="seconds a connection may sit idle or mid-request")
    p.add_argument("--no-auto-create", dest="auto_create", action="store_false")
    p.add_argument("--bucket", action="append", default=[])
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.min_part_size < 1 or args.page_size < 1 or args.max_seconds <= 0:
        p.error("--min-part-size, --page-size and --max-seconds must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    Handler.timeout = args.idle_timeout
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        sys.stderr.write("fake_s3: cannot listen on 127.0.0.1:%d: %s\n" % (args.port, e))
        return 1
    server.setup_state(args)
    try:
        server.load_script_file()
    except (BadScript, OSError) as e:
        sys.stderr.write("fake_s3: script %s: %s\n" % (args.script, e))
        return 2
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    stop = threading.Event()
    why = []

    def on_signal(signum, _frame):
        why.append(signal.Signals(signum).name)
        stop.set()

    def on_hup(_signum, _frame):
        try:
            server.load_script_file()
        except (BadScript, OSError) as e:
            sys.stderr.write("fake_s3: reload of %s failed: %s\n" % (args.script, e))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    if not stop.wait(args.max_seconds):
        sys.stderr.write("fake_s3: lifetime of %g s reached, exiting\n" % args.max_seconds)
    server.shutdown()
    server.server_close()
    if server.log_file is not None:
        with server.log_lock:
            server.log_file.flush()
    sys.stderr.flush()
    # Handler threads may be asleep in a stall: do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
