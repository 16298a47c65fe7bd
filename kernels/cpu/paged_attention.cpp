#include "kernels/cpu/paged_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/attention_half.h"
#include "kernels/cpu/attention_quantized.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/cpu_isa_entry.h"
#include "kernels/cpu/cpu_threads.h"
#include "kernels/cpu/kv_quantized_rows.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/paged_rows.h"
#include "kernels/gumbel_noise.h"

namespace kvs::kernels {
namespace {

Status check_cache(const PagedKvLayer& cache) {
  if (cache.k == nullptr || cache.v == nullptr) return Status::invalid("paged kv: null cache");
  if (cache.block_size <= 0 || cache.num_kv_heads <= 0 || cache.head_dim <= 0 || cache.num_blocks <= 0) {
    return Status::invalid("paged kv: bad cache shape");
  }
  if (cache.dtype == KvDType::BF16 || cache.dtype == KvDType::FP8_E4M3) {
    return Status::unsupported(std::string("paged kv: a ") + kv_dtype_name(cache.dtype) +
                               " cache runs on the CUDA engine only");
  }
  if (kv_block_values(cache.dtype) > 1 && cache.head_dim % kv_block_values(cache.dtype) != 0) {
    return Status::invalid(std::string("paged kv: a ") + kv_dtype_name(cache.dtype) +
                           " cache needs head_dim to be a multiple of 32 (got " + std::to_string(cache.head_dim) + ")");
  }
  return Status::success();
}

inline void store_row(float* dst, const float* src, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
inline void store_row(uint16_t* dst, const float* src, int64_t n) { float_row_to_half(src, dst, n); }

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

// Quantized rows: each token's K and V row (all KV heads) as whole blocks.
Status write_kv_quantized(const PagedKvLayer& cache, const float* k, int64_t k_row_stride, const float* v,
                          int64_t v_row_stride, const int32_t* slot_mapping, int64_t num_tokens) {
  const int64_t row = cache.num_kv_heads * cache.head_dim;
  const int64_t row_bytes = kv_row_bytes(cache.dtype, row);
  const int64_t num_slots = cache.num_blocks * cache.block_size;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0 || slot >= num_slots) {
      return Status::invalid("write_kv: slot " + std::to_string(slot) + " outside the cache");
    }
    quantize_kv_row(cache.dtype, k + t * k_row_stride, static_cast<uint8_t*>(cache.k) + slot * row_bytes, row);
    quantize_kv_row(cache.dtype, v + t * v_row_stride, static_cast<uint8_t*>(cache.v) + slot * row_bytes, row);
  }
  return Status::success();
}

// One (query token, head) over a float cache: out = softmax(scale q·Kᵀ) V over
// positions [first, window), sums of exponentials in double. logits_out
// (optional) receives the scaled scores (-inf below first).
void attend_one_float(const float* qh, const PagedRows<float>& keys, const PagedRows<float>& values,
                      int64_t head_dim, int64_t first, int64_t window, float scale, std::vector<float>& scores,
                      float* out, float* logits_out) {
  scores.resize(static_cast<size_t>(window));
  float max_score = -INFINITY;
  if (logits_out != nullptr) std::fill(logits_out, logits_out + first, -INFINITY);
  for (int64_t p = first; p < window; ++p) {
    const float* kp = keys.row(p);
    float dot = 0.0f;
    for (int64_t i = 0; i < head_dim; ++i) dot += qh[i] * kp[i];
    scores[p] = dot * scale;
    if (logits_out != nullptr) logits_out[p] = scores[p];
    max_score = std::max(max_score, scores[p]);
  }
  double sum = 0.0;
  for (int64_t p = first; p < window; ++p) {
    scores[p] = std::exp(scores[p] - max_score);
    sum += scores[p];
  }
  const float inverse_sum = static_cast<float>(1.0 / sum);
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t p = first; p < window; ++p) {
    const float* vp = values.row(p);
    const float weight = scores[p] * inverse_sum;
    for (int64_t i = 0; i < head_dim; ++i) out[i] += weight * vp[i];
  }
}

