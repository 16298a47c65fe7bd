#!/usr/bin/env python3
"""Peer for the LeanAttention benchmark (issue 7): torch scaled_dot_product_attention
(flash backend: FlashAttention-2 with split-KV "flash decoding" for one query
token) on the shapes of lean_attention_shapes.json, timed like
kvs_bench_lean_attention: each timed call follows an L2 flush (a 256 MiB
memset, not timed), median of --iters CUDA-event timings. K/V are contiguous
[B, kv_heads, L, head_dim] bf16 tensors (SDPA has no paged layout); GQA through
enable_gqa=True (no K/V expansion). A mixed batch runs one SDPA call per
distinct length, all inside one timed region. Effective bandwidth = K/V bytes
read / time, the same bytes as ours. Writes JSON.

  python3 bench/gpu/sdpa_peer.py --shapes bench/gpu/lean_attention_shapes.json --out sdpa.json
"""
import argparse
import json
import math
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {
    "flash": [SDPBackend.FLASH_ATTENTION],
    "cudnn": [SDPBackend.CUDNN_ATTENTION],
    "efficient": [SDPBackend.EFFICIENT_ATTENTION],
    "any": [SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
            SDPBackend.MATH],
}


def time_ms(fn, warmup, iters, flush):
    for _ in range(warmup):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(iters):
        if flush is not None:
            flush.fill_(i & 0xFF)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="bench/gpu/lean_attention_shapes.json")
    ap.add_argument("--out", default="sdpa_peer.json")
    ap.add_argument("--only", default="")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="flash")
    ap.add_argument("--no-flush", action="store_true")
    ap.add_argument("--f16", action="store_true")
    # Options of kvs_bench_lean_attention only: run_lean_attention_bench.sh
    # passes its arguments to both benchmarks, so they are accepted here and
    # ignored (SDPA has no split count to set and no reference check).
    ap.add_argument("--splits", type=int, default=0, help="ignored (kvs_bench_lean_attention's split-K pieces)")
    ap.add_argument("--check-seqs", type=int, default=-1, help="ignored (kvs_bench_lean_attention's reference check)")
    ap.add_argument("--fp8", action="store_true", help="ignored: SDPA reads no fp8 cache; the peer stays bf16")
    args = ap.parse_args()

    spec = json.load(open(args.shapes))
    h, hkv, d = spec["num_heads"], spec["num_kv_heads"], spec["head_dim"]
    dtype = torch.float16 if args.f16 else torch.bfloat16
    dev = torch.device("cuda")
    flush = None if args.no_flush else torch.empty(256 << 20, dtype=torch.uint8, device=dev)
    results = []
    print(f"{'shape':<10} {'B':>5} {'KV MB':>9} | {'sdpa us':>9} {'TB/s':>8}")
    for shape in spec["shapes"]:
        if args.only and shape["name"] != args.only:
            continue
        calls, kv_bytes, num_seqs = [], 0, 0
        gen = torch.Generator(device=dev).manual_seed(1)
        for count, length in shape["groups"]:
            q = torch.randn(count, h, 1, d, device=dev, dtype=dtype, generator=gen)
            k = torch.randn(count, hkv, length, d, device=dev, dtype=dtype, generator=gen)
            v = torch.randn(count, hkv, length, d, device=dev, dtype=dtype, generator=gen)
            calls.append((q, k, v))
            kv_bytes += 2 * count * hkv * length * d * 2
            num_seqs += count
        scale = 1.0 / math.sqrt(d)

        def make_run(expand):
            group = h // hkv
            inputs = [(q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)) if expand else (q, k, v)
                      for q, k, v in calls]

            def run():
                with sdpa_kernel(BACKENDS[args.backend]):
                    for q, k, v in inputs:
                        F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=not expand)
            return run

        # GQA natively (enable_gqa); where the backend refuses that, with K/V
        # expanded to every query head beforehand (not timed; the kernel then
        # reads group-times more bytes, which the table notes).
        ms, error, gqa = float("nan"), None, "native"
        for expand in (False, True):
            try:
                ms = time_ms(make_run(expand), args.warmup, args.iters, flush)
                error, gqa = None, "expanded" if expand else "native"
                break
            except (RuntimeError, torch.cuda.OutOfMemoryError) as e:  # backend refused the shape
                error = str(e).splitlines()[0]
                torch.cuda.empty_cache()
        tbs = kv_bytes / (ms * 1e-3) / 1e12 if error is None else float("nan")
        print(f"{shape['name']:<10} {num_seqs:>5} {kv_bytes / 1e6:>9.1f} | {ms * 1e3:>9.1f} {tbs:>8.3f} gqa {gqa}"
              + (f"  ({error})" if error else ""), flush=True)
        results.append({"shape": shape["name"], "num_seqs": num_seqs, "kv_bytes": kv_bytes,
                        "sdpa_us": ms * 1e3, "sdpa_tb_per_s": tbs, "gqa": gqa, "error": error})
        del calls
        torch.cuda.empty_cache()
    doc = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "backend": args.backend,
           "kv_dtype": "f16" if args.f16 else "bf16", "l2_flush": not args.no_flush, "iters": args.iters,
           "results": results}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
