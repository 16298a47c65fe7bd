#!/usr/bin/env bash
# Creates .venv with the test-only Python tools (llama-cpp-python as the
# independent reference, the openai client for end-to-end tests). llama.cpp
# is compiled from source for this CPU; pip caches the wheel afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=scripts/requirements-test.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup-venv: .venv up to date"
  exit 0
fi
python3 -m venv .venv
# Build only what the reference needs (no multimodal library, no examples).
export CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r "$requirements"
echo "$want" > "$stamp"
echo "setup-venv: .venv ready"
