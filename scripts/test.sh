#!/usr/bin/env bash
# Runs every test: installs what is missing, fetches the model, builds, sets
# up the reference tools (.venv), then ctest. GPU tests skip without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/fetch-model.sh
scripts/setup-venv.sh
# NOTE: ctest runs one test per core, and each test's OpenMP team wants every
# core too; spin-waiting threads then starve each other (a 30 s test took
# 130 s). Passive waiting costs a single test little and removes that.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# --- sanitizers (issue 11; begin) ---------------------------------------------
# With KVS_TEST_SANITIZE=1 the whole suite runs under ASan + UBSan instead of
# on the Release build: CMake preset asan-ubsan, build folder build-asan,
# sanitizer options and suppressions from the test preset (CMakePresets.json,
# tests/sanitizers/). Not yet the CI default: on 2 cores the model-level tests
# run 7-10x slower instrumented, which does not fit CI's time (bench/RESULTS.md).
if [ "${KVS_TEST_SANITIZE:-0}" = 1 ]; then
  cmake --preset asan-ubsan >build-asan-configure.log 2>&1 || { cat build-asan-configure.log; exit 1; }
  cmake --build --preset asan-ubsan -j "$(nproc)"
  ctest --preset asan-ubsan -j "$(nproc)" "$@"
else
  scripts/build.sh
  (cd build && ctest --output-on-failure -j "$(nproc)" "$@")
fi
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
