#!/usr/bin/env bash
# Prefill and single-stream decode throughput, kvserve against llama.cpp
# (llama-cpp-python, built for this CPU) with the same threads and workload in
# one run, on each model in MODELS, for each prompt length in PROMPTS; then
# the ratio table (bench/ratio_table.py). Needs the build and .venv
# (scripts/test.sh, or build + scripts/setup-venv.sh).
#   BUILD=<build dir> THREADS=<n> MODELS="a.gguf b.gguf" PROMPTS="128 512 2048" DECODE=128 RUNS=3
#   PYTHON=<python with llama-cpp-python> (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
threads=${THREADS:-$(nproc)}
models=${MODELS:-models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf}
decode=${DECODE:-128}
runs=${RUNS:-3}
python=${PYTHON:-.venv/bin/python}
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
echo "# $(lscpu | sed -n 's/^Model name: *//p'); $(grep -o -w -m1 avx512f /proc/cpuinfo || echo 'no avx512f'); threads $threads; $(date -u +%F)"
for model in $models; do
  [ -f "$model" ] || { echo "skipping $model (not fetched: scripts/fetch-model.sh)"; continue; }
  for n in ${PROMPTS:-128 512 2048}; do
    "$build/kvs_bench_engine" --model "$model" --prompt-tokens "$n" --decode-tokens "$decode" --threads "$threads" \
      --runs "$runs" | sed "s|^|$model\t|" | tee -a "$lines"
    "$python" bench/llamacpp_bench.py --model "$model" --prompt-tokens "$n" --decode-tokens "$decode" \
      --threads "$threads" --runs "$runs" | sed "s|^|$model\t|" | tee -a "$lines"
  done
done
python3 bench/ratio_table.py < "$lines" || true
