#!/usr/bin/env python3
"""Tiny random models of the newer architectures, their transformers logits,
and their GGUF conversions by llama.cpp's own converter.

For each model of MODELS below this writes, under --out:
  NAME/        an HF-layout folder: config.json, generation_config.json,
               model.safetensors (float32), tokenizer.model (a 320-piece
               SentencePiece BPE with byte fallback trained here; the
               converter needs one) and
               tokenizer_config.json
  NAME/reference.safetensors
               input_ids_k (int32; lengths 7, 40, 160) and logits_k (float32,
               [len, vocab]) from transformers' float32 forward pass on the CPU
               (eager attention)
  NAME.gguf    llama.cpp's convert_hf_to_gguf.py of NAME/ (--outtype f32)
  versions.json  the versions of torch, transformers, sentencepiece and the
               llama.cpp converter used

Needs torch, transformers, safetensors and sentencepiece (run it in a
throwaway virtual environment, not the repository's .venv) and the converter:
llama-cpp-python's sdist vendors llama.cpp (vendor/llama.cpp/convert_hf_to_gguf.py
with its gguf-py), the same llama.cpp as the binary wheel in .venv.

Usage: tiny_arch_models.py --out tests/data/tiny_arch \
           --converter SDIST/vendor/llama.cpp/convert_hf_to_gguf.py --llama-cpp-version 0.3.36
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import safetensors.numpy
import sentencepiece
import torch
import transformers

VOCAB = 320
LENGTHS = (7, 40, 160)
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, max_position_embeddings=512, rms_norm_eps=1e-6,
              bos_token_id=1, eos_token_id=2, pad_token_id=0, hidden_act="silu")

# name -> (model_type, extra config, rope parameters)
MODELS = {
    # q/k RMSNorm per head, head_dim 32 (not hidden / heads), tied embeddings
    "tiny-qwen3": ("qwen3", dict(num_key_value_heads=2, head_dim=32, tie_word_embeddings=True,
                                 attention_bias=False, use_sliding_window=False),
                   {"rope_type": "default", "rope_theta": 1000000.0}),
    # every layer windowed to the last 16 positions
    "tiny-mistral": ("mistral", dict(num_key_value_heads=1, sliding_window=16, tie_word_embeddings=False),
                     {"rope_type": "default", "rope_theta": 10000.0}),
    # Llama 3.1 scaling; positions run past the original 64
    "tiny-llama3": ("llama", dict(num_key_value_heads=2, tie_word_embeddings=False),
                    {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    # YaRN: factor 4 over an original 64 positions (max_position_embeddings = 256 = 4 * 64)
    "tiny-llama-yarn": ("llama", dict(num_key_value_heads=2, tie_word_embeddings=False,
                                      max_position_embeddings=256),
                        {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                         "original_max_position_embeddings": 64}),
    # fused qkv_proj and gate_up_proj; Phi-3-mini's 2047-position window
    "tiny-phi3": ("phi3", dict(num_key_value_heads=2, tie_word_embeddings=False, sliding_window=2047,
                               original_max_position_embeddings=512),
                  {"rope_type": "default", "rope_theta": 10000.0}),
    # Qwen 3's usual long-context set-up: YaRN on NeoX RoPE (factor 4 over 64 positions)
    "tiny-qwen3-yarn": ("qwen3", dict(num_key_value_heads=2, head_dim=32, tie_word_embeddings=True,
                                      attention_bias=False, use_sliding_window=False, max_position_embeddings=256),
                        {"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
                         "original_max_position_embeddings": 64}),
}

TRAINING_TEXT = """The quick brown fox jumps over the lazy dog.
A key-value cache keeps the keys and values of every attention layer for the tokens seen so far.
Paged attention splits that cache into blocks of a fixed number of tokens.
Rotary position embeddings rotate pairs of query and key dimensions by an angle that grows with position.
Sliding-window attention lets a token see only the most recent tokens.
"""


def train_tokenizer(folder):
    # NOTE: relative names: the model records its training input's path.
    cwd = os.getcwd()
    os.chdir(folder)
    with open("text.txt", "w", encoding="utf-8") as f:
        for i in range(40):
            f.write(TRAINING_TEXT.replace("the", "the" if i % 2 else "The"))
    sentencepiece.SentencePieceTrainer.train(
        input="text.txt", model_prefix="tokenizer", vocab_size=VOCAB, model_type="bpe",
        byte_fallback=True, num_threads=1, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        character_coverage=1.0, normalization_rule_name="identity", minloglevel=2,
        # llama.cpp looks this one up in any model named phi3 (Phi-3's vocabulary has it)
        user_defined_symbols=["<|endoftext|>"])
    os.chdir(cwd)
    return os.path.join(folder, "tokenizer.model")


def randomize(model, seed):
    # Larger than HF's init (std 0.02) so logits spread; norms around 1 but not 1,
    # so a loader that mistakes w for 1 + w (or drops a norm) is caught.
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float32)
            param.copy_(1.0 + 0.2 * noise if "norm" in name else 0.08 * noise)


def build(name, model_type, extra, rope, out_dir, tokenizer_model, seed):
    config_kwargs = dict(COMMON)
    config_kwargs.update(extra)
    config_kwargs["rope_parameters"] = dict(rope)
    config = transformers.AutoConfig.for_model(model_type, **config_kwargs)
    config._attn_implementation = "eager"
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.eval()
    randomize(model, seed)
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copy(tokenizer_model, os.path.join(folder, "tokenizer.model"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                   "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f, indent=2)
    rng = np.random.default_rng(seed)
    tensors = {}
    for k, length in enumerate(LENGTHS):
        ids = rng.integers(3, VOCAB, size=length).astype(np.int32)
        with torch.no_grad():
            logits = model(torch.tensor(ids[None, :], dtype=torch.long)).logits[0].float().numpy()
        tensors[f"input_ids_{k}"] = ids
        tensors[f"logits_{k}"] = np.ascontiguousarray(logits, dtype=np.float32)
    safetensors.numpy.save_file(tensors, os.path.join(folder, "reference.safetensors"))
    return folder


def convert(converter, folder, outfile):
    subprocess.run([sys.executable, converter, folder, "--outfile", outfile, "--outtype", "f32"], check=True,
                   stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--converter", required=True, help="vendor/llama.cpp/convert_hf_to_gguf.py")
    parser.add_argument("--llama-cpp-version", required=True, help="the llama-cpp-python sdist it came from")
    parser.add_argument("--only", default="", help="comma-separated model names (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    names = [n for n in MODELS if not args.only or n in args.only.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer_model = train_tokenizer(scratch)
        for name in names:
            seed = list(MODELS).index(name) + 1  # the same with or without --only
            model_type, extra, rope = MODELS[name]
            folder = build(name, model_type, extra, rope, args.out, tokenizer_model, seed)
            convert(args.converter, folder, os.path.join(args.out, name + ".gguf"))
            print(name, "done")
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "sentencepiece": sentencepiece.__version__, "numpy": np.__version__,
                "llama_cpp_python_sdist": args.llama_cpp_version}
    with open(os.path.join(args.out, "versions.json"), "w", encoding="utf-8") as f:
        json.dump(versions, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
