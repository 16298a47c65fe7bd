#!/usr/bin/env bash
# Aggregate decode throughput at 1, 4, 16 and 64 concurrent greedy streams:
# kvserve's engine loop (continuous batching, paged KV) against llama.cpp
# (llama-cpp-python, one llama_context with one seq_id per stream) under the
# same load in the same run, on each model in MODELS; then the ratio table
# (bench/ratio_table.py). Needs the build (target kvs_bench_serving) and .venv.
#   BUILD=<build dir> THREADS MODELS STREAMS PROMPT DECODE PYTHON (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
threads=${THREADS:-$(nproc)}
models=${MODELS:-models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf}
streams=${STREAMS:-1 4 16 64}
prompt=${PROMPT:-32}
decode=${DECODE:-64}
python=${PYTHON:-.venv/bin/python}
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
echo "# $(lscpu | sed -n 's/^Model name: *//p'); $(grep -o -w -m1 avx512f /proc/cpuinfo || echo 'no avx512f'); threads $threads; $(date -u +%F)"
for model in $models; do
  [ -f "$model" ] || { echo "skipping $model (not fetched: scripts/fetch-model.sh)"; continue; }
  "$build/kvs_bench_serving" --model "$model" --threads "$threads" --prompt-tokens "$prompt" \
    --decode-tokens "$decode" --streams $streams | sed "s|^|$model\t|" | tee -a "$lines"
  "$python" bench/serving_llamacpp.py --model "$model" --threads "$threads" --prompt-tokens "$prompt" \
    --decode-tokens "$decode" --streams $streams | sed "s|^|$model\t|" | tee -a "$lines"
done
python3 bench/ratio_table.py < "$lines" || true
