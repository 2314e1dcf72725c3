#!/usr/bin/python3
"""Checks a Prometheus text exposition (format 0.0.4) read from a file or stdin.

Two checks: the reference parser of python3-prometheus-client must accept it, and a strict line
checker of our own: every line is "# HELP", "# TYPE" or a sample; every sample belongs to the family
whose TYPE came last (a counter's samples end in _total), names match [a-zA-Z_:][a-zA-Z0-9_:]*,
label names [a-zA-Z_][a-zA-Z0-9_]*, label values use only the escapes \\\\ \\" \\n, values are
numbers, no series appears twice and no family is declared twice; every name starts with
permafrost_. Prints "families: N, samples: M" and, with --dump, one "name{labels} value" per
sample as the reference parser read it (for the test to grep).

usage: prom_check.py [--dump] [FILE]
"""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
VALUE = re.compile(r"-?(\d+(\.\d+)?([eE][-+]?\d+)?|Inf|NaN)\Z|\+Inf\Z")


def fail(lineno, line, why):
    sys.exit("line %d: %s: %r" % (lineno, why, line))


def parse_labels(lineno, line, text, i):
    """Parses {k="v",...} starting at text[i] == '{'; returns (labels tuple, index after '}')."""
    labels = []
    i += 1
    while True:
        if text[i] == "}":
            return tuple(labels), i + 1
        j = text.index("=", i)
        key = text[i:j]
        if not LABEL.match(key):
            fail(lineno, line, "bad label name %r" % key)
        if text[j + 1] != '"':
            fail(lineno, line, "label value not quoted")
        k = j + 2
        value = []
        while text[k] != '"':
            if text[k] == "\\":
                if text[k + 1] not in '\\"n':
                    fail(lineno, line, "bad escape \\%s" % text[k + 1])
                value.append(text[k:k + 2])
                k += 2
                continue
            if text[k] == "\n":
                fail(lineno, line, "raw newline in a label value")
            value.append(text[k])
            k += 1
        labels.append((key, "".join(value)))
        k += 1
        if text[k] == ",":
            k += 1
        elif text[k] != "}":
            fail(lineno, line, "expected , or } after a label")
        i = k


def strict(text):
    if text and not text.endswith("\n"):
        sys.exit("the exposition must end with a newline")
    family, ftype = None, None
    declared, helped, series = set(), set(), set()
    samples = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            name = line[7:].split(" ", 1)[0]
            if not NAME.match(name) or name in helped:
                fail(lineno, line, "bad or repeated HELP")
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line[7:].split(" ")
            if len(parts) != 2 or not NAME.match(parts[0]):
                fail(lineno, line, "bad TYPE line")
            if parts[1] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                fail(lineno, line, "unknown type")
            if parts[0] in declared:
                fail(lineno, line, "family declared twice")
            if parts[0] not in helped:
                fail(lineno, line, "TYPE without a HELP before it")
            declared.add(parts[0])
            family, ftype = parts
            continue
        if line.startswith("#") or not line:
            fail(lineno, line, "neither HELP, TYPE nor a sample")
        m = re.match(r"[^{ ]+", line)
        name = m.group(0)
        if not NAME.match(name):
            fail(lineno, line, "bad metric name")
        if not name.startswith("permafrost_"):
            fail(lineno, line, "name without the permafrost_ prefix")
        if family is None or name != family:
            fail(lineno, line, "sample without a TYPE of its family before it")
        if ftype == "counter" and not name.endswith("_total"):
            fail(lineno, line, "a counter's name must end in _total")
        i = m.end()
        labels = ()
        if line[i] == "{":
            labels, i = parse_labels(lineno, line, line, i)
        if line[i] != " ":
            fail(lineno, line, "expected a space before the value")
        value = line[i + 1:]
        if not VALUE.match(value):
            fail(lineno, line, "value is not a number")
        key = (name, tuple(sorted(labels)))
        if key in series:
            fail(lineno, line, "duplicate series")
        series.add(key)
        samples += 1
    return len(declared), samples


def main():
    args = sys.argv[1:]
    dump = "--dump" in args
    args = [a for a in args if a != "--dump"]
    text = open(args[0], encoding="utf-8").read() if args else sys.stdin.read()
    families, samples = strict(text)
    parsed = 0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            parsed += 1
            if dump:
                labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
                print("%s{%s} %s" % (s.name, labels, s.value))
    if parsed != samples:
        sys.exit("the reference parser read %d samples, the strict checker %d" % (parsed, samples))
    print("families: %d, samples: %d" % (families, samples))


if __name__ == "__main__":
    main()
