#pragma once
// Where tests find their data. Values come from CMake (tests/CMakeLists.txt);
// a relocated test binary (the GPU bundle, scripts/gpu-check.sh) overrides
// them with KVS_TEST_SOURCE_DIR, KVS_TEST_FIXTURES_DIR and
// KVS_TEST_DEFAULT_MODEL (set but empty: no default model on this machine).
#include <string>

namespace kvs::test {

std::string source_dir();       // the repository root
std::string fixtures_dir();     // ../shared/fixtures (Hugging Face references)
std::string default_model();    // models/SmolLM2-135M-Instruct.Q4_1.gguf
std::string binary_dir();       // the CMake build folder (kvserve binary lives here)
std::string venv_python();      // .venv/bin/python (llama-cpp-python reference)
// Small random HF-layout models written by scripts/gpu-check.sh build
// ($KVS_TEST_RANDOM_MODELS_DIR; "" when unset).
std::string random_models_dir();
// A fresh, empty temporary directory for this test (removed by the OS /tmp policy).
std::string make_temp_dir(const std::string& tag);
// Whole file as bytes; throws std::runtime_error if unreadable.
std::string read_file(const std::string& path);

}  // namespace kvs::test
