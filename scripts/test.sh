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
# NOTE: ctest runs one test per core, and each test's OpenMP team wants every
# core too; spin-waiting threads then starve each other (a 30 s test took
# 130 s). Passive waiting costs a single test little and removes that.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ctest --output-on-failure -j "$(nproc)" "$@"
