#pragma once
// Logits processing and sampling, one token per row: the argument contract
// and the exact arithmetic shared by the CPU reference
// (kernels/cpu/sampling_reference.h) and the CUDA kernel
// (kernels/cuda/sampling.h). Header-only; the math is __host__ __device__ so
// both sides run the very same code and agree token for token (greedy and
// sampled, for given uniforms or for given seeds).
//
// Per row, with z_i = logits_i / temperature (IEEE division):
//  1. temperature < kSamplingMinTemperature (or NaN): greedy, the argmax of the
//     logits, lowest index among equal maxima.
//  2. Order: token i ranks above j when key(z_i) > key(z_j), or equal keys and
//     i < j (key: sampling_order_key, the float order).
//  3. top-k (0 < k < vocab): keep the k highest-ranked tokens.
//  4. Weights: w_i = sampling_weight(z_i - max_j z_j), an integer (fixed point,
//     2^40 = probability ratio 1) from sampling_exp, for kept tokens; 0 else.
//     Integer sums are exact in any order, so the parallel GPU sums equal the
//     CPU's.
//  5. top-p (0 < p < 1): with W = sum of kept weights and P =
//     sampling_top_p_target(W, p), keep, in rank order, each kept token whose
//     preceding (higher-ranked, kept) weights sum to < P: the smallest
//     rank-prefix with mass >= p.
//  6. Draw: u in [0, 1) (the row's given uniform, or sampling_uniform(seed,
//     offset)); R = sampling_draw_target(u, W') with W' = sum of the weights
//     left; the token is the first i in index order whose running sum of
//     kept weights exceeds R. (Index order, not rank order: the same
//     distribution, and no sort on the GPU.)  W' = 0 (degenerate rows, e.g.
//     all logits -inf): greedy.
// Weights below 2^-40 of the top token's are 0 (never drawn).
// Limits: vocab_size < 2^24 (sums fit in 64 bits); logits must not be NaN.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/status.h"

#if defined(__CUDACC__)
#define KVS_SAMPLING_HD __host__ __device__ __forceinline__
#else
#define KVS_SAMPLING_HD inline
#endif

namespace kvs::kernels {

inline constexpr float kSamplingMinTemperature = 1e-5f;
inline constexpr int64_t kSamplingMaxVocab = int64_t{1} << 24;
inline constexpr double kSamplingWeightOne = 1099511627776.0;  // 2^40

struct SamplingArgs {
  // fp32 [num_rows, logits_row_stride]; the first vocab_size of each row are read.
  const float* logits = nullptr;
  int64_t logits_row_stride = 0;
  int64_t num_rows = 0;
  int64_t vocab_size = 0;
  // Per row (all [num_rows]): temperature (required); top_k (null or <= 0
  // or >= vocab_size: off); top_p (null or outside (0, 1): off); seed and
  // offset of the row's Philox draw (offset e.g. the number of tokens the
  // sequence has generated, so a seeded request repeats whatever its batch);
  // uniforms: if set, u is uniforms[row] in [0, 1) instead (tests, replay),
  // and seeds/offsets may be null.
  const float* temperatures = nullptr;
  const int32_t* top_k = nullptr;
  const float* top_p = nullptr;
  const uint64_t* seeds = nullptr;
  const uint64_t* offsets = nullptr;
  const double* uniforms = nullptr;
  int32_t* out_tokens = nullptr;  // [num_rows]
};

// Philox4x32-10 (Salmon et al., SC'11; Random123's constants).
struct Philox4x32 {
  uint32_t v[4];
};

KVS_SAMPLING_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  *lo = static_cast<uint32_t>(product);
}

KVS_SAMPLING_HD Philox4x32 philox4x32_10(Philox4x32 counter, uint32_t key0, uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += 0x9E3779B9u;
      key1 += 0xBB67AE85u;
    }
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, counter.v[0], &hi0, &lo0);
    philox_mulhilo(0xCD9E8D57u, counter.v[2], &hi1, &lo1);
    counter = Philox4x32{{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
  }
  return counter;
}

