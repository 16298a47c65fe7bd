#!/usr/bin/env python3
"""Peers for the varlen prefill attention benchmark (issue 6, acceptance 3):
torch scaled_dot_product_attention on the batch of
prefill_attention_shapes.json (32 sequences of 128..2048 tokens, causal, bf16),
timed like kvs_bench_prefill_attention (median of --iters CUDA-event timings,
after --warmup calls), in two layouts:

  padded  [B, H, L_max, D] tensors, right-padded, is_causal=True; GQA through
          enable_gqa=True (K/V [B, H_kv, L_max, D]); falls back to K/V expanded
          to every query head where the backend refuses enable_gqa.
  jagged  nested tensors (layout=torch.jagged) of [L_i, H, D] per sequence,
          transposed to [B, H, j, D], is_causal=True; K/V expanded to H heads
          beforehand (not timed: nested SDPA has no enable_gqa).

Useful FLOPs are the same count as ours: sum_i 4 * D * H * L_i (L_i + 1) / 2
(padding and the masked half are not useful work). With --ours (the JSON of
kvs_bench_prefill_attention from the same run) it prints one table with our
kernel's TFLOP/s and its ratio to padded SDPA. Writes JSON.

  python3 bench/gpu/prefill_sdpa_peer.py --out sdpa_prefill.json --ours prefill.json
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {
    "any": [SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH],
    "flash": [SDPBackend.FLASH_ATTENTION],
    "cudnn": [SDPBackend.CUDNN_ATTENTION],
    "efficient": [SDPBackend.EFFICIENT_ATTENTION],
}


def time_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(iters):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def useful_flops(lengths, h, d):
    return sum(4.0 * d * h * n * (n + 1) / 2 for n in lengths)


def padded_run(lengths, h, hkv, d, dev, gen, backends, expand):
    b, lmax = len(lengths), max(lengths)
    q = torch.randn(b, h, lmax, d, device=dev, dtype=torch.bfloat16, generator=gen)
    k = torch.randn(b, hkv, lmax, d, device=dev, dtype=torch.bfloat16, generator=gen)
    v = torch.randn(b, hkv, lmax, d, device=dev, dtype=torch.bfloat16, generator=gen)
    if expand:
        k, v = k.repeat_interleave(h // hkv, 1), v.repeat_interleave(h // hkv, 1)

    def run():
        with sdpa_kernel(backends):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=not expand)
    return run


def jagged_run(lengths, h, hkv, d, dev, gen, backends):
    def nested(heads):
        parts = [torch.randn(n, heads, d, device=dev, dtype=torch.bfloat16, generator=gen) for n in lengths]
        if heads != h:
            parts = [p.repeat_interleave(h // heads, 1) for p in parts]
        return torch.nested.nested_tensor(parts, layout=torch.jagged).transpose(1, 2)
    q, k, v = nested(h), nested(hkv), nested(hkv)

    def run():
        with sdpa_kernel(backends):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return run


def measure(make, warmup, iters):
    try:
        return time_ms(make(), warmup, iters), None
    except (RuntimeError, NotImplementedError, torch.cuda.OutOfMemoryError) as e:
        torch.cuda.empty_cache()
        return float("nan"), str(e).splitlines()[0] if str(e) else type(e).__name__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="bench/gpu/prefill_attention_shapes.json")
    ap.add_argument("--out", default="prefill_sdpa_peer.json")
    ap.add_argument("--ours", default="", help="kvs_bench_prefill_attention JSON to put in the table")
    ap.add_argument("--only", default="")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="any")
    args = ap.parse_args()

    spec = json.load(open(args.shapes))
    lengths = spec["lengths"]
    dev = torch.device("cuda")
    backends = BACKENDS[args.backend]
    ours = {}
    if args.ours:
        for r in json.load(open(args.ours))["results"]:
            ours[r["config"]] = r["tflops"]
    results = []
    print(f"| config | ours TFLOP/s | padded SDPA TFLOP/s | jagged SDPA TFLOP/s | ours / padded | notes |")
    print(f"| --- | ---: | ---: | ---: | ---: | --- |")
    for config in spec["configs"]:
        if args.only and config["name"] != args.only:
            continue
        h, hkv, d = config["num_heads"], config["num_kv_heads"], config["head_dim"]
        flops = useful_flops(lengths, h, d)
        gen = torch.Generator(device=dev).manual_seed(1)
        notes = []
        padded_ms, err = measure(lambda: padded_run(lengths, h, hkv, d, dev, gen, backends, False),
                                 args.warmup, args.iters)
        padded_gqa = "native"
        if err is not None:
            notes.append(f"padded enable_gqa refused ({err}); K/V expanded")
            padded_gqa = "expanded"
            padded_ms, err = measure(lambda: padded_run(lengths, h, hkv, d, dev, gen, backends, True),
                                     args.warmup, args.iters)
            if err is not None:
                notes.append(f"padded failed: {err}")
        jagged_ms, jerr = measure(lambda: jagged_run(lengths, h, hkv, d, dev, gen, backends), args.warmup, args.iters)
        if jerr is not None:
            notes.append(f"jagged failed: {jerr}")
        padded_tf = flops / (padded_ms * 1e-3) / 1e12
        jagged_tf = flops / (jagged_ms * 1e-3) / 1e12
        our_tf = ours.get(config["name"], float("nan"))
        ratio = our_tf / padded_tf if padded_tf == padded_tf and padded_tf > 0 else float("nan")
        print(f"| {config['name']} | {our_tf:.1f} | {padded_tf:.1f} | {jagged_tf:.1f} | {ratio:.2f} | "
              + "; ".join(notes) + " |", flush=True)
        results.append({"config": config["name"], "head_dim": d, "num_heads": h, "num_kv_heads": hkv,
                        "useful_flops": flops, "padded_ms": padded_ms, "padded_tflops": padded_tf,
                        "padded_gqa": padded_gqa, "jagged_ms": jagged_ms, "jagged_tflops": jagged_tf,
                        "ours_tflops": our_tf, "notes": notes})
        torch.cuda.empty_cache()
    doc = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "backend": args.backend,
           "lengths": lengths, "iters": args.iters, "results": results}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
