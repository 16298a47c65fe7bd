#!/usr/bin/env bash
# Runs every test: installs what is missing, fetches the model, builds, sets
# up the reference tools (.venv), then ctest. GPU tests skip without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/fetch-model.sh
scripts/setup-venv.sh
scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
