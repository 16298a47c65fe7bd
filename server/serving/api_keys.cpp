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

bool ApiKeys::accepts(const std::string& key) const {
  bool ok = false;
  for (const std::string& k : keys_) ok |= constant_time_equal(key, k);
  return ok;
}

bool ApiKeys::accepts_authorization(const std::string& header) const {
  const std::string prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0) return false;
  return accepts(header.substr(prefix.size()));
}

}  // namespace kvs
