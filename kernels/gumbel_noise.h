#pragma once
// Keyformer's Gumbel noise for the KV-policy score side output: one
// definition for the CPU attention (kernels/cpu/paged_attention.cpp,
// gumbel_noise) and the CUDA naive attention (kernels/cuda/naive_attention.cu).
// Header-only, __host__ __device__ under nvcc. Pure functions, thread-safe.
//
// NOTE: the host evaluates log with glibc (correctly rounded in practice), the
// device with CUDA's double log (within 1 ulp). The noise is rounded to float
// after the two logs, so the two sides almost always agree bit for bit; where
// they do not, one score term differs in its last bits. Tests of the device
// scores against the CPU allow 1 fixed-point unit per summed term.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define KVS_GUMBEL_HD __host__ __device__ __forceinline__
#else
#define KVS_GUMBEL_HD inline
#endif

namespace kvs::kernels {

// The noise seed of one query row: the sequence's seed mixed with the row's
// cache index (as accumulate_scores in kernels/cpu/paged_attention.cpp), so a
// row's noise does not depend on how its prompt was chunked.
KVS_GUMBEL_HD uint64_t gumbel_row_seed(uint64_t seed, int64_t row_cache_index) {
  return seed ^ (static_cast<uint64_t>(row_cache_index) * 0xD6E8FEB86659FD93ull);
}

// Gumbel(0, 1) noise for (seed, head, key cache index): -log(-log(u)) in
// double, rounded to float, with u uniform in (0, 1) from a splitmix64
// finaliser over the three inputs (53 bits, offset by half a step so u is
// never 0 or 1). Deterministic.
KVS_GUMBEL_HD float gumbel_noise_value(uint64_t seed, int64_t head, int64_t position) {
  uint64_t z = seed ^ (static_cast<uint64_t>(head) * 0x9E3779B97F4A7C15ull) ^
               (static_cast<uint64_t>(position) * 0xC2B2AE3D27D4EB4Full);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const double u = (static_cast<double>(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);  // (0, 1)
  return static_cast<float>(-::log(-::log(u)));
}

}  // namespace kvs::kernels
