#!/usr/bin/env python3
"""Medians of the last criterion run, per benchmark, with each one's ratio
to the baseline beside it in the same group.

Criterion's console line gives the mean's confidence interval; the targets
are medians, which it keeps in target/criterion/<group>/<id>/new/estimates.json.

    cargo bench -p tacet-rules --bench rules -- lookup/
    bench/medians.py lookup_          # groups whose directory starts so
"""

import json
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent / "target" / "criterion"
prefixes = sys.argv[1:] or [""]


def time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"


for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    if not any(group.name.startswith(prefix) for prefix in prefixes):
        continue
    rows = []
    for estimates in sorted(group.glob("**/new/estimates.json")):
        bench = estimates.parent.parent.relative_to(group).as_posix()
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        rows.append((bench, median))
    if not rows:
        continue
    medians = dict(rows)
    print(group.name)
    for bench, median in rows:
        # "rules/blocked" beside "hashset/blocked", "rules" beside "hashset".
        base = None
        if bench.startswith("rules"):
            base = medians.get("hashset" + bench[len("rules"):])
        ratio = f"  ({median / base:.2f} times the HashSet)" if base else ""
        print(f"  {bench:24} median {time(median):>10}{ratio}")
