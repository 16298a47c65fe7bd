#!/usr/bin/env python3
"""llama.cpp's logits for every position of fixed token-id sequences.

For each NAME.gguf in --models (tests/data/tiny_arch), reads the inputs
input_ids_k of NAME/reference.safetensors and writes --out/NAME.safetensors
with logits_k (float32, [len, vocab]): llama-cpp-python (the .venv's binary
wheel) evaluating the ids in one batch from position 0, with all logits kept,
an F32 KV cache, no flash attention and one thread.
"""
import argparse
import glob
import json
import os
import struct

import llama_cpp
import numpy as np

GGML_TYPE_F32 = 0


def read_safetensors(path):
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
        data = f.read()
    dtypes = {"F32": np.float32, "I32": np.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True, help="folder with NAME.gguf and NAME/reference.safetensors")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    paths = sorted(glob.glob(os.path.join(args.models, "*.gguf")))
    if not paths:
        raise SystemExit(f"no .gguf files in {args.models}")
    for path in paths:
        name = os.path.basename(path)[: -len(".gguf")]
        inputs = read_safetensors(os.path.join(args.models, name, "reference.safetensors"))
        longest = max(len(v) for k, v in inputs.items() if k.startswith("input_ids_"))
        llm = llama_cpp.Llama(model_path=path, n_ctx=longest, n_batch=longest, n_ubatch=longest, n_threads=1,
                              n_threads_batch=1, logits_all=True, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32,
                              flash_attn=False, verbose=False)
        out = {}
        for key in sorted(k for k in inputs if k.startswith("input_ids_")):
            ids = [int(i) for i in inputs[key]]
            llm.reset()
            llm.eval(ids)
            out["logits_" + key[len("input_ids_"):]] = np.array(llm.scores[: len(ids)], dtype=np.float32)
        write_safetensors(os.path.join(args.out, name + ".safetensors"), out)
        print(name, {k: v.shape for k, v in out.items()})
        del llm


if __name__ == "__main__":
    main()
