#pragma once
// Where tests find their data. Values come from CMake (tests/CMakeLists.txt).
#include <string>

namespace kvs::test {

std::string source_dir();       // the repository root
std::string fixtures_dir();     // ../shared/fixtures (Hugging Face references)
std::string default_model();    // models/SmolLM2-135M-Instruct.Q4_1.gguf
std::string binary_dir();       // the CMake build folder (kvserve binary lives here)
std::string venv_python();      // .venv/bin/python (llama-cpp-python reference)
// A fresh, empty temporary directory for this test (removed by the OS /tmp policy).
std::string make_temp_dir(const std::string& tag);
// Whole file as bytes; throws std::runtime_error if unreadable.
std::string read_file(const std::string& path);

}  // namespace kvs::test
