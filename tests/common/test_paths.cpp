#include "tests/common/test_paths.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace kvs::test {

namespace {

std::string from_env(const char* name, const char* built_in) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : built_in;
}

}  // namespace

std::string source_dir() { return from_env("KVS_TEST_SOURCE_DIR", KVS_SOURCE_DIR); }
std::string fixtures_dir() { return from_env("KVS_TEST_FIXTURES_DIR", KVS_FIXTURES_DIR); }
std::string default_model() { return from_env("KVS_TEST_DEFAULT_MODEL", KVS_DEFAULT_MODEL); }
std::string random_models_dir() { return from_env("KVS_TEST_RANDOM_MODELS_DIR", ""); }
std::string binary_dir() { return KVS_BINARY_DIR; }
std::string venv_python() { return KVS_VENV_PYTHON; }

std::string make_temp_dir(const std::string& tag) {
  std::string pattern = "/tmp/kvs-test-" + tag + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  return pattern;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace kvs::test
