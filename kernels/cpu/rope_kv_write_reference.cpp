#include "kernels/cpu/rope_kv_write_reference.h"

#include <string>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/rope.h"
#include "kernels/fp8_e4m3.h"

namespace kvs::kernels {
namespace {

// Rotates `num_heads` bf16 heads of one token from src into `scratch` (float).
void rotate_row(const uint16_t* src, int64_t num_heads, int64_t head_dim, int32_t position, const float* inv_freq,
                std::vector<float>& scratch) {
  const int64_t n = num_heads * head_dim;
  scratch.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) scratch[i] = bf16_to_fp32(src[i]);
  rope_rotate_half(scratch.data(), n, &position, 1, num_heads, head_dim, inv_freq);
}

// Stores n floats as cache elements of `dtype` (bf16 or fp8_e4m3) at element `at`.
void store_row(const float* x, int64_t n, void* cache, int64_t at, KvDType dtype) {
  if (dtype == KvDType::FP8_E4M3) {
    for (int64_t i = 0; i < n; ++i) static_cast<uint8_t*>(cache)[at + i] = fp8_e4m3_from_float(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(cache)[at + i] = fp32_to_bf16(x[i]);
  }
}

}  // namespace

Status rope_kv_write_reference(const RopeKvWriteArgs& a) {
  if (a.head_dim <= 0 || a.head_dim % 2 != 0 || a.num_kv_heads <= 0 || a.num_blocks <= 0 || a.block_size <= 0) {
    return Status::invalid("rope_kv_write: bad shape");
  }
  if (a.kv_dtype != KvDType::BF16 && a.kv_dtype != KvDType::FP8_E4M3) {
    return Status::invalid(std::string("rope_kv_write: KV dtype ") + kv_dtype_name(a.kv_dtype) +
                           " (supported: bf16, fp8_e4m3)");
  }
  const int64_t kv_row = a.num_kv_heads * a.head_dim;
  std::vector<float> scratch;
  for (int64_t t = 0; t < a.num_tokens; ++t) {
    const int32_t position = a.positions[t];
    if (a.num_heads > 0) {
      uint16_t* q = a.q + t * a.q_row_stride;
      rotate_row(q, a.num_heads, a.head_dim, position, a.inv_freq, scratch);
      for (int64_t i = 0; i < a.num_heads * a.head_dim; ++i) q[i] = fp32_to_bf16(scratch[i]);
    }
    const int64_t slot = a.slot_mapping[t];
    if (slot < 0) continue;
    if (slot >= a.num_blocks * a.block_size) {
      return Status::invalid("rope_kv_write: slot " + std::to_string(slot) + " outside the cache");
    }
    rotate_row(a.k + t * a.k_row_stride, a.num_kv_heads, a.head_dim, position, a.inv_freq, scratch);
    store_row(scratch.data(), kv_row, a.k_cache, slot * kv_row, a.kv_dtype);
    if (a.kv_dtype == KvDType::FP8_E4M3) {
      for (int64_t i = 0; i < kv_row; ++i) scratch[i] = bf16_to_fp32(a.v[t * a.v_row_stride + i]);
      store_row(scratch.data(), kv_row, a.v_cache, slot * kv_row, a.kv_dtype);
    } else {
      for (int64_t i = 0; i < kv_row; ++i) static_cast<uint16_t*>(a.v_cache)[slot * kv_row + i] = a.v[t * a.v_row_stride + i];
    }
  }
  return Status::success();
}

}  // namespace kvs::kernels
