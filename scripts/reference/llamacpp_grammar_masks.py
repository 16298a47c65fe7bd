#!/usr/bin/env python3
"""Reference grammar token masks from llama.cpp (llama-cpp-python) for kvserve's grammar tests.

For each case {"name", "grammar" (GBNF, root rule "root"), "document"} of the input JSON
file: tokenizes the document with the model's vocabulary (add_bos=False, special=False)
and walks its tokens through llama.cpp's grammar sampler; before each token and after
the last, records the ids the sampler leaves allowed (all tokens offered at logit 0).
Writes one JSON object per case: {"name", "ids": [...], "allowed": [[...], ...]}
(len(allowed) == len(ids) + 1).

Usage: llamacpp_grammar_masks.py --model M.gguf --cases CASES.json --out OUT.jsonl
"""
import argparse
import ctypes
import json
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="GGUF model file (its vocabulary is used)")
    parser.add_argument("--cases", required=True, help="JSON list of {name, grammar, document}")
    parser.add_argument("--out", required=True, help="output JSONL file")
    args = parser.parse_args()

    import llama_cpp  # imported late so --help works without the venv

    llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    n = llama_cpp.llama_vocab_n_tokens(vocab)
    data = (llama_cpp.llama_token_data * n)()
    with open(args.cases, encoding="utf-8") as f:
        cases = json.load(f)
    rows = []
    for case in cases:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, case["grammar"].encode(), b"root")
        if not sampler:
            print(f"llama.cpp refused the grammar of case {case['name']}", file=sys.stderr)
            return 1
        ids = llm.tokenize(case["document"].encode(), add_bos=False, special=False)
        allowed = []
        for i in range(len(ids) + 1):
            for t in range(n):
                data[t].id = t
                data[t].logit = 0.0
                data[t].p = 0.0
            arr = llama_cpp.llama_token_data_array(data=data, size=n, selected=-1, sorted=False)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(arr))
            allowed.append(sorted(data[t].id for t in range(arr.size) if data[t].logit != float("-inf")))
            if i < len(ids):
                llama_cpp.llama_sampler_accept(sampler, ids[i])
        llama_cpp.llama_sampler_free(sampler)
        rows.append({"name": case["name"], "ids": ids, "allowed": allowed})
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
