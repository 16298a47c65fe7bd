// Empty except in the AVX-512 copy of a dispatch build (cpu_isa_entry.h).
#if defined(KVS_ISA_COPY_AVX512)
#include "kernels/cpu/cpu_isa_entry.h"

namespace kvs::kernels::isa_avx512 {

Status matmul_segments(const MatmulSegment* segments, size_t num_segments, int64_t num_in, const float* x,
                       int64_t num_tokens, float* y, MatmulScratch& scratch) {
  return kernels::matmul_segments(segments, num_segments, num_in, x, num_tokens, y, scratch);
}

Status attention_varlen_paged(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                              const VarlenBatch& batch, int64_t num_heads, float scale, const AttentionScores* scores,
                              int num_threads) {
  return kernels::attention_varlen_paged(q, q_row_stride, out, cache, batch, num_heads, scale, scores, num_threads);
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) { kernels::silu_mul(gate, up, out, n); }

}  // namespace kvs::kernels::isa_avx512
#endif
