#include "server/serving/api_keys.h"

namespace kvs {
namespace {

bool constant_time_equal(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = b.size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

}  // namespace

std::optional<size_t> ApiKeys::find(const std::string& key) const {
  // Branch-free selection: the work does not depend on which key matches.
  size_t found = 0;
  size_t matched = 0;  // all ones once a key matched
  for (size_t i = 0; i < keys_.size(); ++i) {
    const size_t equal = static_cast<size_t>(0) - static_cast<size_t>(constant_time_equal(key, keys_[i]));
    found |= i & equal & ~matched;
    matched |= equal;
  }
  if (matched == 0) return std::nullopt;
  return found;
}

std::optional<size_t> ApiKeys::find_authorization(const std::string& header) const {
  const std::string prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return find(header.substr(prefix.size()));
}

}  // namespace kvs
