#include "kernels/cpu/attention_half.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/half.h"
#include "kernels/cpu/llamacpp_arith.h"
#include "kernels/cpu/paged_rows.h"

namespace kvs::kernels {
namespace {

// tinyBLAS order: lane l accumulates elements l, l + 16, ... (n % 16 == 0).
float dot_lanes16(const float* a, const float* b, int64_t n) {
  float lanes[16] = {};
  for (int64_t i = 0; i < n; i += 16) {
    for (int l = 0; l < 16; ++l) lanes[l] = std::fma(a[i + l], b[i + l], lanes[l]);
  }
  return sum16_llamacpp(lanes);
}

// ggml_vec_dot_f16 order.
float dot_vec_f16(const float* a, const float* b, int64_t n) {
  const int64_t blocked = n - n % 64;
  float lanes[64] = {};
  for (int64_t i = 0; i < blocked; i += 64) {
    for (int e = 0; e < 64; ++e) lanes[e] = std::fma(a[i + e], b[i + e], lanes[e]);
  }
  float combined[16];
  for (int l = 0; l < 16; ++l) combined[l] = (lanes[l] + lanes[32 + l]) + (lanes[16 + l] + lanes[48 + l]);
  double sum = sum16_llamacpp(combined);
  for (int64_t i = blocked; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

bool batched_dot(HalfMatmulOrder order, int64_t n) { return order == HalfMatmulOrder::kBatched && n % 16 == 0; }

}  // namespace

float dot_halves(const float* a, const float* b, int64_t n, HalfMatmulOrder order) {
  return batched_dot(order, n) ? dot_lanes16(a, b, n) : dot_vec_f16(a, b, n);
}

void attend_one_half(const float* q, const uint16_t* keys, const uint16_t* values, const int32_t* table,
                     int64_t block_size, int64_t kv_row, int64_t kv_offset, int64_t head_dim, int64_t window,
                     float scale, HalfMatmulOrder order, HalfAttentionScratch& scratch, float* out,
                     const uint16_t* overlay_keys, const uint16_t* overlay_values, int64_t num_blocks,
                     float* logits_out, int64_t first) {
  const PagedRows<uint16_t> key_rows{keys, overlay_keys, table, num_blocks, block_size, kv_row, kv_offset};
  const PagedRows<uint16_t> value_rows{values, overlay_values, table, num_blocks, block_size, kv_row, kv_offset};
  std::vector<float>& query = scratch.query;
  std::vector<float>& row = scratch.row;
  std::vector<float>& probabilities = scratch.probabilities;
  query.resize(static_cast<size_t>(head_dim));
  row.resize(static_cast<size_t>(head_dim));
  for (int64_t i = 0; i < head_dim; ++i) query[i] = round_to_half(q[i]);

  // Scores, scaled after the dot product as soft_max_ext does.
  const int64_t padded = (window + 15) / 16 * 16;
  probabilities.assign(static_cast<size_t>(padded), 0.0f);
  float max_score = -INFINITY;
  if (logits_out != nullptr) std::fill(logits_out, logits_out + first, -INFINITY);
  for (int64_t p = first; p < window; ++p) {
    half_row_to_float(key_rows.row(p), row.data(), head_dim);
    probabilities[p] = dot_halves(row.data(), query.data(), head_dim, order) * scale;
    if (logits_out != nullptr) logits_out[p] = probabilities[p];
    max_score = std::max(max_score, probabilities[p]);
  }
  // Softmax: 16-wide exp blocks, each block's sum added in double.
  double sum = 0.0;
  for (int64_t block = 0; block < padded; block += 16) {
    for (int64_t p = std::max(block, first); p < std::min(window, block + 16); ++p) {
      probabilities[p] = exp_llamacpp(probabilities[p] - max_score);
    }
    sum += static_cast<double>(sum16_llamacpp(probabilities.data() + block));
  }
  const float inverse_sum = static_cast<float>(1.0 / sum);
  for (int64_t p = first; p < window; ++p) probabilities[p] = round_to_half(probabilities[p] * inverse_sum);

  // P·V: position p accumulates into lane p % num_lanes, all head_dim outputs at once.
  const bool batched = order == HalfMatmulOrder::kBatched && head_dim % 4 == 0;
  const int64_t num_lanes = batched ? 16 : 64;
  std::vector<float>& lanes = scratch.lanes;
  lanes.assign(static_cast<size_t>(num_lanes * head_dim), 0.0f);
  for (int64_t p = first; p < window; ++p) {
    half_row_to_float(value_rows.row(p), row.data(), head_dim);
    float* acc = lanes.data() + (p % num_lanes) * head_dim;
    const float weight = probabilities[p];
    for (int64_t d = 0; d < head_dim; ++d) acc[d] = std::fma(weight, row[d], acc[d]);
  }
  float combined[16];
  for (int64_t d = 0; d < head_dim; ++d) {
    for (int l = 0; l < 16; ++l) {
      const float* lane = lanes.data() + l * head_dim + d;
      combined[l] = batched ? lane[0]
                            : (lane[0] + lane[32 * head_dim]) + (lane[16 * head_dim] + lane[48 * head_dim]);
    }
    out[d] = sum16_llamacpp(combined);
  }
}

}  // namespace kvs::kernels
