#pragma once
// Attention over a quantized paged KV cache (KvDType::Q8_0 / Q4_0, the
// blocks of kv_quantized_rows.h), reading each K and V row in place through
// the block table: a block's 32 codes are turned into floats in registers
// (code * scale, exact in float), never into a dequantized copy of the cache.
// Used by attention_varlen_paged for the quantized dtypes.
#include <cstdint>
#include <vector>

#include "kernels/cpu/paged_rows.h"
#include "kernels/kv_dtype.h"

namespace kvs::kernels {

// Per-thread buffers, reused between calls.
struct QuantizedAttentionScratch {
  std::vector<float> weights;             // [4, window]: scores, then softmax weights
  std::vector<const uint8_t*> value_rows;  // [window]
};

// For g in [0, num_queries) (query heads sharing one KV head, a GQA group):
//   out[g * out_stride + d] = sum_p w_gp * V_p[d], w_g = softmax(scale q_g · Kᵀ)
// over cache positions [first, window) of one sequence (positions below
// `first` weigh exactly 0 and are not read).
//   q: query g at q + g * q_stride, head_dim floats (head_dim % 32 == 0);
//   keys / values: byte rows (PagedRows<uint8_t> with kv_row = the cache's
//   row bytes and kv_offset = this head's byte offset), each head_dim / 32
//   blocks of `dtype` (Q8_0 or Q4_0).
// Arithmetic, the same in the SIMD and the portable code, so the two agree
// bit for bit: v = code * d (exact); q·k in 8 lanes, lane i % 8 taking
// fma(q[i], k[i], lane) for increasing i, the lanes summed as
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), times scale; m = the
// max score, e = std::exp(s - m), the sum of e in double (p increasing),
// w = e * float(1 / sum); out[d] = fma(w_p, V_p[d], out[d]) for increasing p
// from 0.
// Optional logits[g] (window floats) receives query g's scaled scores (-inf
// below first), for the compression policies' statistics.
void attend_group_quantized(KvDType dtype, const float* q, int64_t q_stride, int64_t num_queries,
                            const PagedRows<uint8_t>& keys, const PagedRows<uint8_t>& values, int64_t head_dim,
                            int64_t first, int64_t window, float scale, QuantizedAttentionScratch& scratch,
                            float* out, int64_t out_stride, float* const* logits = nullptr);

// The same, portable and one query, one block value at a time: the reference
// attend_group_quantized (AVX2 + FMA builds) must equal bit for bit.
void attend_group_quantized_reference(KvDType dtype, const float* q, int64_t q_stride, int64_t num_queries,
                                      const PagedRows<uint8_t>& keys, const PagedRows<uint8_t>& values,
                                      int64_t head_dim, int64_t first, int64_t window, float scale,
                                      QuantizedAttentionScratch& scratch, float* out, int64_t out_stride,
                                      float* const* logits = nullptr);

}  // namespace kvs::kernels
