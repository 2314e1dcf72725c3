#!/usr/bin/env python3
"""Reads the --log-format=json log of `permafrost daemon` (tests/integration/t_daemon*.sh).

usage: daemon_log.py check-json FILE       every line is a JSON object with time, level, msg
       daemon_log.py count FILE ERE [AFTER-ERE]
                                           lines whose msg matches ERE (only those after the
                                           first line matching AFTER-ERE, when given)
       daemon_log.py runs FILE             a JSON summary of the runs: per job the starts,
                                           results and the most runs of it at once; overall the
                                           most runs at once
"""
import json
import re
import sys

START = re.compile(r"^job '([^']+)' started \(pid (\d+)\)")
END = re.compile(r"^job '([^']+)' (finished: (\w+)|skipped)")


def records(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            try:
                rec = json.loads(line)
            except ValueError:
                sys.exit("%s:%d: not JSON: %r" % (path, n, line[:200]))
            if not isinstance(rec, dict) or not all(k in rec for k in ("time", "level", "msg")):
                sys.exit("%s:%d: not a log object: %r" % (path, n, line[:200]))
            out.append(rec)
    return out


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    recs = records(path)
    if cmd == "check-json":
        print(len(recs))
    elif cmd == "count":
        pat = re.compile(sys.argv[3])
        if len(sys.argv) > 4:
            after = re.compile(sys.argv[4])
            idx = next((i for i, r in enumerate(recs) if after.search(r["msg"])), len(recs))
            recs = recs[idx + 1:]
        print(sum(1 for r in recs if pat.search(r["msg"])))
    elif cmd == "runs":
        jobs, running, most = {}, {}, 0
        for r in recs:
            m = START.search(r["msg"])
            if m:
                j = jobs.setdefault(m.group(1), {"starts": 0, "results": [], "most_at_once": 0})
                j["starts"] += 1
                running[m.group(1)] = running.get(m.group(1), 0) + 1
                j["most_at_once"] = max(j["most_at_once"], running[m.group(1)])
                most = max(most, sum(running.values()))
                continue
            m = END.search(r["msg"])
            if m:
                j = jobs.setdefault(m.group(1), {"starts": 0, "results": [], "most_at_once": 0})
                j["results"].append(m.group(3) or "skipped")
                running[m.group(1)] = running.get(m.group(1), 0) - 1
        print(json.dumps({"jobs": jobs, "most_at_once": most}, sort_keys=True))
    else:
        sys.exit("unknown command " + cmd)


main()
