#include "kernels/cpu/sampling_reference.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace kvs::kernels {
namespace {

int32_t argmax(const float* logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

int32_t sample_row(const SamplingArgs& a, int64_t row, std::vector<int32_t>& order, std::vector<uint32_t>& keys,
                   std::vector<float>& z, std::vector<uint64_t>& weights) {
  const int64_t vocab = a.vocab_size;
  const float* logits = a.logits + row * a.logits_row_stride;
  const float temperature = a.temperatures[row];
  if (sampling_is_greedy(temperature)) return argmax(logits, vocab);
  float max_z = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i) {
    z[i] = logits[i] / temperature;
    keys[i] = sampling_order_key(z[i]);
    max_z = std::max(max_z, z[i]);
  }
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return keys[x] > keys[y] || (keys[x] == keys[y] && x < y); });
  const int32_t top_k = a.top_k != nullptr ? a.top_k[row] : 0;
  const int64_t num_kept = sampling_top_k_on(top_k, vocab) ? top_k : vocab;
  std::fill(weights.begin(), weights.end(), 0);
  uint64_t total = 0;
  for (int64_t j = 0; j < num_kept; ++j) {
    const int32_t i = order[j];
    weights[i] = sampling_weight(z[i] - max_z);
    total += weights[i];
  }
  const float top_p = a.top_p != nullptr ? a.top_p[row] : 1.0f;
  if (sampling_top_p_on(top_p)) {
    const uint64_t target = sampling_top_p_target(total, top_p);
    uint64_t before = 0, kept = 0;
    for (int64_t j = 0; j < num_kept; ++j) {
      const int32_t i = order[j];
      const uint64_t w = weights[i];
      if (before >= target) weights[i] = 0;
      before += w;
      kept += weights[i];
    }
    total = kept;
  }
  if (total == 0) return argmax(logits, vocab);
  const double u = a.uniforms != nullptr ? a.uniforms[row] : sampling_uniform(a.seeds[row], a.offsets[row]);
  const uint64_t target = sampling_draw_target(u, total);
  uint64_t running = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    running += weights[i];
    if (running > target) return static_cast<int32_t>(i);
  }
  return argmax(logits, vocab);  // unreachable: running ends at total > target
}

}  // namespace

Status sample_reference(const SamplingArgs& a) {
  Status status = check_sampling_args(a);
  if (!status.ok()) return status;
  const size_t vocab = static_cast<size_t>(a.vocab_size);
  std::vector<int32_t> order(vocab);
  std::vector<uint32_t> keys(vocab);
  std::vector<float> z(vocab);
  std::vector<uint64_t> weights(vocab);
  for (int64_t row = 0; row < a.num_rows; ++row) a.out_tokens[row] = sample_row(a, row, order, keys, z, weights);
  return Status::success();
}

}  // namespace kvs::kernels
