#include "kernels/cpu/decode_attention_reference.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_threads.h"
#include "kernels/cpu/half.h"
#include "kernels/fp8_e4m3.h"

namespace kvs::kernels {

float decode_kv_load(const void* cache, DecodeKvType type, int64_t index) {
  if (type == DecodeKvType::FP8_E4M3) return fp8_e4m3_to_float(static_cast<const uint8_t*>(cache)[index]);
  const uint16_t bits = static_cast<const uint16_t*>(cache)[index];
  return type == DecodeKvType::F16 ? fp16_to_fp32(bits) : bf16_to_fp32(bits);
}

Status check_decode_attention_tables(const DecodeAttentionArgs& a) {
  for (int64_t s = 0; s < a.num_seqs; ++s) {
    const int64_t blocks = (a.context_lens[s] + a.block_size - 1) / a.block_size;
    for (int64_t b = 0; b < blocks; ++b) {
      const int32_t id = a.block_tables[s * a.max_blocks_per_seq + b];
      if (id < 0 || id >= a.num_blocks) {
        return Status::invalid("decode attention: block id " + std::to_string(id) + " outside the cache");
      }
    }
  }
  return Status::success();
}

namespace {

// One (sequence, query head): writes out[head_dim] and returns the softmax
// weights in `weights` (double, length L).
void attend_one(const DecodeAttentionArgs& a, int64_t s, int64_t h, std::vector<double>& weights) {
  const int64_t len = a.context_lens[s], dim = a.head_dim;
  const int64_t kv_head = h / (a.num_heads / a.num_kv_heads);
  const int32_t* table = a.block_tables + s * a.max_blocks_per_seq;
  const float* q = a.q + s * a.q_row_stride + h * dim;
  auto row = [&](int64_t p) {
    const int64_t slot = static_cast<int64_t>(table[p / a.block_size]) * a.block_size + p % a.block_size;
    return (slot * a.num_kv_heads + kv_head) * dim;
  };
  weights.resize(static_cast<size_t>(len));
  double max_score = -INFINITY;
  for (int64_t p = 0; p < len; ++p) {
    const int64_t base = row(p);
    double dot = 0.0;
    for (int64_t i = 0; i < dim; ++i) dot += static_cast<double>(q[i]) * decode_kv_load(a.k_cache, a.kv_type, base + i);
    weights[p] = dot * a.scale;
    max_score = std::max(max_score, weights[p]);
  }
  double sum = 0.0;
  for (double& w : weights) sum += (w = std::exp(w - max_score));
  for (double& w : weights) w /= sum;
  std::vector<double> acc(static_cast<size_t>(dim), 0.0);
  for (int64_t p = 0; p < len; ++p) {
    const int64_t base = row(p);
    for (int64_t i = 0; i < dim; ++i) acc[i] += weights[p] * decode_kv_load(a.v_cache, a.kv_type, base + i);
  }
  float* out = a.out + (s * a.num_heads + h) * dim;
  for (int64_t i = 0; i < dim; ++i) out[i] = static_cast<float>(acc[i]);
}

}  // namespace

Status decode_attention_reference(const DecodeAttentionArgs& args) {
  if (Status st = check_decode_attention_shape(args); !st.ok()) return st;
  if (Status st = check_decode_attention_lens(args, args.context_lens); !st.ok()) return st;
  if (Status st = check_decode_attention_tables(args); !st.ok()) return st;
  const int64_t group = args.num_heads / args.num_kv_heads;
  // Work item: (sequence, KV head), so the heads of a group can sum their
  // mass into one row without races.
  const int64_t work = args.num_seqs * args.num_kv_heads;
#pragma omp parallel num_threads(resolve_cpu_threads(0))
  {
    std::vector<double> weights, mass;
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < work; ++item) {
      const int64_t s = item / args.num_kv_heads, g = item % args.num_kv_heads;
      mass.assign(static_cast<size_t>(args.context_lens[s]), 0.0);
      for (int64_t h = g * group; h < (g + 1) * group; ++h) {
        attend_one(args, s, h, weights);
        for (size_t p = 0; p < mass.size(); ++p) mass[p] += weights[p];
      }
      if (args.token_mass != nullptr) {
        float* row = args.token_mass + item * args.token_mass_stride;
        for (size_t p = 0; p < mass.size(); ++p) {
          row[p] = static_cast<float>(args.accumulate_mass ? row[p] + mass[p] : mass[p]);
        }
      }
    }
  }
  return Status::success();
}

}  // namespace kvs::kernels