// Adds one (row, head)'s statistic over `window` scaled scores into acc
// (fixed point): their softmax, or with tau > 0 softmax((x + g) / tau).
void accumulate_scores(const AttentionScores& side, int64_t s, int64_t head, int64_t row, const float* logits,
                       int64_t window, std::vector<double>& work, int64_t* acc) {
  work.resize(static_cast<size_t>(window));
  const bool gumbel = side.tau != nullptr && side.tau[s] > 0.0f;
  const double inverse_tau = gumbel ? 1.0 / static_cast<double>(side.tau[s]) : 1.0;
  double max_value = -INFINITY;
  for (int64_t p = 0; p < window; ++p) {
    double x = logits[p];
    if (gumbel) x = (x + gumbel_noise(side.seeds[s] ^ (static_cast<uint64_t>(row) * 0xD6E8FEB86659FD93ull), head, p)) * inverse_tau;
    work[p] = x;
    max_value = std::max(max_value, x);
  }
  double sum = 0.0;
  for (int64_t p = 0; p < window; ++p) sum += (work[p] = std::exp(work[p] - max_value));
  const double factor = kScoreOne / sum;
  for (int64_t p = 0; p < window; ++p) acc[p] += std::llround(work[p] * factor);
}

constexpr int64_t kMaxGroupLogits = 16;  // query heads per KV head whose scores are taken together

