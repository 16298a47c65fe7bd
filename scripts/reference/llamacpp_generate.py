#!/usr/bin/env python3
"""Greedy reference continuations from llama.cpp (llama-cpp-python).

For each prompt of tests/data/greedy_prompts.json: the prompt ids llama.cpp
makes (plain: add_bos as the model says, no special parsing; chat: the
model's own Jinja template rendered by llama-cpp-python's formatter, then
special tokens parsed), and a greedy continuation of --tokens tokens with no
stop at end-of-sequence. At every step the ten best (id, logit) pairs are kept
so a divergence can be judged (near-tie or not).

Long prompts: an entry {"fixture": PATH, "first_row": N, "min_tokens": M} of
the prompts' "long" list is the text of rows N, N+1, ... of that fixture
.jsonl file (relative to --fixtures), joined by newlines, up to the first row
at which the prompt reaches M tokens. A model without a chat template runs
the plain and long prompts only.
"""
import argparse
import json
import os

import llama_cpp
import numpy as np
from llama_cpp.llama_chat_format import Jinja2ChatFormatter


def greedy(llm, prompt_ids, num_tokens):
    llm.reset()
    llm.eval(prompt_ids)
    tokens, steps = [], []
    for _ in range(num_tokens):
        # Only the last position's logits are computed (logits_all is off).
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float32)
        top = np.argsort(-logits, kind="stable")[:10]
        steps.append([[int(i), float(logits[i])] for i in top])
        token = int(top[0])
        tokens.append(token)
        llm.eval([token])
    return tokens, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fixtures", default="", help="folder the long prompts' fixture paths are relative to")
    parser.add_argument("--n-ctx", type=int, default=1024)
    args = parser.parse_args()

    llm = llama_cpp.Llama(model_path=args.model, n_ctx=args.n_ctx, n_batch=512, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    metadata = llm.metadata
    bos = llm.detokenize([llm.token_bos()]).decode("utf-8", "replace")
    eos = llm.detokenize([llm.token_eos()]).decode("utf-8", "replace")
    template = metadata.get("tokenizer.chat_template")
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos) if template else None
    add_bos = metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
    with open(args.prompts, encoding="utf-8") as f:
        prompts = json.load(f)

    cases = []
    for text in prompts["plain"]:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)
        cases.append({"kind": "plain", "prompt": text, "prompt_ids": ids})
    for entry in prompts.get("long", []):
        with open(os.path.join(args.fixtures, entry["fixture"]), encoding="utf-8") as f:
            rows = [json.loads(line)["text"] for line in f if line.strip()]
        text, row = "", entry["first_row"]
        while row < len(rows):
            text = rows[row] if not text else text + "\n" + rows[row]
            row += 1
            ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)
            if len(ids) >= entry["min_tokens"]:
                break
        if len(ids) + args.tokens > args.n_ctx:
            raise SystemExit(f"long prompt of {len(ids)} tokens does not fit --n-ctx {args.n_ctx}")
        cases.append({"kind": "plain", "prompt": text, "prompt_ids": ids})
    for messages in prompts.get("chat", []) if formatter else []:
        rendered = formatter(messages=messages).prompt
        ids = llm.tokenize(rendered.encode("utf-8"), add_bos=add_bos and not rendered.startswith(bos), special=True)
        cases.append({"kind": "chat", "messages": messages, "rendered": rendered, "prompt_ids": ids})
    for case in cases:
        case["tokens"], case["top_logits"] = greedy(llm, case["prompt_ids"], args.tokens)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"llama_cpp_version": llama_cpp.__version__, "threads": args.threads, "cases": cases}, f,
                  ensure_ascii=False)


if __name__ == "__main__":
    main()
