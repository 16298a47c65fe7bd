// K-quant dot products: the scalar reference and the dispatcher (dot_k.h).
//
// NOTE: what llama.cpp (ggml-cpu, x86, AVX2 or AVX-512) does with these
// formats, and what is reproduced here:
//  - Every K-quant's vec_dot takes q8_K activations (type_traits_cpu); x86's
//    quantize_row_q8_K is quantize_row_q8_K_ref (quantize_activations_q8_k).
//  - Q3_K, Q5_K, Q6_K are never repacked on x86: for fewer than 8 tokens
//    their matmul is the vec_dot reproduced here; from 8 tokens on llama.cpp
//    takes its tiled K-quant matmul (dot_k_tiled.h).
//  - Q4_K (AVX2) and Q2_K (AVX-512) tensors with a row count that is a
//    multiple of 8 go to llama.cpp's CPU_REPACK buffer and its 8x8 GEMV/GEMM
//    (dot_repack.h); the vec_dot here serves the others.
#include "kernels/cpu/dot_k.h"

#include <cmath>

#include "kernels/cpu/dot_k_avx2.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/k_codes.h"
#include "kernels/cpu/llamacpp_arith.h"

namespace kvs::kernels {
namespace {

// Lane l of the AVX2 kernels: over the 8 chunks of 32 elements c, the scale
// of element 32c + 4l (scale[e / kScaleWidth]) times the products of
// elements 32c + 4l .. 32c + 4l + 3. `q` holds the 256 signed codes.
template <int kScaleWidth>
void scaled_lane_sums(const int* q, const int* scale, const int8_t* x, int32_t* lanes) {
  for (int l = 0; l < 8; ++l) {
    int32_t sum = 0;
    for (int c = 0; c < 8; ++c) {
      const int e = 32 * c + 4 * l;
      int32_t products = 0;
      for (int t = 0; t < 4; ++t) products += q[e + t] * x[e + t];
      sum += scale[e / kScaleWidth] * products;
    }
    lanes[l] = sum;
  }
}

// Lane l (< 8): mins[2l] * bsums[2l] + mins[2l + 1] * bsums[2l + 1] (Q2_K's
// 16 mins against the 16 bsums).
void min_lane_sums_16(const int* mins, const int16_t* bsums, int32_t* lanes) {
  for (int l = 0; l < 8; ++l) lanes[l] = mins[2 * l] * bsums[2 * l] + mins[2 * l + 1] * bsums[2 * l + 1];
}

// Lane l (< 4): Q4_K / Q5_K's 8 mins against the bsums of their 32-element
// sub-blocks (bsums[2k] + bsums[2k + 1]), two sub-blocks per lane.
void min_lane_sums_8(const int* mins, const int16_t* bsums, int32_t* lanes) {
  for (int l = 0; l < 4; ++l) {
    lanes[l] = mins[2 * l] * (bsums[4 * l] + bsums[4 * l + 1]) + mins[2 * l + 1] * (bsums[4 * l + 2] + bsums[4 * l + 3]);
  }
}

void fma_lanes(float scale, const int32_t* lanes, float* acc, int n) {
  for (int l = 0; l < n; ++l) acc[l] = std::fma(scale, static_cast<float>(lanes[l]), acc[l]);
}

float dot_q2_k(const BlockQ2_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < num_blocks; ++b) {
    int q[kQuantBlockK], scale[16], mins[16];
    detail::decode_q2_k(w[b], q, scale, mins);
    int32_t lanes[8], min_lanes[8];
    min_lane_sums_16(mins, x[b].bsums, min_lanes);
    scaled_lane_sums<16>(q, scale, x[b].q, lanes);
    fma_lanes(-x[b].d * fp16_to_fp32(w[b].dmin), min_lanes, acc, 8);
    fma_lanes(x[b].d * fp16_to_fp32(w[b].d), lanes, acc, 8);
  }
  return sum8_llamacpp(acc);
}

float dot_q3_k(const BlockQ3_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < num_blocks; ++b) {
    int q[kQuantBlockK], scale[16];
    detail::decode_q3_k(w[b], q, scale);
    int32_t lanes[8];
    scaled_lane_sums<16>(q, scale, x[b].q, lanes);
    fma_lanes(x[b].d * fp16_to_fp32(w[b].d), lanes, acc, 8);
  }
  return sum8_llamacpp(acc);
}

