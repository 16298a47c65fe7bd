#include "engine/model/residual_checkpoints.h"

#include <algorithm>
#include <string>

#include <cstring>

#include "engine/errors.h"
#include "kernels/cpu/half.h"

namespace kvs {

void ResidualCheckpoints::reserve(uint64_t sequence, int64_t num_tokens) {
  Rows& rows = rows_[sequence];
  if (num_tokens <= rows.capacity) return;
  // Grow geometrically so a decoding sequence reallocates O(log n) times.
  const int64_t capacity = std::max<int64_t>(num_tokens, rows.capacity * 3 / 2);
  rows.layers.resize(static_cast<size_t>(num_layers_));
  for (std::vector<uint8_t>& layer : rows.layers) layer.resize(static_cast<size_t>(capacity * hidden_ * bytes_per_value()));
  rows.capacity = capacity;
}

const uint8_t* ResidualCheckpoints::locate(uint64_t sequence, int64_t layer, int64_t position) const {
  const auto it = rows_.find(sequence);
  if (it == rows_.end() || position < 0 || position >= it->second.capacity || layer < 0 || layer >= num_layers_) {
    throw Error("residual checkpoints: no row for sequence " + std::to_string(sequence) + " position " +
                std::to_string(position));
  }
  return it->second.layers[static_cast<size_t>(layer)].data() + position * hidden_ * bytes_per_value();
}

void ResidualCheckpoints::write_row(uint64_t sequence, int64_t layer, int64_t position, const float* values) {
  auto* row = const_cast<uint8_t*>(locate(sequence, layer, position));  // rows_ is ours to write
  if (dtype_ == DType::F32) {
    std::memcpy(row, values, static_cast<size_t>(hidden_) * sizeof(float));
    return;
  }
  auto* halves = reinterpret_cast<uint16_t*>(row);
  for (int64_t i = 0; i < hidden_; ++i) halves[i] = kernels::fp32_to_fp16(values[i]);
}

void ResidualCheckpoints::read_row(uint64_t sequence, int64_t layer, int64_t position, float* values) const {
  const uint8_t* row = locate(sequence, layer, position);
  if (dtype_ == DType::F32) {
    std::memcpy(values, row, static_cast<size_t>(hidden_) * sizeof(float));
    return;
  }
  const auto* halves = reinterpret_cast<const uint16_t*>(row);
  for (int64_t i = 0; i < hidden_; ++i) values[i] = kernels::fp16_to_fp32(halves[i]);
}

int64_t ResidualCheckpoints::bytes(uint64_t sequence) const {
  const auto it = rows_.find(sequence);
  return it == rows_.end() ? 0 : it->second.capacity * num_layers_ * hidden_ * bytes_per_value();
}

int64_t ResidualCheckpoints::total_bytes() const {
  int64_t total = 0;
  for (const auto& [sequence, rows] : rows_) total += bytes(sequence);
  return total;
}

}  // namespace kvs
