#!/usr/bin/env bash
# The full soak (10,000 requests) and a 60-second overload against the real
# server on loopback; prints one JSON summary line each (bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${KVSERVE_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
threads=${THREADS:-2}
.venv/bin/python tests/soak/soak.py soak --binary build/kvserve --model "$model" \
  --requests "${REQUESTS:-10000}" --threads "$threads"
.venv/bin/python tests/soak/soak.py overload --binary build/kvserve --model "$model" \
  --duration "${OVERLOAD_SECONDS:-60}" --threads "$threads"