// Q4_K and Q5_K share everything but the fifth bit and how the mins term is
// accumulated (a 4-lane vector for Q4_K, a scalar for Q5_K).
template <class Block, bool kFiveBits>
float dot_q45_k(const Block* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  float acc[8] = {}, acc_mins[4] = {};
  float mins_scalar = 0.0f;
  for (int64_t b = 0; b < num_blocks; ++b) {
    int q[kQuantBlockK], scale[8], mins[8];
    detail::decode_q45_k<Block, kFiveBits>(w[b], q, scale, mins);
    int32_t lanes[8], min_lanes[4];
    min_lane_sums_8(mins, x[b].bsums, min_lanes);
    const float dmin = -x[b].d * fp16_to_fp32(w[b].dmin);
    if constexpr (kFiveBits) {
      // NOTE: fused, as GCC compiles llama.cpp's `summs += dmin * hsum`.
      mins_scalar = std::fma(dmin, static_cast<float>((min_lanes[0] + min_lanes[1]) + (min_lanes[2] + min_lanes[3])),
                             mins_scalar);
    } else {
      fma_lanes(dmin, min_lanes, acc_mins, 4);
    }
    scaled_lane_sums<32>(q, scale, x[b].q, lanes);
    fma_lanes(x[b].d * fp16_to_fp32(w[b].d), lanes, acc, 8);
  }
  if constexpr (kFiveBits) return sum8_llamacpp(acc) + mins_scalar;
  return sum8_llamacpp(acc) + sum4_llamacpp(acc_mins);
}

float dot_q6_k(const BlockQ6_K* w, const ActivationBlockQ8K* x, int64_t num_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < num_blocks; ++b) {
    int q[kQuantBlockK], scale[16];
    detail::decode_q6_k(w[b], q, scale);  // the unsigned codes, 0..63 (the -32 comes below)
    int32_t lanes[8];
    scaled_lane_sums<16>(q, scale, x[b].q, lanes);
    // The -32 offset, through the activation sums: lane l loses
    // 32 * (bsums[2l] * scale[2l] + bsums[2l + 1] * scale[2l + 1]).
    for (int l = 0; l < 8; ++l) {
      lanes[l] -= 32 * (x[b].bsums[2 * l] * scale[2 * l] + x[b].bsums[2 * l + 1] * scale[2 * l + 1]);
    }
    fma_lanes(x[b].d * fp16_to_fp32(w[b].d), lanes, acc, 8);
  }
  return sum8_llamacpp(acc);
}

}  // namespace

float dot_quantized_k_reference(WeightFormat format, const void* w_row, const ActivationBlockQ8K* x,
                                int64_t num_blocks) {
  switch (format) {
    case WeightFormat::Q2_K: return dot_q2_k(static_cast<const BlockQ2_K*>(w_row), x, num_blocks);
    case WeightFormat::Q3_K: return dot_q3_k(static_cast<const BlockQ3_K*>(w_row), x, num_blocks);
    case WeightFormat::Q4_K: return dot_q45_k<BlockQ4_K, false>(static_cast<const BlockQ4_K*>(w_row), x, num_blocks);
    case WeightFormat::Q5_K: return dot_q45_k<BlockQ5_K, true>(static_cast<const BlockQ5_K*>(w_row), x, num_blocks);
    case WeightFormat::Q6_K: return dot_q6_k(static_cast<const BlockQ6_K*>(w_row), x, num_blocks);
    default: return 0.0f;  // not a K-quant; callers never pass one
  }
}

float dot_quantized_k(WeightFormat format, const void* w_row, const ActivationBlockQ8K* x, int64_t num_blocks) {
#ifdef KVS_DOT_AVX2
  switch (format) {
    case WeightFormat::Q2_K: return detail::dot_q2_k_avx2(static_cast<const BlockQ2_K*>(w_row), x, num_blocks);
    case WeightFormat::Q3_K: return detail::dot_q3_k_avx2(static_cast<const BlockQ3_K*>(w_row), x, num_blocks);
    case WeightFormat::Q4_K: return detail::dot_q4_k_avx2(static_cast<const BlockQ4_K*>(w_row), x, num_blocks);
    case WeightFormat::Q5_K: return detail::dot_q5_k_avx2(static_cast<const BlockQ5_K*>(w_row), x, num_blocks);
    case WeightFormat::Q6_K: return detail::dot_q6_k_avx2(static_cast<const BlockQ6_K*>(w_row), x, num_blocks);
    default: return 0.0f;
  }
#else
  return dot_quantized_k_reference(format, w_row, x, num_blocks);
#endif
}

}  // namespace kvs::kernels
