#include "kernels/cuda/rope_kv_write.h"

#include <string>

#include "kernels/cuda/bf16_util.cuh"
#include "kernels/cuda/fp8_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 128;

// Cache element of type uint16_t (bf16) or uint8_t (fp8 E4M3) from a float.
template <typename CacheT>
__device__ __forceinline__ CacheT to_cache(float x) {
  if constexpr (sizeof(CacheT) == 1) {
    return float_to_fp8_e4m3(x);
  } else {
    return float_to_bf16(x);
  }
}

template <typename CacheT>
__global__ void rope_kv_write_kernel(RopeKvWriteArgs a) {
  const int64_t t = blockIdx.x;
  const int64_t half = a.head_dim / 2;
  const float position = static_cast<float>(a.positions[t]);
  const int64_t slot = a.slot_mapping[t];
  const bool write = slot >= 0 && slot < a.num_blocks * a.block_size;
  const int64_t kv_row = a.num_kv_heads * a.head_dim;
  CacheT* k_dst = static_cast<CacheT*>(a.k_cache) + slot * kv_row;
  CacheT* v_dst = static_cast<CacheT*>(a.v_cache) + slot * kv_row;
  // Rotation pairs of Q heads, then of K heads.
  const int64_t num_pairs = (a.num_heads + a.num_kv_heads) * half;
  for (int64_t p = threadIdx.x; p < num_pairs; p += kThreads) {
    const int64_t head = p / half, i = p % half;
    float s, c;
    sincosf(position * a.inv_freq[i], &s, &c);
    if (head < a.num_heads) {
      uint16_t* x = a.q + t * a.q_row_stride + head * a.head_dim;
      const float x0 = bf16_to_float(x[i]), x1 = bf16_to_float(x[i + half]);
      x[i] = float_to_bf16(x0 * c - x1 * s);
      x[i + half] = float_to_bf16(x1 * c + x0 * s);
    } else if (write) {
      const int64_t g = head - a.num_heads;
      const uint16_t* x = a.k + t * a.k_row_stride + g * a.head_dim;
      const float x0 = bf16_to_float(x[i]), x1 = bf16_to_float(x[i + half]);
      k_dst[g * a.head_dim + i] = to_cache<CacheT>(x0 * c - x1 * s);
      k_dst[g * a.head_dim + i + half] = to_cache<CacheT>(x1 * c + x0 * s);
    }
  }
  if (!write) return;
  for (int64_t e = threadIdx.x; e < kv_row; e += kThreads) {
    const int64_t g = e / a.head_dim, i = e % a.head_dim;
    const uint16_t v = a.v[t * a.v_row_stride + g * a.head_dim + i];
    if constexpr (sizeof(CacheT) == 1) {
      v_dst[e] = float_to_fp8_e4m3(bf16_to_float(v));
    } else {
      v_dst[e] = v;
    }
  }
}

}  // namespace

Status rope_kv_write(const RopeKvWriteArgs& a, cudaStream_t stream) {
  if (a.num_tokens < 0 || a.num_tokens > INT32_MAX) return Status::invalid("cuda rope_kv_write: bad num_tokens");
  if (a.num_tokens == 0) return Status::success();
  if (a.k == nullptr || a.v == nullptr || a.k_cache == nullptr || a.v_cache == nullptr || a.positions == nullptr ||
      a.slot_mapping == nullptr || a.inv_freq == nullptr || (a.num_heads > 0 && a.q == nullptr)) {
    return Status::invalid("cuda rope_kv_write: null pointer");
  }
  if (a.head_dim <= 0 || a.head_dim % 2 != 0 || a.num_heads < 0 || a.num_kv_heads <= 0 || a.num_blocks <= 0 ||
      a.block_size <= 0) {
    return Status::invalid("cuda rope_kv_write: bad shape");
  }
  if ((a.num_heads > 0 && a.q_row_stride < a.num_heads * a.head_dim) ||
      a.k_row_stride < a.num_kv_heads * a.head_dim || a.v_row_stride < a.num_kv_heads * a.head_dim) {
    return Status::invalid("cuda rope_kv_write: row stride below the heads' width");
  }
  if (a.kv_dtype == KvDType::FP8_E4M3) {
    rope_kv_write_kernel<uint8_t><<<static_cast<unsigned>(a.num_tokens), kThreads, 0, stream>>>(a);
  } else if (a.kv_dtype == KvDType::BF16) {
    rope_kv_write_kernel<uint16_t><<<static_cast<unsigned>(a.num_tokens), kThreads, 0, stream>>>(a);
  } else {
    return Status::unsupported(std::string("cuda rope_kv_write: KV dtype ") + kv_dtype_name(a.kv_dtype) +
                               " (supported: bf16, fp8_e4m3)");
  }
  return launch_status("cuda rope_kv_write");
}

}  // namespace kvs::kernels::cuda
