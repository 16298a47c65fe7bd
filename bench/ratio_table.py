#!/usr/bin/env python3
"""Pairs kvserve's and llama.cpp's benchmark lines and prints the ratio table.

Reads lines "MODEL<TAB>JSON" on stdin, as bench/run_engine_bench.sh and
bench/run_serving_bench.sh write them: JSON from kvs_bench_engine /
bench/llamacpp_bench.py (prefill and single-stream decode) or from
kvs_bench_serving / bench/serving_llamacpp.py (aggregate decode at N streams).
Prints a markdown table, kvserve / llama.cpp per point, and exits 1 when a
ratio is below --goal (default 1.2) so a script can tell."""
import argparse
import json
import os
import sys


def engine_of(row):
    return "kvserve" if row["engine"].startswith("kvserve") else "llama.cpp"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--goal", type=float, default=1.2)
    a = p.parse_args()
    points = {}  # (model, what, size) -> {engine: value}
    for line in sys.stdin:
        if "\t" not in line:
            continue
        model, text = line.rstrip("\n").split("\t", 1)
        try:
            row = json.loads(text)
        except json.JSONDecodeError:
            continue
        name = os.path.basename(model)
        if "streams" in row:
            key = (name, "decode, streams", row["streams"])
            points.setdefault(key, {})[engine_of(row)] = row["aggregate_decode_tokens_per_second"]
        else:
            key = (name, "prefill, prompt tokens", row["prompt_tokens"])
            points.setdefault(key, {})[engine_of(row)] = row["prefill_tokens_per_second"]
            key = (name, "decode 1 stream after prompt of", row["prompt_tokens"])
            points.setdefault(key, {})[engine_of(row)] = row["decode_tokens_per_second"]
    print("| model | point | size | kvserve tok/s | llama.cpp tok/s | ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    worst = None
    for (model, what, size), values in sorted(points.items()):
        ours, peer = values.get("kvserve"), values.get("llama.cpp")
        ratio = ours / peer if ours and peer else None
        if ratio is not None:
            worst = ratio if worst is None else min(worst, ratio)
        fmt = lambda v: f"{v:.1f}" if v is not None else "-"
        print(f"| {model} | {what} | {size} | {fmt(ours)} | {fmt(peer)} | "
              f"{f'{ratio:.2f}' if ratio is not None else '-'} |")
    if worst is not None:
        print(f"\nlowest ratio: {worst:.2f} (goal {a.goal})")
    return 0 if worst is not None and worst >= a.goal else 1


if __name__ == "__main__":
    sys.exit(main())
