#!/usr/bin/env python3
"""Writes a random-weight model shaped like Llama-3.2-1B in the Hugging Face
layout (config.json + model.safetensors), for benchmarks (issue 6):
16 layers, hidden 2048, 32 query / 8 KV heads, head dim 64, FFN 8192, vocab
128256, bf16, tied embeddings (no lm_head.weight), rope theta 500000 with
Llama 3 scaling (factor 32, low/high frequency factors 1/4, original context
8192), RMSNorm eps 1e-5. Weights ~ N(0, 0.02^2) (config.initializer_range),
norm weights 1. Deterministic: one numpy PCG64 generator seeded with --seed,
tensors drawn in file order, so a given seed always gives the same bytes.

Needs only numpy: the safetensors file is written by hand (8-byte little-endian
header length, JSON header padded with spaces to a multiple of 8, then the
raw little-endian tensor bytes, back to back in header order). The float32
draws are rounded to bf16 (round to nearest even). No tokenizer is written:
copy tokenizer.json / tokenizer_config.json from a Llama 3 model if the
engine needs one (the benchmarks feed token ids).

  .venv/bin/python scripts/make_random_llama_1b.py --out models/random-llama-3.2-1b
  # a tiny model of the same layout, for smoke tests:
  .venv/bin/python scripts/make_random_llama_1b.py --out /tmp/tiny --layers 2 --hidden 128 \
      --heads 4 --kv-heads 2 --ffn 256 --vocab 1000
A vocab too small for Llama 3's bos/eos ids (128000/128001) gets its last two ids instead.
Size at the default shape: 1,235,814,400 parameters, 2.47 GB.
"""
import argparse
import json
import os
import struct

import numpy as np

CHUNK = 1 << 24  # elements drawn at a time (64 MiB of float32)


def to_bf16(x):
    """float32 array -> uint16 bf16 bits, round to nearest even (no NaNs here)."""
    bits = x.view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def tensor_list(c):
    h, hd, kv, ffn = c["hidden_size"], c["head_dim"], c["num_key_value_heads"], c["intermediate_size"]
    q = c["num_attention_heads"] * hd
    out = [("model.embed_tokens.weight", [c["vocab_size"], h], "normal")]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", [h], "ones"),
            (p + "self_attn.q_proj.weight", [q, h], "normal"),
            (p + "self_attn.k_proj.weight", [kv * hd, h], "normal"),
            (p + "self_attn.v_proj.weight", [kv * hd, h], "normal"),
            (p + "self_attn.o_proj.weight", [h, q], "normal"),
            (p + "post_attention_layernorm.weight", [h], "ones"),
            (p + "mlp.gate_proj.weight", [ffn, h], "normal"),
            (p + "mlp.up_proj.weight", [ffn, h], "normal"),
            (p + "mlp.down_proj.weight", [h, ffn], "normal"),
        ]
    out.append(("model.norm.weight", [h], "ones"))
    return out


def bos_eos(a):
    """Llama 3's ids (128000, 128001); the last two ids when the vocab is too small for them."""
    return (128000, 128001) if a.vocab > 128001 else (a.vocab - 2, a.vocab - 1)


def config_for(a):
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos_eos(a)[0],
        "eos_token_id": bos_eos(a)[1],
        "head_dim": a.hidden // a.heads,
        "hidden_act": "silu",
        "hidden_size": a.hidden,
        "initializer_range": a.std,
        "intermediate_size": a.ffn,
        "max_position_embeddings": 131072,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": a.heads,
        "num_hidden_layers": a.layers,
        "num_key_value_heads": a.kv_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {
            "factor": 32.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 8192,
            "rope_type": "llama3",
        },
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0",
        "use_cache": True,
        "vocab_size": a.vocab,
    }


def write_safetensors(path, tensors, rng, std):
    header, offset = {}, 0
    for name, shape, _ in tensors:
        nbytes = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header["__metadata__"] = {"format": "pt", "generator": "scripts/make_random_llama_1b.py"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape, init in tensors:
            n = int(np.prod(shape))
            if init == "ones":
                f.write(np.full(n, 0x3F80, dtype="<u2").tobytes())  # bf16 1.0
                continue
            for start in range(0, n, CHUNK):
                draw = rng.standard_normal(min(CHUNK, n - start), dtype=np.float32)
                draw *= np.float32(std)
                f.write(to_bf16(draw).astype("<u2").tobytes())
    os.replace(tmp, path)
    return offset


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=20260601)
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--ffn", type=int, default=8192)
    ap.add_argument("--vocab", type=int, default=128256)
    a = ap.parse_args()
    if a.hidden % a.heads or a.heads % a.kv_heads:
        ap.error("hidden must be a multiple of heads, heads of kv-heads")
    os.makedirs(a.out, exist_ok=True)
    config = config_for(a)
    tensors = tensor_list(config)
    data_bytes = write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, np.random.default_rng(a.seed),
                                   a.std)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        bos, eos = bos_eos(a)
        json.dump({"bos_token_id": bos, "eos_token_id": eos, "do_sample": False}, f, indent=2)
        f.write("\n")
    params = data_bytes // 2
    print(f"wrote {a.out}: {len(tensors)} tensors, {params:,} parameters, {data_bytes / 1e9:.2f} GB (seed {a.seed})")


if __name__ == "__main__":
    main()
