#!/usr/bin/env python3
"""gguf-py's dequantization of every tensor of some GGUF files, as checksums.

For each GGUF file given, reads every tensor with gguf-py's GGUFReader,
dequantizes it with gguf.quants.dequantize(tensor.data, tensor.tensor_type)
to float32 and writes OUT.json:

  {"checksum": "<definition>",
   "files": [{"path": "/abs/file.gguf",
              "tensors": [{"name": "blk.0.attn_q.weight", "type": "Q5_0", "ggml_type": 6,
                           "ne": [576, 576], "num_elements": 331776,
                           "checksum": "0x0123456789abcdef",
                           "first_bits": ["0x3c000000", ...], "first": [0.0078125, ...]}, ...]}]}

ne is GGML's order (ne[0] the contiguous dimension). first / first_bits: the
first 8 values in storage order, for diagnostics.

Checksum (tests/llamacpp/dequantize_vs_gguf_py_test.cpp computes the same):
with b[i] the IEEE-754 bit pattern of the i-th float32 value in storage
order (uint32, zero-extended to 64 bits),

    checksum = sum over i of b[i] * (2*i + 1)   modulo 2^64.

The weight 2*i+1 is odd, so flipping any one bit k of any one value changes
the sum by +-2^k*(2i+1), which is never 0 modulo 2^64 (k < 32): every
single-bit change is caught, and so is any change to one value (including
+0.0 vs -0.0 and NaN payloads). Computed in uint64 with wraparound, in
chunks to bound memory.

Usage: gguf_dequant_reference.py --out OUT.json FILE.gguf [FILE.gguf ...]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

CHUNK = 1 << 22
MASK = (1 << 64) - 1


def checksum(values):
    """sum_i bits(values[i]) * (2i+1) mod 2^64 over the flattened float32 array."""
    bits = np.ascontiguousarray(values, dtype=np.float32).reshape(-1).view(np.uint32)
    total = 0
    with np.errstate(over="ignore"):
        for start in range(0, bits.size, CHUNK):
            part = bits[start:start + CHUNK].astype(np.uint64)
            weights = np.arange(start, start + part.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
            total = (total + int(np.sum(part * weights, dtype=np.uint64))) & MASK
    return total


def describe(path):
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(path)
    tensors = []
    for tensor in reader.tensors:
        values = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
        num_elements = int(np.prod([int(n) for n in tensor.shape]))
        if values.size != num_elements:
            raise RuntimeError(f"{path}: {tensor.name}: gguf-py gave {values.size} values, expected {num_elements}")
        flat = values.reshape(-1)
        first = flat[:8]
        tensors.append({
            "name": tensor.name,
            "type": tensor.tensor_type.name,
            "ggml_type": int(tensor.tensor_type),
            "ne": [int(n) for n in tensor.shape],
            "num_elements": num_elements,
            "checksum": f"0x{checksum(flat):016x}",
            "first_bits": [f"0x{int(b):08x}" for b in first.view(np.uint32)],
            "first": [float(v) for v in first],
        })
    return {"path": os.path.abspath(path), "tensors": tensors}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output JSON file")
    parser.add_argument("files", nargs="+", help="GGUF files")
    args = parser.parse_args()

    files = []
    for path in args.files:
        start = time.monotonic()
        entry = describe(path)
        types = sorted({t["type"] for t in entry["tensors"]})
        print(f"{os.path.basename(path)}: {len(entry['tensors'])} tensors ({', '.join(types)}) "
              f"in {time.monotonic() - start:.1f} s")
        files.append(entry)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"checksum": "sum_i float32_bits(x_i) * (2*i + 1) mod 2^64, i in storage order",
                   "files": files}, f, indent=1)
    os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
