#!/usr/bin/env bash
# Aggregate decode throughput at 1, 4, 16, 64 concurrent greedy streams on the
# default model: kvserve's engine loop (continuous batching, paged KV) and
# llama.cpp (llama-cpp-python, one llama_context with one seq_id per stream)
# under the same load in the same run. Needs the build (target
# kvs_bench_serving) and .venv. BUILD=<build dir>, THREADS, STREAMS, PROMPT, DECODE.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
threads=${THREADS:-$(nproc)}
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
streams=${STREAMS:-1 4 16 64}
prompt=${PROMPT:-32}
decode=${DECODE:-64}
"$build/kvs_bench_serving" --model "$model" --threads "$threads" --prompt-tokens "$prompt" \
  --decode-tokens "$decode" --streams $streams
.venv/bin/python bench/serving_llamacpp.py --model "$model" --threads "$threads" --prompt-tokens "$prompt" \
  --decode-tokens "$decode" --streams $streams
