#!/usr/bin/env python3
"""Peer for the CUDA engine's decode benchmark (kvs_bench_gpu_engine): Hugging
Face transformers on the same HF folder (e.g. the random Llama-3.2-1B of
scripts/make_random_llama_1b.py), torch bfloat16, SDPA attention.

Method ("forward loop"): per batch size B, random token ids (the folder has no
tokenizer), one prefill of B x CONTEXT tokens through model(...) with
use_cache=True (a DynamicCache) and logits_to_keep=1, then STEPS decode steps,
each model(next_ids, past_key_values=cache) with the greedy argmax of the
last logits fed back on the GPU (no host sync inside the loop; EOS plays no
part). A full untimed warm-up pass (prefill + WARMUP steps) at the same shape
comes first. Timed: the STEPS decode steps only, wall clock between two
torch.cuda.synchronize() calls; CUDA events around each step give the median.

  decode_step_ms = decode wall time / STEPS     (the context grows CONTEXT+1 ..)
  tokens_per_s   = B * STEPS / decode wall time

One JSON with a result per batch size; a mode that fails (e.g. out of memory)
records its error and the others still run.

  python3 bench/gpu/hf_decode_peer.py --model /tmp/llama1b --batches 1,64 --out hf_decode.json
"""
import argparse
import json
import statistics
import sys
import time
import traceback


def sync(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def decode_run(model, ids, steps, device, timed):
    """Prefill ids, then `steps` greedy decode steps. Returns (total_s, per-step ms list)."""
    import torch
    out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    cache = out.past_key_values
    nxt = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
    sync(device)
    use_events = timed and device.startswith("cuda")
    events = [torch.cuda.Event(enable_timing=True) for _ in range(steps + 1)] if use_events else []
    t0 = time.perf_counter()
    for i in range(steps):
        if use_events:
            events[i].record()
        out = model(input_ids=nxt, past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        nxt = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
    if use_events:
        events[steps].record()
    sync(device)
    total = time.perf_counter() - t0
    per_step = [events[i].elapsed_time(events[i + 1]) for i in range(steps)] if use_events else []
    return total, per_step


def run_mode(model, batch, args, vocab):
    import torch
    gen = torch.Generator(device="cpu").manual_seed(1234 + batch)
    ids = torch.randint(0, vocab, (batch, args.context), generator=gen).to(args.device)
    with torch.inference_mode():
        decode_run(model, ids, args.warmup, args.device, timed=False)  # warm-up: kernels, allocator, cuBLAS
        total, per_step = decode_run(model, ids, args.steps, args.device, timed=True)
    result = {
        "batch": batch,
        "context": args.context,
        "steps": args.steps,
        "decode_step_ms": 1000.0 * total / args.steps,
        "tokens_per_s": batch * args.steps / total,
    }
    if per_step:
        result["decode_step_ms_median_events"] = statistics.median(per_step)
    if args.device.startswith("cuda"):
        result["max_memory_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF folder (config.json + model.safetensors)")
    ap.add_argument("--out", required=True, help="result JSON")
    ap.add_argument("--batches", default="1,64", help="comma-separated batch sizes")
    ap.add_argument("--context", type=int, default=512, help="prompt tokens before the timed steps")
    ap.add_argument("--steps", type=int, default=64, help="timed decode steps")
    ap.add_argument("--warmup", type=int, default=8, help="untimed decode steps of the warm-up pass")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke tests only)")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation")
    args = ap.parse_args()

    report = {"peer": "transformers", "method": "forward loop (prefill, then model(next_ids, past_key_values=DynamicCache), "
              "greedy argmax on device, logits_to_keep=1); timed: decode steps only, after a warm-up pass",
              "model": args.model, "attn_implementation": args.attn, "dtype": "bfloat16", "results": [], "errors": []}

    def write():
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")

    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM
        report["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
        if args.device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise RuntimeError("no CUDA device visible to torch")
            report["device_name"] = torch.cuda.get_device_name(0)
        t0 = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16, attn_implementation=args.attn)
        model = model.to(args.device).eval()
        report["load_s"] = time.perf_counter() - t0
        vocab = model.config.vocab_size
    except Exception as e:  # noqa: BLE001 - the error goes into the JSON
        report["errors"].append({"stage": "load", "error": f"{type(e).__name__}: {e}",
                                 "traceback": traceback.format_exc(limit=5)})
        write()
        print(f"hf_decode_peer: load failed: {e}", file=sys.stderr)
        return 1

    for batch in [int(b) for b in args.batches.split(",") if b.strip()]:
        try:
            r = run_mode(model, batch, args, vocab)
            report["results"].append(r)
            print(f"hf_decode_peer: batch {batch}: {r['decode_step_ms']:.3f} ms/step, {r['tokens_per_s']:.1f} tok/s")
        except Exception as e:  # noqa: BLE001 - recorded, next mode still runs
            report["errors"].append({"stage": f"batch {batch}", "error": f"{type(e).__name__}: {e}",
                                     "traceback": traceback.format_exc(limit=5)})
            print(f"hf_decode_peer: batch {batch} failed: {e}", file=sys.stderr)
        finally:
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
        write()  # after every mode, so a later timeout keeps what was measured
    write()
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
