#!/usr/bin/env python3
"""llama.cpp's GELU on every half-precision value, for kvserve's gelu_tanh_mul.

Builds a one-op ggml graph (ggml_gelu on an F32 tensor) with the libggml that
llama-cpp-python ships and computes it on the CPU backend, one thread. The
input holds every fp16 bit pattern 0..65535 converted to float32 (NaN and
infinities replaced by 0). ggml's CPU GELU (built with GGML_GELU_FP16, its
default) gives 0 for x <= -10, x for x >= 10 and otherwise looks x up in its
fp16 table, so the output is that table as the library computed it.

Writes OUT.json: {"llama_cpp_version": ..., "x_bits": [...], "y_bits": [...]},
the IEEE-754 bit patterns of input and output as unsigned integers.

Usage: ggml_gelu_reference.py --out OUT.json
"""
import argparse
import ctypes
import json
import os

import numpy as np


class InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


def library(lib_dir, name):
    return ctypes.CDLL(os.path.join(lib_dir, name), mode=ctypes.RTLD_GLOBAL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import llama_cpp  # its package folder holds the ggml libraries it was built with

    lib_dir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    base = library(lib_dir, "libggml-base.so")
    cpu = library(lib_dir, "libggml-cpu.so")
    base.ggml_init.restype = ctypes.c_void_p
    base.ggml_init.argtypes = [InitParams]
    base.ggml_new_tensor_1d.restype = ctypes.c_void_p
    base.ggml_new_tensor_1d.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64]
    base.ggml_gelu.restype = ctypes.c_void_p
    base.ggml_gelu.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    base.ggml_new_graph.restype = ctypes.c_void_p
    base.ggml_new_graph.argtypes = [ctypes.c_void_p]
    base.ggml_build_forward_expand.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    base.ggml_get_data.restype = ctypes.c_void_p
    base.ggml_get_data.argtypes = [ctypes.c_void_p]
    base.ggml_free.argtypes = [ctypes.c_void_p]
    cpu.ggml_graph_compute_with_ctx.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    cpu.ggml_cpu_init()

    n = 65536
    x = np.arange(n, dtype=np.uint16).view(np.float16).astype(np.float32)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    ctx = base.ggml_init(InitParams(64 * n + (1 << 20), None, False))
    a = base.ggml_new_tensor_1d(ctx, 0, n)  # GGML_TYPE_F32
    ctypes.memmove(base.ggml_get_data(a), x.ctypes.data, x.nbytes)
    y = base.ggml_gelu(ctx, a)
    graph = base.ggml_new_graph(ctx)
    base.ggml_build_forward_expand(graph, y)
    cpu.ggml_graph_compute_with_ctx(ctx, graph, 1)
    out = np.ctypeslib.as_array(ctypes.cast(base.ggml_get_data(y), ctypes.POINTER(ctypes.c_float)), shape=(n,)).copy()
    base.ggml_free(ctx)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"llama_cpp_version": llama_cpp.__version__, "x_bits": x.view(np.uint32).tolist(),
                   "y_bits": out.view(np.uint32).tolist()}, f)


if __name__ == "__main__":
    main()
