#!/usr/bin/env python3
"""Writes a vocabulary-only GGUF with a llama.cpp "llama" (SentencePiece) tokenizer
built from a Hugging Face SentencePiece-BPE tokenizer.json (e.g. the llama2 fixture).

tokenizer.ggml.scores: 0 for special and byte tokens, -id for ordinary pieces
(SentencePiece BPE orders pieces by merge priority). No tensors; just enough
llama.* hyper-parameters for llama.cpp to open it with vocab_only=True.
Used to check kvserve's GGUF SentencePiece path against llama.cpp.

Usage: make_spm_gguf.py TOKENIZER_JSON OUT.gguf
"""
import json
import os
import struct
import sys

# GGUF value types
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9


def gguf_string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key: str, vtype: int, payload: bytes) -> bytes:
    return gguf_string(key) + struct.pack("<I", vtype) + payload


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        tj = json.load(f)
    vocab = tj["model"]["vocab"]
    size = max(vocab.values()) + 1
    tokens = [""] * size
    for text, i in vocab.items():
        tokens[i] = text
    special = {t["id"] for t in tj.get("added_tokens", []) if t.get("special")}
    unk = tj["model"].get("unk_token")
    types, scores = [], []
    for i, text in enumerate(tokens):
        if text == unk:
            types.append(2)  # UNKNOWN
        elif i in special:
            types.append(3)  # CONTROL
        elif len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            types.append(6)  # BYTE
        else:
            types.append(1)  # NORMAL
        scores.append(0.0 if types[-1] != 1 else -float(i))

    kvs = [
        kv("general.architecture", STRING, gguf_string("llama")),
        kv("general.name", STRING, gguf_string("kvserve-spm-vocab")),
        kv("llama.context_length", U32, struct.pack("<I", 4096)),
        kv("llama.embedding_length", U32, struct.pack("<I", 64)),
        kv("llama.block_count", U32, struct.pack("<I", 1)),
        kv("llama.feed_forward_length", U32, struct.pack("<I", 128)),
        kv("llama.attention.head_count", U32, struct.pack("<I", 4)),
        kv("llama.attention.layer_norm_rms_epsilon", F32, struct.pack("<f", 1e-5)),
        kv("tokenizer.ggml.model", STRING, gguf_string("llama")),
        kv("tokenizer.ggml.tokens", ARRAY,
           struct.pack("<IQ", STRING, size) + b"".join(gguf_string(t) for t in tokens)),
        kv("tokenizer.ggml.scores", ARRAY, struct.pack("<IQ", F32, size) + struct.pack(f"<{size}f", *scores)),
        kv("tokenizer.ggml.token_type", ARRAY, struct.pack("<IQ", I32, size) + struct.pack(f"<{size}i", *types)),
        kv("tokenizer.ggml.bos_token_id", U32, struct.pack("<I", 1)),
        kv("tokenizer.ggml.eos_token_id", U32, struct.pack("<I", 2)),
        kv("tokenizer.ggml.unknown_token_id", U32, struct.pack("<I", 0)),
    ]
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)
    data += b"\0" * (-len(data) % 32)
    os.makedirs(os.path.dirname(os.path.abspath(sys.argv[2])), exist_ok=True)
    with open(sys.argv[2], "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
