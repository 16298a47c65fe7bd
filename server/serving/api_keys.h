#pragma once
// The set of accepted API keys. Immutable after construction; thread-safe.
// Keys are secrets: nothing here logs them, and callers must not either
// (errors say "invalid or missing API key", never which).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace kvs {

class ApiKeys {
 public:
  explicit ApiKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  bool enabled() const { return !keys_.empty(); }
  // The index of the accepted key equal to `key` (the first, if listed
  // twice), or nullopt. Constant-time in the key's content: compares against
  // every key, whole length, no early exit on the first differing byte.
  std::optional<size_t> find(const std::string& key) const;
  // "Bearer KEY" -> find(KEY); anything else -> nullopt.
  std::optional<size_t> find_authorization(const std::string& header) const;
  bool accepts(const std::string& key) const { return find(key).has_value(); }
  bool accepts_authorization(const std::string& header) const { return find_authorization(header).has_value(); }

 private:
  std::vector<std::string> keys_;
};

}  // namespace kvs
