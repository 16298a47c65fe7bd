#!/usr/bin/env python3
"""llama.cpp (llama-cpp-python, low-level API) under the same load as
kvs_bench_serving: N concurrent greedy streams, one seq_id each, in one
llama_context with n_seq_max = N. Each stream's P-token prompt is prefilled
(all streams packed into llama_batch calls of up to n_batch tokens), then every
decode step is one llama_decode of N tokens (one per stream). Greedy argmax
on llama_get_logits_ith. Prints one JSON line per stream count with the same
fields as kvs_bench_serving."""
import argparse
import json
import random
import time

import ctypes

import llama_cpp
import numpy as np


def run(model, vocab, n_streams, prompt_tokens, decode_tokens, threads, n_batch):
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = n_streams * (prompt_tokens + decode_tokens + 8)
    cparams.n_batch = n_batch
    cparams.n_ubatch = n_batch
    cparams.n_seq_max = n_streams
    cparams.n_threads = threads
    cparams.n_threads_batch = threads
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    rng = random.Random(1234)
    prompts = [[rng.randint(100, n_vocab - 1) for _ in range(prompt_tokens)] for _ in range(n_streams)]
    batch = llama_cpp.llama_batch_init(max(n_batch, n_streams), 0, n_streams)

    def decode(entries):  # entries: (token, pos, seq, want_logits); returns batch rows with logits
        rows = {}
        batch.n_tokens = len(entries)
        for i, (tok, pos, seq, logits) in enumerate(entries):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = 1 if logits else 0
            if logits:
                rows[seq] = i
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        return rows

    def argmax(row):
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, row), shape=(n_vocab,))
        return int(np.argmax(logits))

    start = time.perf_counter()
    # Prefill: pack prompts into batches of n_batch tokens.
    pending = [(tok, pos, s, pos == prompt_tokens - 1) for s in range(n_streams) for pos, tok in enumerate(prompts[s])]
    next_token = {}
    for b in range(0, len(pending), n_batch):
        rows = decode(pending[b:b + n_batch])
        for seq, row in rows.items():
            next_token[seq] = argmax(row)
    first_token = time.perf_counter()
    generated = n_streams
    for step in range(1, decode_tokens):
        rows = decode([(next_token[s], prompt_tokens + step - 1, s, True) for s in range(n_streams)])
        for seq, row in rows.items():
            next_token[seq] = argmax(row)
        generated += n_streams
    end = time.perf_counter()
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    return {"engine": "llama.cpp " + llama_cpp.__version__, "streams": n_streams, "prompt_tokens": prompt_tokens,
            "decode_tokens": decode_tokens, "generated": generated, "wall_seconds": end - start,
            "aggregate_tokens_per_second": generated / (end - start),
            "aggregate_decode_tokens_per_second": (generated - n_streams) / max(end - first_token, 1e-9)}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--streams", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--prompt-tokens", type=int, default=32)
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-batch", type=int, default=512)
    a = p.parse_args()
    # Silence llama.cpp's own logging (kept referenced: the C side holds the pointer).
    global _quiet_log
    _quiet_log = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(_quiet_log, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()
    mparams = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(a.model.encode(), mparams)
    vocab = llama_cpp.llama_model_get_vocab(model)
    for n in a.streams:
        print(json.dumps(run(model, vocab, n, a.prompt_tokens, a.decode_tokens, a.threads, a.n_batch)), flush=True)
    llama_cpp.llama_model_free(model)


if __name__ == "__main__":
    main()
