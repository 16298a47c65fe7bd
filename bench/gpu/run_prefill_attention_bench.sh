#!/usr/bin/env bash
# Issue 6, acceptance 3, in one run on a GPU machine: builds the benchmark,
# times our varlen prefill attention (kvs_bench_prefill_attention), then torch
# SDPA padded and jagged on the same lengths (prefill_sdpa_peer.py; needs
# PyTorch with CUDA), and prints one markdown table. Results (JSON) go to
# $OUT_DIR (default build/bench_prefill). Extra arguments go to both
# (e.g. --only d64_h32_kv8, --iters 50).
#   bench/gpu/run_prefill_attention_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
OUT_DIR=${OUT_DIR:-build/bench_prefill}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT_DIR"
# BENCH_BIN_DIR: a folder with a prebuilt kvs_bench_prefill_attention (e.g. the GPU bundle of
# scripts/gpu-check.sh); then nothing is built. Default: build/, built if missing.
if [ -n "${BENCH_BIN_DIR:-}" ]; then
  bin_dir=$BENCH_BIN_DIR
  [ -x "$bin_dir/kvs_bench_prefill_attention" ] || { echo "no $bin_dir/kvs_bench_prefill_attention" >&2; exit 1; }
else
  bin_dir=build
  if [ ! -x build/kvs_bench_prefill_attention ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >"$OUT_DIR/configure.log" 2>&1 || { cat "$OUT_DIR/configure.log"; exit 1; }
    cmake --build build -j "$(nproc)" --target kvs_bench_prefill_attention
  fi
fi
"$bin_dir/kvs_bench_prefill_attention" --shapes bench/gpu/prefill_attention_shapes.json --out "$OUT_DIR/prefill.json" "$@"
"$PYTHON" bench/gpu/prefill_sdpa_peer.py --shapes bench/gpu/prefill_attention_shapes.json \
  --out "$OUT_DIR/sdpa.json" --ours "$OUT_DIR/prefill.json" "$@" | tee "$OUT_DIR/table.md"
