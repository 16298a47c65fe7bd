#!/usr/bin/env bash
# Runs every test: installs what is missing, fetches the model, builds, sets
# up the reference tools (.venv), then ctest. GPU tests skip without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/fetch-model.sh
scripts/fetch-model.sh gemma3-270m  # the second real model (tests against llama.cpp)
scripts/setup-venv.sh
# NOTE: ctest runs one test per core, and each test's OpenMP team wants every
# core too; spin-waiting threads then starve each other (a 30 s test took
# 130 s). Passive waiting costs a single test little and removes that.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# --- sanitizers (issue 11; begin) ---------------------------------------------
# KVS_TEST_SANITIZE picks the build the suite runs on: 0 = Release (build/);
# 1 or asan-ubsan = the whole suite under ASan + UBSan (build-asan);
# asan-ubsan-ci = the same with the quantized dot-product loops left
# uninstrumented (build-asan-ci; 3x faster model tests, bench/RESULTS.md);
# tsan = the TSan subset (build-tsan). Each is a CMake preset: sanitizer
# options and suppressions come from its test preset (CMakePresets.json,
# tests/sanitizers/). In CI (CI set) the default is asan-ubsan-ci: CI runs
# the whole suite under ASan + UBSan, not the Release build.
sanitize=${KVS_TEST_SANITIZE:-${CI:+asan-ubsan-ci}}
case "${sanitize:-0}" in
  0) scripts/build.sh
     (cd build && ctest --output-on-failure -j "$(nproc)" "$@") ;;
  1|asan-ubsan|asan-ubsan-ci|tsan)
     preset=$sanitize; [ "$preset" = 1 ] && preset=asan-ubsan
     if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
       export PATH=/usr/local/cuda/bin:$PATH
     fi
     cmake --preset "$preset" >"build-$preset-configure.log" 2>&1 || { cat "build-$preset-configure.log"; exit 1; }
     cmake --build --preset "$preset" -j "$(nproc)"
     ctest --preset "$preset" -j "$(nproc)" "$@" ;;
  *) echo "test.sh: KVS_TEST_SANITIZE must be 0, 1, asan-ubsan, asan-ubsan-ci or tsan" >&2; exit 2 ;;
esac
# --- sanitizers (issue 11; end) -----------------------------------------------

# --- fuzzing (issue 11; begin) ----------------------------------------------
# A short libFuzzer run of every harness (scripts/fuzz.sh: clang build in
# build-fuzz, then 5 s per harness; it fails on any crash, leak or timeout).
# Only in CI (CI set, as CI runners do) or when asked: KVS_TEST_FUZZ=1;
# KVS_TEST_FUZZ=0 skips it even in CI. The first time it builds the
# sanitized libraries (about 7 CPU-minutes); the runs take about a minute.
if [ "${KVS_TEST_FUZZ:-${CI:+1}}" = 1 ]; then
  KVS_FUZZ_BUILD_JOBS=${KVS_FUZZ_BUILD_JOBS:-$(nproc)} scripts/fuzz.sh --seconds "${KVS_TEST_FUZZ_SECONDS:-5}"
fi
# --- fuzzing (issue 11; end) ------------------------------------------------