// u in [0, 1), a multiple of 2^-53: Philox with key = seed, counter = (offset, 0).
KVS_SAMPLING_HD double sampling_uniform(uint64_t seed, uint64_t offset) {
  const Philox4x32 r = philox4x32_10(
      Philox4x32{{static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32), 0u, 0u}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// exp(x) for x <= 0 from IEEE-exact steps only (explicit fma, rint, ldexp),
// so host and device agree bit for bit; relative error ~1e-7. 0 below -28
// (where sampling_weight is 0 anyway). NOTE: keep every multiply-add an
// explicit fmaf and no product feeding an addition: the device compiler fuses
// a * b + c by default.
KVS_SAMPLING_HD float sampling_exp(float x) {
  if (!(x >= -28.0f)) return 0.0f;
  const float k = rintf(x * 1.44269504088896341f);
  float r = fmaf(k, -0.693145751953125f, x);  // ln 2, high part (exact in k * hi)
  r = fmaf(k, -1.42860682030941723212e-6f, r);
  // Taylor to degree 7 on |r| <= ln2 / 2.
  float p = 1.98412698e-4f;
  p = fmaf(p, r, 1.38888889e-3f);
  p = fmaf(p, r, 8.33333333e-3f);
  p = fmaf(p, r, 4.16666667e-2f);
  p = fmaf(p, r, 1.66666667e-1f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  return ldexpf(p, static_cast<int>(k));
}

// Fixed-point weight of a token whose scaled logit is `delta` = z - max <= 0.
KVS_SAMPLING_HD uint64_t sampling_weight(float delta) {
  return static_cast<uint64_t>(static_cast<double>(sampling_exp(delta)) * kSamplingWeightOne);
}

// Order-preserving key of a float (larger float, larger key; -0 < +0).
KVS_SAMPLING_HD uint32_t sampling_order_key(float z) {
#if defined(__CUDA_ARCH__)
  const uint32_t bits = __float_as_uint(z);
#else
  uint32_t bits;
  std::memcpy(&bits, &z, sizeof(bits));
#endif
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// Mass the top-p prefix must reach: floor(p * W), at least 1.
KVS_SAMPLING_HD uint64_t sampling_top_p_target(uint64_t total, float p) {
  const uint64_t target = static_cast<uint64_t>(static_cast<double>(p) * static_cast<double>(total));
  return target < 1 ? 1 : target;
}

// The draw's position in [0, total): floor(u * W), clamped.
KVS_SAMPLING_HD uint64_t sampling_draw_target(double u, uint64_t total) {
  const uint64_t target = static_cast<uint64_t>(u * static_cast<double>(total));
  return target >= total ? total - 1 : target;
}

KVS_SAMPLING_HD bool sampling_is_greedy(float temperature) { return !(temperature >= kSamplingMinTemperature); }
KVS_SAMPLING_HD bool sampling_top_k_on(int32_t k, int64_t vocab) { return k > 0 && k < vocab; }
KVS_SAMPLING_HD bool sampling_top_p_on(float p) { return p > 0.0f && p < 1.0f; }

// Shape and pointer checks shared by the launcher and the reference.
inline Status check_sampling_args(const SamplingArgs& a) {
  if (a.num_rows < 0 || a.vocab_size <= 0 || a.vocab_size >= kSamplingMaxVocab || a.logits_row_stride < a.vocab_size) {
    return Status::invalid("sampling: bad shape (need 0 < vocab_size < 2^24, row stride >= vocab_size)");
  }
  if (a.num_rows == 0) return Status::success();
  if (a.logits == nullptr || a.temperatures == nullptr || a.out_tokens == nullptr) {
    return Status::invalid("sampling: null logits, temperatures or out_tokens");
  }
  if (a.uniforms == nullptr && (a.seeds == nullptr || a.offsets == nullptr)) {
    return Status::invalid("sampling: need seeds and offsets, or uniforms");
  }
  return Status::success();
}

}  // namespace kvs::kernels
