#pragma once
// Dot products of Q5_0, Q5_1 and IQ4_NL weight rows with ActivationBlockQ8
// activations. Internal to kernels/cpu: callers use dot_quantized() (dot.h).
//
// Contract: each *_reference is scalar code computing the same integer lane
// sums and the same float operations, in the same order, as the AVX2 kernel
// of the same name, so the two are bit-identical. Both reproduce llama.cpp's
// x86 (AVX2 / AVX-512 build, GCC) kernels:
//   Q5_0:   ggml_vec_dot_q5_0_q8_0   (8-lane accumulator, fma(d_w * d_x, sum, acc))
//   Q5_1:   ggml_vec_dot_q5_1_q8_1   (same, plus a scalar fma(m, d_x * sum_x, .) added
//                                     after the horizontal sum)
//   IQ4_NL: ggml_vec_dot_iq4_nl_q8_0 (two 8-lane accumulators, even and odd blocks,
//                                     added lane-wise before the horizontal sum; an
//                                     odd last block is added by a scalar fma)
// NOTE: llama.cpp repacks IQ4_NL weights whose row count is a multiple of 8
// (iq4_nl_8x8, ggml-cpu/repack.cpp) and multiplies them with its GEMV/GEMM
// kernels instead; those round differently and are not reproduced here.
#include <cstdint>

#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/quant_blocks.h"

namespace kvs::kernels::detail {

float dot_q5_0_reference(const BlockQ5_0* w, const ActivationBlockQ8* x, int64_t num_blocks);
float dot_q5_1_reference(const BlockQ5_1* w, const ActivationBlockQ8* x, int64_t num_blocks);
float dot_iq4_nl_reference(const BlockIQ4_NL* w, const ActivationBlockQ8* x, int64_t num_blocks);

#ifdef KVS_DOT_AVX2
float dot_q5_0_avx2(const BlockQ5_0* w, const ActivationBlockQ8* x, int64_t num_blocks);
float dot_q5_1_avx2(const BlockQ5_1* w, const ActivationBlockQ8* x, int64_t num_blocks);
float dot_iq4_nl_avx2(const BlockIQ4_NL* w, const ActivationBlockQ8* x, int64_t num_blocks);
#endif

}  // namespace kvs::kernels::detail
