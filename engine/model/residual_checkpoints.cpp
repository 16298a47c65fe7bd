#include "engine/model/residual_checkpoints.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"

namespace kvs {

void ResidualCheckpoints::reserve(uint64_t sequence, int64_t num_tokens) {
  Rows& rows = rows_[sequence];
  if (num_tokens <= rows.capacity) return;
  // Grow geometrically so a decoding sequence reallocates O(log n) times.
  const int64_t capacity = std::max<int64_t>(num_tokens, rows.capacity * 3 / 2);
  rows.layers.resize(static_cast<size_t>(num_layers_));
  for (std::vector<float>& layer : rows.layers) layer.resize(static_cast<size_t>(capacity * hidden_));
  rows.capacity = capacity;
}

float* ResidualCheckpoints::row(uint64_t sequence, int64_t layer, int64_t position) {
  const auto it = rows_.find(sequence);
  if (it == rows_.end() || position < 0 || position >= it->second.capacity || layer < 0 || layer >= num_layers_) {
    throw Error("residual checkpoints: no row for sequence " + std::to_string(sequence) + " position " +
                std::to_string(position));
  }
  return it->second.layers[static_cast<size_t>(layer)].data() + position * hidden_;
}

int64_t ResidualCheckpoints::bytes(uint64_t sequence) const {
  const auto it = rows_.find(sequence);
  return it == rows_.end() ? 0 : it->second.capacity * num_layers_ * hidden_ * static_cast<int64_t>(sizeof(float));
}

int64_t ResidualCheckpoints::total_bytes() const {
  int64_t total = 0;
  for (const auto& [sequence, rows] : rows_) total += bytes(sequence);
  return total;
}

}  // namespace kvs
