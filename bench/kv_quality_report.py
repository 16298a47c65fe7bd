#!/usr/bin/env python3
"""Merges kvs_bench_kv_quality section outputs into one JSON, a markdown table and an
SVG plot (hand-written SVG, no plotting library).

  python3 bench/kv_quality_report.py --out bench/kv_quality A.json B.json ...
writes bench/kv_quality.json, bench/kv_quality.md, bench/kv_quality.svg.
"""
import argparse
import html
import json

POLICIES = ["none", "streaming", "h2o", "snapkv", "keyformer", "residual"]
COLORS = {"none": "#444444", "streaming": "#1f77b4", "h2o": "#ff7f0e", "snapkv": "#2ca02c",
          "keyformer": "#9467bd", "residual": "#d62728"}
DTYPES = ["f16", "f32", "bf16", "q8_0", "q4_0", "fp8_e4m3"]
MIB = 1024.0 * 1024.0


def merge(paths):
    merged = {"sections": {}, "rows": {}}
    for path in paths:
        with open(path) as f:
            part = json.load(f)
        for key in ("model", "fixtures", "threads", "max_num_batched_tokens", "model_config",
                    "kv_bytes_per_token", "checkpoint_bytes_per_token"):
            merged.setdefault(key, part.get(key))
        for section in ("match", "ppl", "cost"):
            if section in part:
                merged["sections"][section] = part[section]
        if "passkey" in part:  # several passkey runs (lengths, trials) add up
            merged["sections"].setdefault("passkey_runs", []).append(part["passkey"])
        merged["sections"].setdefault("wall_seconds", {})[path] = part.get("wall_seconds")
        for row in part["rows"]:
            into = merged["rows"].setdefault(row["label"], {})
            for k, v in row.items():
                if k == "passkey_answers":
                    into.setdefault(k, []).extend(v)
                elif k == "passkey":  # {length: {correct, trials}}: the same length from two parts adds up
                    acc = into.setdefault(k, {})
                    for length, got in v.items():
                        have = acc.setdefault(length, {"correct": 0, "trials": 0})
                        have["correct"] += got["correct"]
                        have["trials"] += got["trials"]
                else:
                    into[k] = v
    order = {p: i for i, p in enumerate(POLICIES)}
    dtype_order = {d: i for i, d in enumerate(DTYPES)}
    merged["rows"] = sorted(merged["rows"].values(),
                            key=lambda r: (dtype_order[r.get("kv_dtype", "f16")], order[r["policy"]], r["budget"],
                                           r.get("checkpoint_dtype", "f32")))
    return merged


def pct(x):
    return "" if x is None else f"{100.0 * x:.1f}%"


def passkey_cell(row, lo, hi):
    got = [(int(k), v) for k, v in row.get("passkey", {}).items() if lo <= int(k) < hi]
    if not got:
        return ""
    c = sum(v["correct"] for _, v in got)
    t = sum(v["trials"] for _, v in got)
    return f"{c}/{t}"


def table(m):
    rows = m["rows"]
    lens = sorted({int(k) for r in rows for k in r.get("passkey", {})})
    buckets = []
    for n in lens:
        b = (n, int(n * 1.5)) if not buckets or n >= buckets[-1][1] else None
        if b:
            buckets.append(b)
    head = ["config", "KV B/token", "tokens/GiB", "prefix match", "positional match", "ppl"]
    head += [f"passkey ~{(lo + 512) // 1024}k ({lo} tok)" for lo, _ in buckets]
    head += ["resident K/V at end", "of full", "+ checkpoints", "decode tok/s", "recompute s", "evicted (cost run)"]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |"]
    for r in rows:
        match = r.get("match", {})
        ppl = r.get("ppl", {})
        cost = r.get("cost", {})
        per_token = r.get("kv_bytes_per_token", m["kv_bytes_per_token"])
        cells = [r["label"], str(per_token), f"{(1 << 30) / per_token / 1e3:.1f} k",
                 pct(match.get("prefix_match")), pct(match.get("positional_match")),
                 f"{ppl['perplexity']:.2f}" if ppl else "—"]
        cells += [passkey_cell(r, lo, hi) for lo, hi in buckets]
        if cost:
            full = cost["full_kv_bytes"]
            cells += [f"{cost['resident_kv_bytes'] / MIB:.2f} MiB", pct(cost["resident_kv_bytes"] / full),
                      f"{cost['checkpoint_bytes'] / MIB:.1f} MiB" if cost["checkpoint_bytes"] else "—",
                      f"{cost['decode_tokens_per_second']:.1f}", f"{cost['recompute_seconds']:.2f}",
                      str(cost["evicted_tokens"])]
        else:
            cells += [""] * 6
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def describe(m, wall, command):
    s = m["sections"]
    lines = [f"Model: {m['model']}. Threads: {m['threads']}. max_num_batched_tokens: {m['max_num_batched_tokens']}. "
             f"Command: `{command}`" + (f" ({wall} s wall)." if wall else ".")]
    if "match" in s:
        x = s["match"]
        lines.append(f"- Token match: {x['prompts']} prompts of {x['prompt_tokens']} real-text tokens, "
                     f"{x['greedy_tokens']} greedy tokens each, vs `none` (f16 cache); prefix match = positions equal "
                     f"before the first divergence / {x['greedy_tokens']}, positional = equal positions / "
                     f"{x['greedy_tokens']}; mean over prompts ({x['wall_seconds']:.0f} s).")
    if "ppl" in s:
        x = s["ppl"]
        lines.append(f"- ppl: {x['prompt_tokens']}-token real-text prompt (a pass-key sentence at depth "
                     f"{x['passkey_depth']} inside it: {x['passkey_in_prompt']}), then {x['forced_tokens']} "
                     f"teacher-forced real-text tokens scored; the question is forced after them and 8 greedy "
                     f"tokens answer the long passkey column ({x['wall_seconds']:.0f} s).")
    for x in s.get("passkey_runs", []):
        lens = ", ".join(str(int(n)) for n in x["lengths"])
        lines.append(f"- Passkey: real-text filler of {lens} tokens, {x['trials_per_length']} trial(s) per length "
                     f"(depth cycling through the trials), 8 greedy tokens must contain the key; all configs in "
                     f"one engine ({x['wall_seconds']:.0f} s).")
    if "cost" in s:
        x = s["cost"]
        lines.append(f"- Cost: each config alone, its own engine, {x['prompt_tokens']}-token passkey prompt "
                     f"(its answer is the short passkey column), {x['decode_tokens']} decode tokens; K/V at "
                     f"the last step before finishing; checkpoints = {m['checkpoint_bytes_per_token']} B/token "
                     f"(hidden x 4 B x layers) vs {m['kv_bytes_per_token']} B/token of f16 K/V "
                     f"({x['wall_seconds']:.0f} s).")
    return "\n".join(lines)


