#!/usr/bin/env python3
"""Checks kvserve's tokenizer.json exports with Hugging Face `tokenizers`.

For every sub-folder of --dir holding tokenizer.json and ours.jsonl (written by
the HfExport gtest: {"text", "ids", "decoded"} = kvserve's encode(text,
add_special=false, parse_special=false) and decode(ids)), loads tokenizer.json
with tokenizers.Tokenizer.from_file and requires, on every line,
encode(text, add_special_tokens=False) with special tokens not parsed to equal
`ids`, and decode(ids, skip_special_tokens=False) to equal `decoded` (which is
`text` up to the NFC normalization some vocabularies apply). Exits 77 when `tokenizers` is not installed (a failure in ctest: the package is in scripts/requirements-test.txt).

Usage: hf_tokenizers_check.py --dir EXPORT_ROOT
"""
import argparse
import json
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    try:
        from tokenizers import Tokenizer
        import tokenizers
    except ImportError:
        print("SKIP: the Python package `tokenizers` is not installed in this interpreter", file=sys.stderr)
        return 77

    failed = False
    names = sorted(n for n in os.listdir(args.dir) if os.path.isfile(os.path.join(args.dir, n, "tokenizer.json")))
    if not names:
        print(f"no exports under {args.dir}", file=sys.stderr)
        return 1
    for name in names:
        folder = os.path.join(args.dir, name)
        tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        tokenizer.encode_special_tokens = True  # kvserve ran with parse_special=false
        with open(os.path.join(folder, "ours.jsonl"), encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        ids_equal = decode_equal = 0
        shown = 0
        for row in rows:
            hf_ids = tokenizer.encode(row["text"], add_special_tokens=False).ids
            ids_equal += hf_ids == row["ids"]
            decode_equal += tokenizer.decode(row["ids"], skip_special_tokens=False) == row["decoded"]
            if hf_ids != row["ids"] and shown < 5:
                shown += 1
                print(f"  {name}: {row['text']!r}\n    kvserve {row['ids']}\n    HF      {hf_ids}")
        print(f"{name}: HF tokenizers {tokenizers.__version__} ids {ids_equal}/{len(rows)}, "
              f"decode {decode_equal}/{len(rows)}")
        failed = failed or ids_equal != len(rows) or decode_equal != len(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
