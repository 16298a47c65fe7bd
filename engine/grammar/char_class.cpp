// CharClass (grammar_ir.h): normalized code point ranges.
#include <algorithm>

#include "engine/grammar/grammar_ir.h"

namespace kvs::grammar {

void CharClass::finish() {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges) {
    if (r.first > r.second) continue;
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges = std::move(merged);
  ascii[0] = ascii[1] = 0;
  for (uint32_t c = 0; c < 128; ++c) {
    if (contains(c) != negated) ascii[c >> 6] |= uint64_t{1} << (c & 63);
  }
}

bool CharClass::contains(uint32_t cp) const {
  // First range whose end is >= cp.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), cp,
                             [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
  return it != ranges.end() && it->first <= cp;
}

bool CharClass::intersects(uint32_t lo, uint32_t hi) const {
  if (lo > hi) return false;
  if (!negated) {
    auto it = std::lower_bound(ranges.begin(), ranges.end(), lo,
                               [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
    return it != ranges.end() && it->first <= hi;
  }
  // Complement: [lo, hi] is not wholly covered by one range (ranges are merged).
  auto it = std::lower_bound(ranges.begin(), ranges.end(), lo,
                             [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
  return !(it != ranges.end() && it->first <= lo && it->second >= hi);
}

}  // namespace kvs::grammar
