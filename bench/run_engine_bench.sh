#!/usr/bin/env bash
# Prefill and single-stream decode throughput of the default model on this
# machine's CPU: kvserve and llama.cpp (llama-cpp-python), same threads, same
# workload, one run. Needs `scripts/test.sh` (or build + setup-venv) first.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-$(nproc)}
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
for n in ${PROMPTS:-128 512}; do
  build/kvs_bench_engine --model "$model" --prompt-tokens "$n" --decode-tokens 128 --threads "$threads" --runs 3
  .venv/bin/python bench/llamacpp_bench.py --model "$model" --prompt-tokens "$n" --decode-tokens 128 --threads "$threads" --runs 3
done
