// Empty except in the AVX-512 copy of a dispatch build (cpu_isa_entry.h).
#if defined(KVS_ISA_COPY_AVX512)
#include "kernels/cpu/cpu_isa_entry.h"

namespace kvs::kernels::isa_avx512 {

Status matmul_segments(const MatmulSegment* segments, size_t num_segments, int64_t num_in, const float* x,
                       int64_t num_tokens, float* y, MatmulScratch& scratch) {
  return kernels::matmul_segments(segments, num_segments, num_in, x, num_tokens, y, scratch);
}

void set_num_threads(int num_threads) { kernels::set_num_threads(num_threads); }

int num_threads() { return kernels::num_threads(); }

Status attention_varlen_paged(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                              const VarlenBatch& batch, int64_t num_heads, float scale, const AttentionScores* scores) {
  return kernels::attention_varlen_paged(q, q_row_stride, out, cache, batch, num_heads, scale, scores);
}

}  // namespace kvs::kernels::isa_avx512
#endif
