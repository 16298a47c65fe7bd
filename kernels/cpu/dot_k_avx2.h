#pragma once
// AVX2 K-quant dot products (dot_k.h has the contract). Internal to kernels/cpu.
#include <cstdint>

#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/quant_blocks.h"

#ifdef KVS_DOT_AVX2
namespace kvs::kernels::detail {

float dot_q2_k_avx2(const BlockQ2_K* w, const ActivationBlockQ8K* x, int64_t num_blocks);
float dot_q3_k_avx2(const BlockQ3_K* w, const ActivationBlockQ8K* x, int64_t num_blocks);
float dot_q4_k_avx2(const BlockQ4_K* w, const ActivationBlockQ8K* x, int64_t num_blocks);
float dot_q5_k_avx2(const BlockQ5_K* w, const ActivationBlockQ8K* x, int64_t num_blocks);
float dot_q6_k_avx2(const BlockQ6_K* w, const ActivationBlockQ8K* x, int64_t num_blocks);

// The exact integer sums of one whole block against x, straight from the
// packed block (no decoded copy): *s1 = the scale-weighted sum of code * x,
// *s2 = the mins against the activations' sub-block sums (k_block_sums.h's
// k_scaled_sum / k_min_sum over the whole block). The one-token path of the
// repacked Q4_K / Q2_K GEMV.
void block_sums_q4_k_avx2(const BlockQ4_K& w, const ActivationBlockQ8K& x, int32_t* s1, int32_t* s2);
void block_sums_q2_k_avx2(const BlockQ2_K& w, const ActivationBlockQ8K& x, int32_t* s1, int32_t* s2);

}  // namespace kvs::kernels::detail
#endif
