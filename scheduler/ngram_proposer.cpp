#include "scheduler/ngram_proposer.h"

#include <algorithm>

namespace kvs {

std::vector<int32_t> propose_ngram_draft(const std::vector<int32_t>& tokens, int64_t max_ngram, int64_t min_ngram,
                                         int64_t num_draft) {
  const auto size = static_cast<int64_t>(tokens.size());
  if (num_draft <= 0) return {};
  for (int64_t n = std::min(max_ngram, size - 1); n >= std::max<int64_t>(min_ngram, 1); --n) {
    const int32_t* tail = tokens.data() + (size - n);
    // Latest earlier start first: recent context predicts best.
    for (int64_t j = size - n - 1; j >= 0; --j) {
      if (!std::equal(tail, tail + n, tokens.data() + j)) continue;
      const int64_t begin = j + n;
      const int64_t end = std::min(size, begin + num_draft);
      return std::vector<int32_t>(tokens.begin() + begin, tokens.begin() + end);
    }
  }
  return {};
}

}  // namespace kvs
