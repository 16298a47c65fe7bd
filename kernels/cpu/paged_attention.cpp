#include "kernels/cpu/paged_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/attention_half.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/matmul.h"

namespace kvs::kernels {
namespace {

Status check_cache(const PagedKvLayer& cache) {
  if (cache.k == nullptr || cache.v == nullptr) return Status::invalid("paged kv: null cache");
  if (cache.block_size <= 0 || cache.num_kv_heads <= 0 || cache.head_dim <= 0 || cache.num_blocks <= 0) {
    return Status::invalid("paged kv: bad cache shape");
  }
  return Status::success();
}

inline void store_row(float* dst, const float* src, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
inline void store_row(uint16_t* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

template <typename T>
Status write_kv_typed(const PagedKvLayer& cache, const float* k, int64_t k_row_stride, const float* v,
                      int64_t v_row_stride, const int32_t* slot_mapping, int64_t num_tokens) {
  const int64_t row = cache.num_kv_heads * cache.head_dim;
  const int64_t num_slots = cache.num_blocks * cache.block_size;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0 || slot >= num_slots) {
      return Status::invalid("write_kv: slot " + std::to_string(slot) + " outside the cache");
    }
    store_row(static_cast<T*>(cache.k) + slot * row, k + t * k_row_stride, row);
    store_row(static_cast<T*>(cache.v) + slot * row, v + t * v_row_stride, row);
  }
  return Status::success();
}

// One (query token, head) over a float cache: out = softmax(scale q·Kᵀ) V over
// `window` positions, sums of exponentials in double.
void attend_one_float(const float* qh, const float* keys, const float* values, const int32_t* table,
                      int64_t block_size, int64_t kv_row, int64_t kv_offset, int64_t head_dim, int64_t window,
                      float scale, std::vector<float>& scores, float* out) {
  scores.resize(static_cast<size_t>(window));
  float max_score = -INFINITY;
  for (int64_t p = 0; p < window; ++p) {
    const int64_t slot = static_cast<int64_t>(table[p / block_size]) * block_size + p % block_size;
    const float* kp = keys + slot * kv_row + kv_offset;
    float dot = 0.0f;
    for (int64_t i = 0; i < head_dim; ++i) dot += qh[i] * kp[i];
    scores[p] = dot * scale;
    max_score = std::max(max_score, scores[p]);
  }
  double sum = 0.0;
  for (int64_t p = 0; p < window; ++p) {
    scores[p] = std::exp(scores[p] - max_score);
    sum += scores[p];
  }
  const float inverse_sum = static_cast<float>(1.0 / sum);
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t p = 0; p < window; ++p) {
    const int64_t slot = static_cast<int64_t>(table[p / block_size]) * block_size + p % block_size;
    const float* vp = values + slot * kv_row + kv_offset;
    const float weight = scores[p] * inverse_sum;
    for (int64_t i = 0; i < head_dim; ++i) out[i] += weight * vp[i];
  }
}

void attention_all(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                   const VarlenBatch& batch, int64_t num_heads, float scale, const std::vector<int32_t>& row_seq) {
  const int64_t head_dim = cache.head_dim;
  const int64_t group = num_heads / cache.num_kv_heads;
  const int64_t kv_row = cache.num_kv_heads * head_dim;
  const int64_t work = static_cast<int64_t>(row_seq.size()) * num_heads;
  const bool half = cache.dtype == KvDType::F16;
#pragma omp parallel num_threads(num_threads())
  {
    std::vector<float> scores;
    HalfAttentionScratch half_scratch;
#pragma omp for schedule(dynamic, 4)
    for (int64_t item = 0; item < work; ++item) {
      const int64_t t = item / num_heads, h = item % num_heads;
      const int64_t s = row_seq[t];
      const int64_t query_len = batch.cu_query_lens[s + 1] - batch.cu_query_lens[s];
      const int64_t position = batch.context_lens[s] - query_len + (t - batch.cu_query_lens[s]);
      const float* qh = q + t * q_row_stride + h * head_dim;
      const int32_t* table = batch.block_tables + s * batch.max_blocks_per_seq;
      const int64_t kv_offset = (h / group) * head_dim;
      float* oh = out + (t * num_heads + h) * head_dim;
      if (half) {
        const HalfMatmulOrder order = query_len >= 2 ? HalfMatmulOrder::kBatched : HalfMatmulOrder::kSingle;
        attend_one_half(qh, static_cast<const uint16_t*>(cache.k), static_cast<const uint16_t*>(cache.v), table,
                        cache.block_size, kv_row, kv_offset, head_dim, position + 1, scale, order, half_scratch, oh);
      } else {
        attend_one_float(qh, static_cast<const float*>(cache.k), static_cast<const float*>(cache.v), table,
                         cache.block_size, kv_row, kv_offset, head_dim, position + 1, scale, scores, oh);
      }
    }
  }
}

}  // namespace

Status write_kv(const PagedKvLayer& cache, const float* k, int64_t k_row_stride, const float* v,
                int64_t v_row_stride, const int32_t* slot_mapping, int64_t num_tokens) {
  if (Status s = check_cache(cache); !s.ok()) return s;
  return cache.dtype == KvDType::F16
             ? write_kv_typed<uint16_t>(cache, k, k_row_stride, v, v_row_stride, slot_mapping, num_tokens)
             : write_kv_typed<float>(cache, k, k_row_stride, v, v_row_stride, slot_mapping, num_tokens);
}

Status attention_varlen_paged(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                              const VarlenBatch& batch, int64_t num_heads, float scale) {
  if (Status s = check_cache(cache); !s.ok()) return s;
  if (num_heads <= 0 || num_heads % cache.num_kv_heads != 0) {
    return Status::invalid("attention: num_heads must be a positive multiple of num_kv_heads");
  }
  for (int64_t s = 0; s < batch.num_seqs; ++s) {
    const int64_t query_len = batch.cu_query_lens[s + 1] - batch.cu_query_lens[s];
    if (query_len < 0 || query_len > batch.context_lens[s]) return Status::invalid("attention: bad query length");
    if ((batch.context_lens[s] + cache.block_size - 1) / cache.block_size > batch.max_blocks_per_seq) {
      return Status::invalid("attention: context longer than the block table");
    }
  }
  // Map each query row to its sequence once.
  std::vector<int32_t> row_seq(static_cast<size_t>(batch.cu_query_lens[batch.num_seqs]));
  for (int64_t s = 0; s < batch.num_seqs; ++s) {
    for (int64_t t = batch.cu_query_lens[s]; t < batch.cu_query_lens[s + 1]; ++t) row_seq[t] = static_cast<int32_t>(s);
  }
  attention_all(q, q_row_stride, out, cache, batch, num_heads, scale, row_seq);
  return Status::success();
}

}  // namespace kvs::kernels
