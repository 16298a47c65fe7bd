#!/usr/bin/env python3
"""Re-quantizes a GGUF model with llama.cpp's own quantizer (llama-cpp-python).

Writes OUT_DIR/<stem>.<TYPE>.gguf for each requested llama.cpp file type
(default: Q4_K_M Q5_K_M Q6_K Q3_K_M Q2_K Q5_0 Q5_1; a type written
<TYPE>-pure sets the quantizer's `pure` flag: every tensor gets the base type
where its rows allow, instead of llama.cpp's per-tensor mix), where <stem> is --stem
or else the input's file name without ".gguf" and a quantization suffix (e.g.
"SmolLM2-135M-Instruct" for "SmolLM2-135M-Instruct.Q4_1.gguf"). Each file is
made by llama_model_quantize with llama_model_quantize_default_params(),
allow_requantize=True (the input is already quantized: llama.cpp dequantizes
it and quantizes again), ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_<TYPE> and
--threads threads.

A file is written under a temporary name and renamed when complete, and
OUT_DIR/manifest.json records, per output, the input's SHA-256 and the
llama-cpp-python version; an output that exists and matches its manifest
entry is kept (not made again). Afterwards it prints, per file, the tensor
types gguf-py's GGUFReader finds in it with their counts. Tensors whose rows
are not a multiple of 256 (SmolLM2's hidden size is 576) cannot take a
K-quant, so llama.cpp falls back for them (llama-cpp-python 0.3.36: Q4_K ->
Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0); the listing shows what
each file holds. With the default model, only ffn_down (rows of 1536) can be
a K-quant, and no default-mix file has a Q2_K or IQ4_NL tensor: Q2_K-pure
(ffn_down in Q2_K) and IQ4_NL (the IQ4_NL file type) give files that do.

Usage: requantize.py --model IN.gguf --out-dir DIR [--stem NAME] [--types Q4_K_M Q6_K ...] [--threads 2]
"""
import argparse
import collections
import ctypes
import hashlib
import json
import os
import sys
import time

DEFAULT_TYPES = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q3_K_M", "Q2_K", "Q5_0", "Q5_1"]


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def output_stem(model_path):
    name = os.path.basename(model_path)
    if name.endswith(".gguf"):
        name = name[: -len(".gguf")]
    head, dot, tail = name.rpartition(".")
    # "SmolLM2-135M-Instruct.Q4_1" -> "SmolLM2-135M-Instruct"
    return head if dot and tail.upper().startswith(("Q", "F", "BF", "IQ")) else name


def tensor_types(path):
    from gguf import GGUFReader

    reader = GGUFReader(path)
    return dict(sorted(collections.Counter(t.tensor_type.name for t in reader.tensors).items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="input GGUF model")
    parser.add_argument("--out-dir", required=True, help="folder for the re-quantized files")
    parser.add_argument("--stem", help="output name before .<TYPE>.gguf")
    parser.add_argument("--types", nargs="+", default=DEFAULT_TYPES, help="llama.cpp file types (LLAMA_FTYPE_MOSTLY_*)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="keep llama.cpp's per-tensor log")
    args = parser.parse_args()

    import llama_cpp  # imported late so --help works without the venv

    log = []
    if not args.verbose:
        # llama.cpp logs a line per tensor; keep the test log to our summary
        # (and llama.cpp's last lines when a quantization fails).
        @llama_cpp.llama_log_callback
        def collect(level, text, user_data):
            log.append(text.decode("utf-8", "replace") if text else "")

        llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
        main.collect = collect  # keep the callback alive

    os.makedirs(args.out_dir, exist_ok=True)
    manifest_path = os.path.join(args.out_dir, "manifest.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    source_sha = sha256_of(args.model)
    stem = args.stem or output_stem(args.model)
    failures = 0
    for type_name in args.types:
        pure = type_name.endswith("-pure")
        base_type = type_name[: -len("-pure")] if pure else type_name
        ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + base_type, None)
        if ftype is None:
            print(f"{type_name}: llama_cpp has no LLAMA_FTYPE_MOSTLY_{base_type}", file=sys.stderr)
            failures += 1
            continue
        out_name = f"{stem}.{type_name}.gguf"
        out_path = os.path.join(args.out_dir, out_name)
        want = {"source": os.path.basename(args.model), "source_sha256": source_sha,
                "llama_cpp_version": llama_cpp.__version__, "ftype": base_type, "pure": pure}
        entry = manifest.get(out_name, {})
        if os.path.exists(out_path) and all(entry.get(k) == v for k, v in want.items()):
            status = "kept"
            print(f"{type_name}: {out_path} present, kept")
        else:
            params = llama_cpp.llama_model_quantize_default_params()
            params.allow_requantize = True
            params.ftype = ftype
            params.nthread = args.threads
            params.pure = pure
            tmp_path = out_path + ".tmp"
            start = time.monotonic()
            log.clear()
            rc = llama_cpp.llama_model_quantize(args.model.encode("utf-8"), tmp_path.encode("utf-8"),
                                                ctypes.byref(params))
            if rc != 0:
                print("".join(log[-20:]), file=sys.stderr)
                print(f"{type_name}: llama_model_quantize failed ({rc})", file=sys.stderr)
                if os.path.exists(tmp_path):
                    os.remove(tmp_path)
                failures += 1
                continue
            os.replace(tmp_path, out_path)
            status = "written"
            print(f"{type_name}: wrote {out_path} in {time.monotonic() - start:.1f} s")
        # GGUFReader parses the whole vocabulary (about 2 s a file): reuse what
        # the manifest says of a kept file.
        types = entry.get("tensor_types") if status == "kept" else None
        entry = dict(want, tensor_types=types or tensor_types(out_path))
        manifest[out_name] = entry
        with open(manifest_path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
        os.replace(manifest_path + ".tmp", manifest_path)
        print(f"  tensor types: {', '.join(f'{k} x{v}' for k, v in entry['tensor_types'].items())}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
