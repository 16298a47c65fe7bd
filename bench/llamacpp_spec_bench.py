#!/usr/bin/env python3
"""llama.cpp's prompt-lookup decoding (llama-cpp-python's LlamaPromptLookupDecoding)
on the same copy task as kvs_bench_spec_decode: the prompt's token ids come from
`kvs_bench_spec_decode --dump-prompt FILE`; greedy decode of up to N tokens
(stopping at EOS) with and without the draft model, best of R runs, decode
time after the first token. Prints one JSON line.

  kvs_bench_spec_decode --model M.gguf --dump-prompt /tmp/prompt.json ...
  python bench/llamacpp_spec_bench.py --model M.gguf --prompt-ids /tmp/prompt.json --num-pred-tokens 4
"""
import argparse
import json
import time

import llama_cpp
from llama_cpp.llama_speculative import LlamaPromptLookupDecoding


def decode(llm, prompt, max_tokens):
    """Greedy tokens after the prompt and the seconds spent after the first one."""
    llm.reset()
    tokens = []
    start = None
    for token in llm.generate(prompt, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True):
        if token == llm.token_eos():
            break
        tokens.append(token)
        if start is None:
            start = time.perf_counter()
        if len(tokens) >= max_tokens:
            break
    return tokens, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--prompt-ids", required=True, help="JSON list of token ids (kvs_bench_spec_decode --dump-prompt)")
    p.add_argument("--decode-tokens", type=int, default=256)
    p.add_argument("--num-pred-tokens", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=2)
    a = p.parse_args()
    with open(a.prompt_ids) as f:
        prompt = json.load(f)
    n_ctx = len(prompt) + a.decode_tokens + 16
    common = dict(model_path=a.model, n_ctx=n_ctx, n_batch=512, n_ubatch=512, n_threads=a.threads,
                  n_threads_batch=a.threads, verbose=False,
                  # NOTE: the draft model needs logits of every row (llama-cpp-python raises otherwise); both
                  # get it alike (decode evaluates one token per call without a draft anyway).
                  logits_all=True)
    plain = llama_cpp.Llama(**common)
    spec = llama_cpp.Llama(**common, draft_model=LlamaPromptLookupDecoding(num_pred_tokens=a.num_pred_tokens))
    best = {"plain": 0.0, "spec": 0.0}
    outputs = {}
    for _ in range(a.runs):  # interleaved, so drift in machine load hits both alike
        for name, llm in (("plain", plain), ("spec", spec)):
            tokens, seconds = decode(llm, prompt, a.decode_tokens + 1)
            outputs[name] = tokens
            best[name] = max(best[name], (len(tokens) - 1) / seconds)
    print(json.dumps({
        "engine": "llama.cpp (llama-cpp-python %s)" % llama_cpp.__version__,
        "threads": a.threads,
        "num_pred_tokens": a.num_pred_tokens,
        "prompt_tokens": len(prompt),
        "decoded_tokens_plain": len(outputs["plain"]),
        "decoded_tokens_spec": len(outputs["spec"]),
        "decode_tokens_per_second_plain": best["plain"],
        "decode_tokens_per_second_spec": best["spec"],
        "speedup": best["spec"] / best["plain"],
        "greedy_identical": outputs["plain"] == outputs["spec"],
    }))


if __name__ == "__main__":
    main()