void attention_all(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                   const VarlenBatch& batch, int64_t num_heads, float scale, const std::vector<int32_t>& row_seq,
                   const AttentionScores* side, int threads) {
  const int64_t head_dim = cache.head_dim;
  const int64_t group = num_heads / cache.num_kv_heads;
  const int64_t kv_row = cache.num_kv_heads * head_dim;
  // One work item: a query row and one KV head's group of query heads.
  const int64_t num_kv_heads = cache.num_kv_heads;
  const int64_t work = static_cast<int64_t>(row_seq.size()) * num_kv_heads;
  // NOTE: splitting a group's query heads over threads when there are fewer
  // items than threads (a one-sequence decode) was measured slower on Gemma 3
  // (one KV head of four 256-wide queries: each part converts the K/V rows
  // again, 71 -> 95 us per layer at 2048 tokens); the items stay whole.
  // Dynamic chunks of 4 items, unless that leaves a thread without work (a
  // decode step of one sequence has as many items as KV heads: SmolLM2's 3
  // went to one thread in one chunk).
  const int64_t chunk = work >= 8 * threads ? 4 : 1;
  const bool half = cache.dtype == KvDType::F16;
  const bool quantized = cache.dtype == KvDType::Q8_0 || cache.dtype == KvDType::Q4_0;
  const int64_t row_bytes = kv_row_bytes(cache.dtype, kv_row);  // quantized: bytes of a slot's row
  const int64_t head_bytes = kv_row_bytes(cache.dtype, head_dim);
  int64_t num_scores = 0;
  if (side != nullptr) {
    for (int64_t s = 0; s < batch.num_seqs; ++s) num_scores = std::max<int64_t>(num_scores, side->offsets[s] + batch.context_lens[s]);
  }
  // Per-thread fixed-point sums, only when the side output is asked for.
  std::vector<std::vector<int64_t>> partial(side != nullptr ? static_cast<size_t>(threads) : 0);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> scores, logits;
    std::vector<double> score_work;
    int64_t* acc = nullptr;
    if (side != nullptr) {
      std::vector<int64_t>& mine = partial[static_cast<size_t>(omp_get_thread_num())];
      mine.assign(static_cast<size_t>(num_scores), 0);
      acc = mine.data();
    }
    HalfAttentionScratch half_scratch;
    QuantizedAttentionScratch quantized_scratch;
    std::vector<float> group_logits;
#pragma omp for schedule(dynamic, chunk)
    for (int64_t item = 0; item < work; ++item) {
      const int64_t t = item / num_kv_heads, kv_head = item % num_kv_heads;
      const int64_t s = row_seq[t];
      const int64_t query_len = batch.cu_query_lens[s + 1] - batch.cu_query_lens[s];
      const int64_t row_in_seq = t - batch.cu_query_lens[s];
      const int64_t position = batch.context_lens[s] - query_len + row_in_seq;  // cache index
      const int64_t window = position + 1;
      const int64_t first = batch.sliding_window > 0 ? std::max<int64_t>(0, window - batch.sliding_window) : 0;
      const int32_t* table = batch.block_tables + s * batch.max_blocks_per_seq;
      const int64_t kv_offset = kv_head * head_dim;
      const bool want_scores = side != nullptr && side->row_begin[s] >= 0 && row_in_seq >= side->row_begin[s];
      if (quantized) {  // the group's heads together, K and V blocks read in place
        const PagedRows<uint8_t> keys{static_cast<const uint8_t*>(cache.k), static_cast<const uint8_t*>(cache.overlay_k),
                                      table, cache.num_blocks, cache.block_size, row_bytes, kv_head * head_bytes};
        const PagedRows<uint8_t> values{static_cast<const uint8_t*>(cache.v), static_cast<const uint8_t*>(cache.overlay_v),
                                        table, cache.num_blocks, cache.block_size, row_bytes, kv_head * head_bytes};
        float* logits_out[kMaxGroupLogits];
        for (int64_t h0 = 0; h0 < group; h0 += kMaxGroupLogits) {
          const int64_t count = std::min(kMaxGroupLogits, group - h0);
          if (want_scores) {
            group_logits.resize(static_cast<size_t>(count * window));
            for (int64_t g = 0; g < count; ++g) logits_out[g] = group_logits.data() + g * window;
          }
          const int64_t h = kv_head * group + h0;
          attend_group_quantized(cache.dtype, q + t * q_row_stride + h * head_dim, head_dim, count, keys, values,
                                 head_dim, first, window, scale, quantized_scratch, out + (t * num_heads + h) * head_dim,
                                 head_dim, want_scores ? logits_out : nullptr);
          if (!want_scores) continue;
          for (int64_t g = 0; g < count; ++g) {
            accumulate_scores(*side, s, h + g, position, logits_out[g], window, score_work, acc + side->offsets[s]);
          }
        }
        continue;
      }
      if (half && !want_scores) {  // the group's heads together, one pass over K and V
        const HalfMatmulOrder order = query_len >= 2 && !(batch.single_order != nullptr && batch.single_order[s] != 0)
                                            ? HalfMatmulOrder::kBatched
                                            : HalfMatmulOrder::kSingle;
        attend_group_half(q + t * q_row_stride + kv_head * group * head_dim, head_dim, group,
                          static_cast<const uint16_t*>(cache.k), static_cast<const uint16_t*>(cache.v), table,
                          cache.block_size, kv_row, kv_offset, head_dim, window, scale, order, half_scratch,
                          out + (t * num_heads + kv_head * group) * head_dim, head_dim,
                          static_cast<const uint16_t*>(cache.overlay_k), static_cast<const uint16_t*>(cache.overlay_v),
                          cache.num_blocks, first);
        continue;
      }
      for (int64_t h = kv_head * group; h < (kv_head + 1) * group; ++h) {
        const float* qh = q + t * q_row_stride + h * head_dim;
        float* oh = out + (t * num_heads + h) * head_dim;
        if (want_scores) logits.resize(static_cast<size_t>(window));
        float* logits_out = want_scores ? logits.data() : nullptr;
        if (half) {
          const HalfMatmulOrder order = query_len >= 2 && !(batch.single_order != nullptr && batch.single_order[s] != 0)
                                            ? HalfMatmulOrder::kBatched
                                            : HalfMatmulOrder::kSingle;
          attend_one_half(qh, static_cast<const uint16_t*>(cache.k), static_cast<const uint16_t*>(cache.v), table,
                          cache.block_size, kv_row, kv_offset, head_dim, window, scale, order, half_scratch, oh,
                          static_cast<const uint16_t*>(cache.overlay_k), static_cast<const uint16_t*>(cache.overlay_v),
                          cache.num_blocks, logits_out, first);
        } else {
          const PagedRows<float> keys{static_cast<const float*>(cache.k), static_cast<const float*>(cache.overlay_k),
                                      table, cache.num_blocks, cache.block_size, kv_row, kv_offset};
          const PagedRows<float> values{static_cast<const float*>(cache.v), static_cast<const float*>(cache.overlay_v),
                                        table, cache.num_blocks, cache.block_size, kv_row, kv_offset};
          attend_one_float(qh, keys, values, head_dim, first, window, scale, scores, oh, logits_out);
        }
        if (want_scores) accumulate_scores(*side, s, h, position, logits.data(), window, score_work, acc + side->offsets[s]);
      }
    }
  }
  if (side == nullptr) return;
  for (const std::vector<int64_t>& acc : partial) {
    for (size_t i = 0; i < acc.size(); ++i) side->out[i] += acc[i];
  }
}

}  // namespace

