#pragma once
// Arguments of RoPE fused with the write of K and V into the paged KV cache,
// shared by the CPU reference (kernels/cpu/rope_kv_write_reference.h) and the
// CUDA kernel (kernels/cuda/rope_kv_write.h). Pointers are host pointers for
// the CPU function and device pointers for the CUDA launcher; nothing owned.
#include <cstdint>

#include "kernels/kv_dtype.h"

namespace kvs::kernels {

struct RopeKvWriteArgs {
  int64_t num_tokens = 0;
  // Q: bf16 [num_tokens, q_row_stride], head h at h * head_dim; rotated in
  // place. May be null with num_heads = 0 (K/V only).
  uint16_t* q = nullptr;
  int64_t q_row_stride = 0;
  int64_t num_heads = 0;
  // K, V of the new tokens: bf16 rows, KV head g at g * head_dim; not
  // modified (K is rotated on its way into the cache). q, k and v may be
  // three views of one fused QKV GEMM output.
  const uint16_t* k = nullptr;
  int64_t k_row_stride = 0;
  const uint16_t* v = nullptr;
  int64_t v_row_stride = 0;
  // The cache: [num_blocks, block_size, num_kv_heads, head_dim] each (layout
  // of kernels/cpu/paged_attention.h) of kv_dtype: BF16 (round to nearest
  // even) or FP8_E4M3 (one byte per value, scale 1.0, saturating to +-448:
  // kernels/fp8_e4m3.h). Other dtypes are rejected.
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  KvDType kv_dtype = KvDType::BF16;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // even
  // positions: int32 [num_tokens]. slot_mapping: int32 [num_tokens],
  // slot = block * block_size + offset; a negative slot writes nothing (the
  // token's Q is still rotated).
  const int32_t* positions = nullptr;
  const int32_t* slot_mapping = nullptr;
  // fp32 [head_dim / 2] inverse frequencies, e.g. rope_inverse_frequencies
  // (kernels/cpu/rope.h) with "llama3" scaling. Rotate-half (HF) layout: pair
  // (i, i + head_dim / 2) turns by angle = float(position) * inv_freq[i].
  const float* inv_freq = nullptr;
};

}  // namespace kvs::kernels
