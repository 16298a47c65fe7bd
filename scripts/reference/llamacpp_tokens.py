#!/usr/bin/env python3
"""Reference token ids from llama.cpp (llama-cpp-python) for kvserve's tokenizer tests.

Loads only the vocabulary of a GGUF model and tokenizes the `text` field of every
line of the given JSONL files twice: `ids` with add_bos=False, special=False
(plain text, no special-token parsing) and `ids_special` with add_bos=True,
special=True (the model's BOS rule, special tokens parsed). Writes one JSON
object per input line, in input order: {"text": ..., "ids": [...], "ids_special": [...]}.

Usage: llamacpp_tokens.py --model M.gguf --out OUT.jsonl IN1.jsonl [IN2.jsonl ...]
"""
import argparse
import json
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="GGUF model file")
    parser.add_argument("--out", required=True, help="output JSONL file")
    parser.add_argument("inputs", nargs="+", help="JSONL files with a `text` field per line")
    args = parser.parse_args()

    import llama_cpp  # imported late so --help works without the venv

    llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    rows = []
    for path in args.inputs:
        with open(path, encoding="utf-8") as f:
            for line_number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                text = json.loads(line)["text"]
                data = text.encode("utf-8")
                ids = llm.tokenize(data, add_bos=False, special=False)
                ids_special = llm.tokenize(data, add_bos=True, special=True)
                rows.append({"text": text, "ids": list(ids), "ids_special": list(ids_special)})

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {len(rows)} lines to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
