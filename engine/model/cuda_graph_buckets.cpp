#include "engine/model/cuda_graph_buckets.h"

#include <algorithm>

namespace kvs {

std::vector<int64_t> cuda_graph_batch_sizes(int64_t max_batch, int64_t cap) {
  std::vector<int64_t> sizes;
  const int64_t limit = std::min(max_batch, cap);
  for (int64_t n : {1, 2, 4}) {
    if (n <= limit) sizes.push_back(n);
  }
  for (int64_t n = 8; n <= limit; n += 8) sizes.push_back(n);
  if (limit >= 1 && sizes.back() != limit) sizes.push_back(limit);
  return sizes;
}

int64_t cuda_graph_bucket(const std::vector<int64_t>& sizes, int64_t n) {
  const auto it = std::lower_bound(sizes.begin(), sizes.end(), n);
  return it == sizes.end() ? -1 : *it;
}

}  // namespace kvs
