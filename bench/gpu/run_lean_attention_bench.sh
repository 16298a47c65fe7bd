#!/usr/bin/env bash
# Issue 7, acceptance 2, in one run on a GPU machine: builds the benchmark,
# measures LeanAttention vs our split-K kernel vs copy bandwidth
# (kvs_bench_lean_attention), then torch SDPA on the same shapes
# (sdpa_peer.py; needs PyTorch with CUDA), and prints one markdown table.
# Results (JSON) go to $OUT_DIR (default build/bench_lean). Extra arguments go
# to both benchmarks (e.g. --only B1_L32k, --iters 50, --no-flush, --f16);
# sdpa_peer.py accepts and ignores the C++ benchmark's own options (--splits,
# --check-seqs). The C++ benchmark checks its outputs against the CPU
# reference first and exits non-zero (stopping this script) on a mismatch.
#   bench/gpu/run_lean_attention_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
OUT_DIR=${OUT_DIR:-build/bench_lean}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT_DIR"
# BENCH_BIN_DIR: a folder with a prebuilt kvs_bench_lean_attention (e.g. the GPU bundle of
# scripts/gpu-check.sh); then nothing is built. Default: build/, built if missing.
if [ -n "${BENCH_BIN_DIR:-}" ]; then
  bin_dir=$BENCH_BIN_DIR
  [ -x "$bin_dir/kvs_bench_lean_attention" ] || { echo "no $bin_dir/kvs_bench_lean_attention" >&2; exit 1; }
else
  bin_dir=build
  if [ ! -x build/kvs_bench_lean_attention ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >"$OUT_DIR/configure.log" 2>&1 || { cat "$OUT_DIR/configure.log"; exit 1; }
    cmake --build build -j "$(nproc)" --target kvs_bench_lean_attention
  fi
fi
"$bin_dir/kvs_bench_lean_attention" --shapes bench/gpu/lean_attention_shapes.json --out "$OUT_DIR/lean.json" "$@"
"$PYTHON" bench/gpu/sdpa_peer.py --shapes bench/gpu/lean_attention_shapes.json --out "$OUT_DIR/sdpa.json" "$@"
"$PYTHON" bench/gpu/lean_attention_table.py "$OUT_DIR/lean.json" "$OUT_DIR/sdpa.json" | tee "$OUT_DIR/table.md"
