#include "engine/grammar/int_range_gbnf.h"

#include <algorithm>
#include <string>
#include <vector>

namespace kvs::grammar {
namespace {

std::string digit_class(char lo, char hi) {
  if (lo == hi) return std::string("\"") + lo + "\"";
  return std::string("[") + lo + "-" + hi + "]";
}

std::string any_digits(size_t n) {
  if (n == 0) return "";
  if (n == 1) return "[0-9]";
  return "[0-9]{" + std::to_string(n) + "}";
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// Digit strings of one length n between lo and hi (same length, lo <= hi).
std::string same_length(const std::string& lo, const std::string& hi) {
  const size_t n = lo.size();
  if (n == 0) return "";
  if (lo == hi) return "\"" + lo + "\"";
  if (lo[0] == hi[0]) return join({std::string("\"") + lo[0] + "\"", same_length(lo.substr(1), hi.substr(1))}, " ");
  const std::string lo_rest = lo.substr(1), hi_rest = hi.substr(1);
  const bool lo_full = lo_rest.find_first_not_of('0') == std::string::npos;
  const bool hi_full = hi_rest.find_first_not_of('9') == std::string::npos;
  std::vector<std::string> alts;
  char mid_lo = lo[0], mid_hi = hi[0];
  if (!lo_full) {
    alts.push_back(join({std::string("\"") + lo[0] + "\"", same_length(lo_rest, std::string(n - 1, '9'))}, " "));
    ++mid_lo;
  }
  std::string hi_alt;
  if (!hi_full) {
    hi_alt = join({std::string("\"") + hi[0] + "\"", same_length(std::string(n - 1, '0'), hi_rest)}, " ");
    --mid_hi;
  }
  if (mid_lo <= mid_hi) alts.push_back(join({digit_class(mid_lo, mid_hi), any_digits(n - 1)}, " "));
  if (!hi_alt.empty()) alts.push_back(hi_alt);
  if (alts.size() == 1) return alts[0];
  return "(" + join(alts, " | ") + ")";
}

// Non-negative integers in [lo, hi].
std::string non_negative(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  const std::string lo_s = std::to_string(lo), hi_s = std::to_string(hi);
  // Lengths whose whole range is in (10^(len-1) .. 10^len - 1, len >= 2)
  // merge into one "[1-9] [0-9]{a,b}".
  size_t full_from = 0, full_to = 0;
  auto flush_full = [&] {
    if (full_from == 0) return;
    const size_t a = full_from - 1, b = full_to - 1;
    alts.push_back("[1-9] [0-9]" + (a == b ? (a == 1 ? std::string() : "{" + std::to_string(a) + "}")
                                           : "{" + std::to_string(a) + "," + std::to_string(b) + "}"));
    full_from = full_to = 0;
  };
  for (size_t len = lo_s.size(); len <= hi_s.size(); ++len) {
    const std::string first = len == lo_s.size() ? lo_s : "1" + std::string(len - 1, '0');
    const std::string last = len == hi_s.size() ? hi_s : std::string(len, '9');
    if (len >= 2 && first == "1" + std::string(len - 1, '0') && last == std::string(len, '9')) {
      if (full_from == 0) full_from = len;
      full_to = len;
      continue;
    }
    flush_full();
    alts.push_back(same_length(first, last));
  }
  flush_full();
  if (alts.size() == 1) return alts[0];
  return "(" + join(alts, " | ") + ")";
}

}  // namespace

std::string int_range_gbnf(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  if (lo < 0) alts.push_back("\"-\" " + non_negative(std::max<int64_t>(1, hi < 0 ? -hi : 1), -lo));
  if (hi >= 0) alts.push_back(non_negative(std::max<int64_t>(0, lo), hi));
  if (alts.size() == 1) return alts[0];
  return "(" + join(alts, " | ") + ")";
}

}  // namespace kvs::grammar
