#pragma once
// Compile-time dispatch of the decode attention kernels over (cache element
// type f16 / bf16 / fp8 e4m3, head dim 64/128/256, group size rounded up to 1/2/4/8, side output
// on/off).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <string>
#include <type_traits>

#include "kernels/decode_attention.h"

namespace kvs::kernels::cuda::decode {

template <typename T>
struct TypeTag {
  using type = T;
};
template <int N>
using IntTag = std::integral_constant<int, N>;
template <bool B>
using BoolTag = std::integral_constant<bool, B>;

// Calls fn(TypeTag<T>, IntTag<kDim>, IntTag<kMaxGroup>, BoolTag<kMass>) for
// the instance that serves `a`; unsupported shapes get a status.
template <bool kAllowMass, typename Fn>
Status dispatch(const DecodeAttentionArgs& a, Fn&& fn) {
  const int64_t group = a.num_heads / a.num_kv_heads;
  if (a.head_dim != 64 && a.head_dim != 128 && a.head_dim != 256) {
    return Status::unsupported("decode attention (cuda): head_dim " + std::to_string(a.head_dim) +
                               " (supported: 64, 128, 256)");
  }
  if (group < 1 || group > 8) {
    return Status::unsupported("decode attention (cuda): " + std::to_string(group) +
                               " query heads per KV head (supported: 1..8)");
  }
  const bool mass = a.token_mass != nullptr;
  if (mass && !kAllowMass) return Status::unsupported("decode attention (cuda): no token_mass in this kernel");
  auto with_mass = [&](auto type, auto dim, auto max_group) -> Status {
    if constexpr (kAllowMass) {
      if (mass) return fn(type, dim, max_group, BoolTag<true>{});
    }
    return fn(type, dim, max_group, BoolTag<false>{});
  };
  auto with_group = [&](auto type, auto dim) -> Status {
    if (group <= 1) return with_mass(type, dim, IntTag<1>{});
    if (group <= 2) return with_mass(type, dim, IntTag<2>{});
    if (group <= 4) return with_mass(type, dim, IntTag<4>{});
    return with_mass(type, dim, IntTag<8>{});
  };
  auto with_dim = [&](auto type) -> Status {
    if (a.head_dim == 64) return with_group(type, IntTag<64>{});
    if (a.head_dim == 128) return with_group(type, IntTag<128>{});
    return with_group(type, IntTag<256>{});
  };
  switch (a.kv_type) {
    case DecodeKvType::F16: return with_dim(TypeTag<__half>{});
    case DecodeKvType::BF16: return with_dim(TypeTag<__nv_bfloat16>{});
    case DecodeKvType::FP8_E4M3: return with_dim(TypeTag<__nv_fp8_e4m3>{});
  }
  return Status::unsupported("decode attention (cuda): unknown KV element type");
}

}  // namespace kvs::kernels::cuda::decode
