#!/usr/bin/env python3
"""llama.cpp (llama-cpp-python) throughput with the same workload as
kvs_bench_engine: prefill of N pseudo-random tokens, then single-stream greedy
decode of M tokens, best of R runs. Prints one JSON line."""
import argparse
import json
import random
import time

import llama_cpp
import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--decode-tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.prompt_tokens + a.decode_tokens + 8, n_batch=512,
                          n_ubatch=512, n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    rng = random.Random(1234)
    prompt = [rng.randint(100, llm.n_vocab() - 1) for _ in range(a.prompt_tokens)]
    best_prefill = best_decode = 0.0
    for _ in range(a.runs):
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
        start = time.perf_counter()
        llm.eval(prompt)
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        token = int(np.argmax(logits))
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(a.decode_tokens):
            llm.eval([token])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            token = int(np.argmax(logits))
        decode = time.perf_counter() - start
        best_prefill = max(best_prefill, a.prompt_tokens / prefill)
        best_decode = max(best_decode, a.decode_tokens / decode)
    print(json.dumps({"engine": "llama.cpp " + llama_cpp.__version__, "threads": a.threads,
                      "prompt_tokens": a.prompt_tokens, "decode_tokens": a.decode_tokens,
                      "prefill_tokens_per_second": best_prefill, "decode_tokens_per_second": best_decode}))


if __name__ == "__main__":
    main()
