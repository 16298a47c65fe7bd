#!/usr/bin/env bash
# Creates .venv with the test-only Python tools (llama-cpp-python as the
# independent reference, the openai client for end-to-end tests). llama.cpp
# is compiled from source for this CPU (AVX-512 where there is, never AMX).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=scripts/requirements-test.txt
stamp=.venv/.requirements.sha256
# The stamp covers this script too: a change of build flags rebuilds.
want=$(cat "$requirements" "$0" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup-venv: .venv up to date"
  exit 0
fi
rm -rf .venv  # packages already there would not be rebuilt with new flags
python3 -m venv .venv
# Build only what the reference needs (no multimodal library, no examples).
export CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF"
# NOTE: on CPUs with AMX (Intel Sapphire Rapids and later) -march=native
# also turns on ggml's AMX matmul, which crashed (SIGSEGV in llama_decode) on
# such a VM, and rounds differently from the AVX-512 path kvserve is checked
# against. Explicit -mno-* flags win over -march=native whatever their order.
export CFLAGS="${CFLAGS:-} -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
export CXXFLAGS="${CXXFLAGS:-} -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
export CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
.venv/bin/python -m pip install --quiet --upgrade pip
# The wheel is built for this CPU, so a cached one (another CPU, other flags)
# is not reused.
.venv/bin/python -m pip install --quiet --no-cache-dir --no-binary llama-cpp-python -r "$requirements"
echo "$want" > "$stamp"
echo "setup-venv: .venv ready"
