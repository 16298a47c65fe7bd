#!/usr/bin/env bash
# The one command for a fresh machine: installs the Debian packages, fetches
# the default model, builds, and serves the model (OpenAI-compatible HTTP on
# 127.0.0.1:8000, gRPC on 127.0.0.1:50051). Arguments go to `kvserve serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/fetch-model.sh
scripts/build.sh
exec build/kvserve serve "$@"
