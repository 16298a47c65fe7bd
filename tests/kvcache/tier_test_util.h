#pragma once
// Helpers for the tier tests: deterministic entries and a temporary folder
// per test.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "kvcache/tiers/tier_entry.h"

namespace kvs::test {

// An entry whose tokens, parent and bytes follow from (hash, group): two
// writers of the same key write the same bytes.
inline TierEntryInfo tier_info(uint64_t hash, int32_t group = 0, int num_tokens = 4) {
  TierEntryInfo info;
  info.key = {hash, group};
  info.parent_hash = hash * 31 + 7;
  for (int i = 0; i < num_tokens; ++i) info.tokens.push_back(static_cast<int32_t>(hash * 13 + i + group));
  return info;
}

inline std::vector<uint8_t> tier_bytes(uint64_t hash, size_t num_bytes, int32_t group = 0) {
  std::vector<uint8_t> bytes(num_bytes);
  uint64_t state = hash * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(group) + 1;
  for (uint8_t& byte : bytes) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    byte = static_cast<uint8_t>(state >> 56);
  }
  return bytes;
}

// A fresh, empty folder, removed (with everything in it) on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kvs-tier-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code error;
    // NOTE: a test may have made subfolders read-only.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, error);
         !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_directory(error)) {
        std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, error);
      }
    }
    std::filesystem::remove_all(path_, error);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Collects warnings (thread-safe).
class WarningLog {
 public:
  TierWarning sink() {
    return [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.push_back(message);
    };
  }
  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace kvs::test