def svg(m):
    rows = [r for r in m["rows"] if r.get("kv_dtype", "f16") == "f16"]  # the policy plots: the f16 cache
    W, H = 980, 360
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>']

    def panel(x0, title, ylabel, series, ymax, ylog=False):
        pw, ph, left, top = 280, 230, x0 + 50, 50
        parts.append(f'<text x="{left + pw / 2}" y="25" text-anchor="middle" font-size="13">{html.escape(title)}</text>')
        parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
        parts.append(f'<text x="{x0 + 12}" y="{top + ph / 2}" transform="rotate(-90 {x0 + 12} {top + ph / 2})" '
                     f'text-anchor="middle">{html.escape(ylabel)}</text>')
        budgets = [0.1, 0.25, 0.5]
        xs = {b: left + 30 + i * (pw - 60) / 2 for i, b in enumerate(budgets)}
        for b, x in xs.items():
            parts.append(f'<text x="{x}" y="{top + ph + 15}" text-anchor="middle">{int(b * 100)}%</text>')
        parts.append(f'<text x="{left + pw / 2}" y="{top + ph + 30}" text-anchor="middle">KV budget</text>')
        for i in range(5):
            v = ymax * i / 4
            y = top + ph - ph * i / 4
            parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y}" y2="{y}" stroke="#eee"/>')
            parts.append(f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{v:.3g}</text>')
        for policy, pts, dash in series:
            pts = [(xs[b], top + ph - ph * min(v, ymax) / ymax) for b, v in pts if b in xs]
            if not pts:
                continue
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            extra = ' stroke-dasharray="4 3"' if dash else ""
            parts.append(f'<polyline points="{d}" fill="none" stroke="{COLORS[policy]}" stroke-width="2"{extra}/>')
            for x, y in pts:
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[policy]}"/>')

    def by_policy(key):
        out = {}
        for r in rows:
            v = key(r)
            if r["policy"] != "none" and v is not None:
                out.setdefault(r["policy"], []).append((r["budget"], v))
        return out

    pm = by_policy(lambda r: r.get("match", {}).get("prefix_match"))
    om = by_policy(lambda r: r.get("match", {}).get("positional_match"))
    series = [(p, pm[p], False) for p in pm] + [(p, om[p], True) for p in om]
    panel(0, "Token match vs none (solid prefix, dashed positional)", "fraction of 128 tokens", series, 1.0)
    none = next((r for r in rows if r["policy"] == "none"), None)
    ppl = by_policy(lambda r: r.get("ppl", {}).get("perplexity"))
    if ppl:
        ymax = max(v for s in ppl.values() for _, v in s) * 1.1
        series = [(p, ppl[p], False) for p in ppl]
        if none and "ppl" in none:
            series.append(("none", [(b, none["ppl"]["perplexity"]) for b in (0.1, 0.25, 0.5)], True))
        panel(320, "Perplexity, 4k real text (dashed: none)", "perplexity", series, ymax)
    tps = by_policy(lambda r: r.get("cost", {}).get("decode_tokens_per_second"))
    if tps:
        ymax = max([v for s in tps.values() for _, v in s] +
                   [none["cost"]["decode_tokens_per_second"] if none and "cost" in none else 0]) * 1.1
        series = [(p, tps[p], False) for p in tps]
        if none and "cost" in none:
            series.append(("none", [(b, none["cost"]["decode_tokens_per_second"]) for b in (0.1, 0.25, 0.5)], True))
        panel(640, "Decode tok/s alone, 1k prompt (dashed: none)", "tokens / s", series, ymax)
    for i, p in enumerate(POLICIES):
        x = 60 + i * 150
        parts.append(f'<rect x="{x}" y="{H - 22}" width="12" height="12" fill="{COLORS[p]}"/>')
        parts.append(f'<text x="{x + 16}" y="{H - 12}">{p}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="prefix: writes PREFIX.json, PREFIX.md, PREFIX.svg")
    ap.add_argument("--wall", type=int, default=0)
    ap.add_argument("--command", default="bench/run_kv_quality.sh")
    ap.add_argument("parts", nargs="+")
    a = ap.parse_args()
    m = merge(a.parts)
    m["wall_seconds_total"] = a.wall
    m["command"] = a.command
    with open(a.out + ".json", "w") as f:
        json.dump(m, f, indent=2)
    md = describe(m, a.wall, a.command) + "\n\n" + table(m) + "\n"
    with open(a.out + ".md", "w") as f:
        f.write(md)
    with open(a.out + ".svg", "w") as f:
        f.write(svg(m))
    print(md)


if __name__ == "__main__":
    main()
