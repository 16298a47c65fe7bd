#pragma once
// Test helpers shared by the loader tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "engine/errors.h"
#include "engine/loader/loaded_model.h"

namespace kvs::test {

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// Runs `action`; returns the ModelLoadError's message, "<no error>" if it did
// not throw, or "<other exception: ...>" for any other exception type.
template <typename Action>
std::string model_load_error(Action action) {
  try {
    action();
  } catch (const ModelLoadError& error) {
    return error.what();
  } catch (const std::exception& error) {
    return std::string("<other exception: ") + error.what() + ">";
  }
  return "<no error>";
}

inline std::string load_error(const std::string& path) {
  return model_load_error([&] { load_model(path); });
}

// A temporary directory removed (with its contents) when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) : path_(make_temp_dir_path(tag)) {}
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  static std::string make_temp_dir_path(const std::string& tag) {
    std::string pattern = "/tmp/kvs-loader-" + tag + "-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }
  std::string path_;
};

}  // namespace kvs::test
