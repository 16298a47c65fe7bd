#!/usr/bin/env python3
"""The KV-dtype perplexity of bench/kv_quality.cpp, measured with llama.cpp.

kv_quality scores teacher-forced real text after a long real-text prompt for
each KV cache dtype. This script runs the same token ids (written by
`kvs_bench_kv_quality --dump-ppl-tokens FILE`) through llama.cpp
(llama-cpp-python) with its KV cache in f16, q8_0 and q4_0 (flash attention
on, as llama.cpp needs for a quantized V cache): the prompt in one batch,
then each forced token as its own decode step, as kvserve's engine does. The
relative change against f16 is what a quantized cache costs in llama.cpp, the
reference for kvserve's own q8_0 / q4_0 numbers.

  .venv/bin/python bench/llamacpp_kv_dtype_ppl.py --model M.gguf --tokens ppl_tokens.json --threads 2
"""
import argparse
import json
import math
import sys

import numpy as np
import llama_cpp

GGML_TYPES = {"f16": 1, "q8_0": 8, "q4_0": 2}


def perplexity(model, prompt, forced, kv_dtype, threads):
    llm = llama_cpp.Llama(model_path=model, n_ctx=len(prompt) + len(forced) + 8, n_batch=512, n_threads=threads,
                          n_threads_batch=threads, type_k=GGML_TYPES[kv_dtype], type_v=GGML_TYPES[kv_dtype],
                          flash_attn=True, logits_all=False, verbose=False)
    llm.eval(prompt)
    vocab = llm.n_vocab()
    nll = 0.0
    for token in forced:
        # The last evaluated token's logits (the only row llama.cpp computed).
        row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(row, shape=(vocab,)).astype(np.float64)
        top = logits.max()
        nll -= logits[token] - top - math.log(np.exp(logits - top).sum())
        llm.eval([token])
    return math.exp(nll / len(forced))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", required=True, help="JSON with 'prompt' and 'forced' token ids")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kv-dtypes", default="f16,q8_0,q4_0")
    args = parser.parse_args()
    with open(args.tokens) as f:
        ids = json.load(f)
    results = {}
    for dtype in args.kv_dtypes.split(","):
        results[dtype] = perplexity(args.model, ids["prompt"], ids["forced"], dtype, args.threads)
        base = results.get("f16")
        change = f" ({100 * (results[dtype] / base - 1):+.2f}% vs f16)" if base else ""
        print(f"llama.cpp {llama_cpp.__version__}, KV {dtype}: perplexity {results[dtype]:.4f} over "
              f"{len(ids['forced'])} tokens after {len(ids['prompt'])}{change}", flush=True)
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
