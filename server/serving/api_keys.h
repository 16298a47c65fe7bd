#pragma once
// The set of accepted API keys. Immutable after construction; thread-safe.
#include <string>
#include <vector>

namespace kvs {

class ApiKeys {
 public:
  explicit ApiKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  bool enabled() const { return !keys_.empty(); }
  // Constant-time in the key's content (compares against every key, whole
  // length, no early exit on the first differing byte).
  bool accepts(const std::string& key) const;
  // "Bearer KEY" -> accepts(KEY).
  bool accepts_authorization(const std::string& header) const;

 private:
  std::vector<std::string> keys_;
};

}  // namespace kvs