Status write_kv(const PagedKvLayer& cache, const float* k, int64_t k_row_stride, const float* v,
                int64_t v_row_stride, const int32_t* slot_mapping, int64_t num_tokens) {
  if (Status s = check_cache(cache); !s.ok()) return s;
  if (kv_block_values(cache.dtype) > 1) {
    return write_kv_quantized(cache, k, k_row_stride, v, v_row_stride, slot_mapping, num_tokens);
  }
  return cache.dtype == KvDType::F16
             ? write_kv_typed<uint16_t>(cache, k, k_row_stride, v, v_row_stride, slot_mapping, num_tokens)
             : write_kv_typed<float>(cache, k, k_row_stride, v, v_row_stride, slot_mapping, num_tokens);
}

Status attention_varlen_paged(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                              const VarlenBatch& batch, int64_t num_heads, float scale,
                              const AttentionScores* scores, int num_threads) {
  if (detail::route_to_avx512()) {
    return isa_avx512::attention_varlen_paged(q, q_row_stride, out, cache, batch, num_heads, scale, scores,
                                              num_threads);
  }
  if (Status s = check_cache(cache); !s.ok()) return s;
  if (batch.sliding_window < 0) return Status::invalid("attention: negative sliding window");
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
  for (int64_t i = 0; i < batch.num_seqs * batch.max_blocks_per_seq; ++i) {
    const int32_t block = batch.block_tables[i];
    if (block >= cache.num_blocks && (block >= cache.num_blocks + cache.num_overlay_blocks || cache.overlay_k == nullptr)) {
      return Status::invalid("attention: block id " + std::to_string(block) + " outside the cache and its overlay");
    }
  }
  // Map each query row to its sequence once.
  std::vector<int32_t> row_seq(static_cast<size_t>(batch.cu_query_lens[batch.num_seqs]));
  for (int64_t s = 0; s < batch.num_seqs; ++s) {
    for (int64_t t = batch.cu_query_lens[s]; t < batch.cu_query_lens[s + 1]; ++t) row_seq[t] = static_cast<int32_t>(s);
  }
  attention_all(q, q_row_stride, out, cache, batch, num_heads, scale, row_seq, scores,
                resolve_cpu_threads(num_threads));
  return Status::success();
}

// NOTE: the math lives in kernels/gumbel_noise.h, shared with the CUDA naive
// attention, so host and device draw the same noise.
float gumbel_noise(uint64_t seed, int64_t head, int64_t position) { return gumbel_noise_value(seed, head, position); }

}  // namespace kvs::kernels
