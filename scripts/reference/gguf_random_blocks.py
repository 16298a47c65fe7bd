#!/usr/bin/env python3
"""Random quantized blocks and gguf-py's dequantization of them.

For each quantized GGML type kvserve reads (Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K
Q3_K Q4_K Q5_K Q6_K IQ4_NL), makes --blocks random blocks: random bytes,
then every fp16 field of the block (the scale d, and the min m / dmin where
the type has one) overwritten with a finite fp16 value drawn from a mix of
+0 and -0, subnormals, typical weight scales (|x| in 1e-5..1) of either
sign, and any finite bit pattern (up to +-65504). Block 0 has all fp16
fields +0 and block 1 all -0 ... negative; the rest are drawn as above.
Each type's blocks are dequantized with gguf.quants.dequantize (gguf-py,
the reference) to float32. Deterministic for a given --seed.

Writes OUT.json:
  {"seed": S, "types": [{"type": "Q4_K", "ggml_type": 12, "block_elements": 256,
                         "block_bytes": 144, "num_blocks": N,
                         "blocks_hex": "<N*block_bytes bytes, hex>",
                         "expected_hex": "<N*block_elements float32, little-endian, hex>"}, ...]}
tests/llamacpp/dequantize_vs_gguf_py_test.cpp checks kvserve's dequantize_row
against it bit for bit.

Usage: gguf_random_blocks.py --out OUT.json [--blocks 128] [--seed 1234]
"""
import argparse
import json
import os
import sys

import numpy as np

# Byte offsets of the fp16 fields inside one block (ggml-common.h's block_* layouts).
FP16_FIELDS = {
    "Q8_0": (34, [0]),          # d, qs[32]
    "Q4_0": (18, [0]),          # d, qs[16]
    "Q4_1": (20, [0, 2]),       # d, m, qs[16]
    "Q5_0": (22, [0]),          # d, qh[4], qs[16]
    "Q5_1": (24, [0, 2]),       # d, m, qh[4], qs[16]
    "Q2_K": (84, [80, 82]),     # scales[16], qs[64], d, dmin
    "Q3_K": (110, [108]),       # hmask[32], qs[64], scales[12], d
    "Q4_K": (144, [0, 2]),      # d, dmin, scales[12], qs[128]
    "Q5_K": (176, [0, 2]),      # d, dmin, scales[12], qh[32], qs[128]
    "Q6_K": (210, [208]),       # ql[128], qh[64], scales[16] (int8), d
    "IQ4_NL": (18, [0]),        # d, qs[16]
}


def random_fp16_bits(rng, count):
    """count finite fp16 bit patterns: zeros, subnormals, typical scales, any finite value."""
    kind = rng.integers(0, 8, size=count)
    sign = rng.integers(0, 2, size=count).astype(np.uint16) << np.uint16(15)
    # typical scales: |x| in 1e-5 .. 1
    typical = (10.0 ** rng.uniform(-5.0, 0.0, size=count)).astype(np.float16).view(np.uint16)
    subnormal = rng.integers(1, 1 << 10, size=count).astype(np.uint16)
    exponent = rng.integers(0, 31, size=count).astype(np.uint16) << np.uint16(10)  # 31 = inf/NaN, left out
    anything = exponent | rng.integers(0, 1 << 10, size=count).astype(np.uint16)
    magnitude = np.where(kind == 0, np.uint16(0),
                         np.where(kind == 1, subnormal, np.where(kind <= 5, typical, anything)))
    return (magnitude.astype(np.uint16) | sign).astype(np.uint16)


def make_blocks(rng, block_bytes, offsets, num_blocks):
    blocks = rng.integers(0, 256, size=(num_blocks, block_bytes), dtype=np.uint8)
    for offset in offsets:
        bits = random_fp16_bits(rng, num_blocks)
        bits[0] = 0x0000  # +0
        bits[1] = 0x8000  # -0
        if num_blocks > 2:
            bits[2] = np.float16(-0.0125).view(np.uint16)  # a plain negative scale
        blocks[:, offset:offset + 2] = bits.astype("<u2").view(np.uint8).reshape(num_blocks, 2)
    return blocks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output JSON file")
    parser.add_argument("--blocks", type=int, default=128, help="blocks per type")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import dequantize

    rng = np.random.default_rng(args.seed)
    types = []
    for name, (block_bytes, offsets) in FP16_FIELDS.items():
        qtype = GGMLQuantizationType[name]
        block_elements, type_size = GGML_QUANT_SIZES[qtype]
        if type_size != block_bytes:
            raise RuntimeError(f"{name}: gguf-py says {type_size} bytes per block, this script {block_bytes}")
        blocks = make_blocks(rng, block_bytes, offsets, args.blocks)
        values = np.asarray(dequantize(blocks, qtype), dtype=np.float32).reshape(-1)
        if values.size != args.blocks * block_elements:
            raise RuntimeError(f"{name}: gguf-py gave {values.size} values")
        if not np.all(np.isfinite(values)):
            raise RuntimeError(f"{name}: gguf-py gave non-finite values from finite scales")
        types.append({
            "type": name,
            "ggml_type": int(qtype),
            "block_elements": int(block_elements),
            "block_bytes": int(block_bytes),
            "num_blocks": args.blocks,
            "blocks_hex": blocks.tobytes().hex(),
            "expected_hex": values.astype("<f4").tobytes().hex(),
        })
        print(f"{name}: {args.blocks} blocks, {values.size} values, "
              f"{int(np.sum(values == 0))} zeros ({int(np.sum(np.signbit(values) & (values == 0)))} negative)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"seed": args.seed, "types": types}, f)
    os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
