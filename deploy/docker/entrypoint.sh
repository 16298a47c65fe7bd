#!/usr/bin/env bash
# Container entry point for both images. Serves the model at $KVSERVE_MODEL
# (default: the README's default model in the models volume). When that file
# is missing and KVSERVE_FETCH_MODEL=1 (the default), it is fetched first by
# scripts/fetch-model.sh, the same script the README runs.
# Ports come from KVSERVE_PORT / KVSERVE_GRPC_PORT (so the health check and
# the orchestrator agree); other `kvserve serve` flags are the arguments.
set -euo pipefail
cd /opt/kvserve
default_model=models/SmolLM2-135M-Instruct.Q4_1.gguf
model=${KVSERVE_MODEL:-$default_model}
if [ ! -f "$model" ]; then
  if [ "$model" = "$default_model" ] && [ "${KVSERVE_FETCH_MODEL:-1}" = 1 ]; then
    scripts/fetch-model.sh
  else
    echo "kvserve: model file $model not found (mount it, or set KVSERVE_FETCH_MODEL=1 for the default model)" >&2
    exit 1
  fi
fi
if [ "${1:-}" = fetch-model ]; then exit 0; fi   # one-shot: only fill the models volume
exec bin/kvserve serve --host 0.0.0.0 --port "${KVSERVE_PORT:-8000}" \
  --grpc-port "${KVSERVE_GRPC_PORT:-50051}" --model "$model" "$@"
