#pragma once
// The AVX-512 copy's entry points in a dispatch build (KVS_MARCH=dispatch;
// cpu_isa.h). Defined in cpu_isa_entry.cpp, compiled only into that copy;
// every other symbol of the copy is made local to it by CMake (a partial link
// and objcopy), so no inline function, template or std:: instantiation built
// for AVX-512 can be picked by the linker for the x86-64-v3 code. Each has the
// contract of the function of the same name in kvs::kernels (matmul.h,
// paged_attention.h, activation.h) and is called only by that function, after
// detail::route_to_avx512() said yes. Never call them on a CPU without AVX-512.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/paged_attention.h"

namespace kvs::kernels::isa_avx512 {

Status matmul_segments(const MatmulSegment* segments, size_t num_segments, int64_t num_in, const float* x,
                       int64_t num_tokens, float* y, MatmulScratch& scratch);
Status attention_varlen_paged(const float* q, int64_t q_row_stride, float* out, const PagedKvLayer& cache,
                              const VarlenBatch& batch, int64_t num_heads, float scale, const AttentionScores* scores,
                              int num_threads);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

}  // namespace kvs::kernels::isa_avx512
