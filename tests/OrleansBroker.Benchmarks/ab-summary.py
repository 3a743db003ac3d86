#!/usr/bin/env python3
"""Medians per scenario and build of an ab.sh result file: throughput, and for latency runs p50 and p99."""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
for run in dict.fromkeys(r["run"] for r in rows):
    keys = ["latency_p50_ms", "latency_p99_ms"] if run == "latency" else ["throughput_msgs_per_s", "latency_p99_ms"]
    for key in keys:
        line = [f"{run:10} {key:22}"]
        for build in ("old", "new"):
            values = [r[key] for r in rows if r["run"] == run and r["build"] == build and r.get(key) is not None]
            line.append(f"{build} {statistics.median(values) if values else '-'} {values}")
        print("  ".join(line))
