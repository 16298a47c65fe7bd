#pragma once
// Arguments of decode attention over the paged KV cache (one new token per
// sequence), shared by the CPU reference (kernels/cpu/decode_attention_reference.h),
// the CPU emulation of LeanAttention (kernels/cpu/lean_attention_emulation.h)
// and the CUDA kernels (kernels/cuda/lean_attention.h,
// kernels/cuda/splitk_decode_attention.h). Framework-free: raw pointers, which
// are host pointers for the CPU functions and device pointers for the CUDA
// launchers. Nothing is owned.
#include <cstdint>
#include <string>

#include "kernels/status.h"

namespace kvs::kernels {

// Element type of the K/V cache read by the decode kernels. FP8_E4M3: one
// byte per value (kernels/fp8_e4m3.h), read and widened in registers.
enum class DecodeKvType : uint8_t { F16, BF16, FP8_E4M3 };

inline int64_t decode_kv_element_bytes(DecodeKvType type) { return type == DecodeKvType::FP8_E4M3 ? 1 : 2; }

struct DecodeAttentionArgs {
  // q: [num_seqs, q_row_stride] floats; head h of sequence s at
  // q[s * q_row_stride + h * head_dim]. out: [num_seqs, num_heads * head_dim].
  const float* q = nullptr;
  int64_t q_row_stride = 0;
  float* out = nullptr;
  // K and V of one layer, each [num_blocks, block_size, num_kv_heads, head_dim]
  // (the layout of engine/model/kv_storage.h and kernels/cpu/paged_attention.h).
  const void* k_cache = nullptr;
  const void* v_cache = nullptr;
  DecodeKvType kv_type = DecodeKvType::BF16;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t num_heads = 0;  // query heads; a multiple of num_kv_heads (GQA)
  // The batch: sequence s has context_lens[s] >= 1 tokens in the cache (the
  // new one last, already written) and attends to all of them. Token p of s
  // lives in block block_tables[s * max_blocks_per_seq + p / block_size] at
  // offset p % block_size.
  int64_t num_seqs = 0;
  const int32_t* context_lens = nullptr;  // [num_seqs]
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
  float scale = 1.0f;  // softmax scale, usually 1 / sqrt(head_dim)
  // Optional side output for KV compression policies (H2O and friends):
  // token_mass[(s * num_kv_heads + g) * token_mass_stride + p] = sum over the
  // query heads h of KV head g of softmax_h(p), for p < context_lens[s]
  // (other entries untouched). With accumulate_mass the mass is added to what
  // is there (accumulated across decode steps), else it overwrites.
  // token_mass_stride >= the longest context. nullptr: off.
  float* token_mass = nullptr;
  int64_t token_mass_stride = 0;
  bool accumulate_mass = false;
};

// Shape checks shared by every implementation (pointers must be non-null;
// their contents, e.g. context lengths, are checked where they are readable).
inline Status check_decode_attention_shape(const DecodeAttentionArgs& a) {
  if (a.q == nullptr || a.out == nullptr || a.k_cache == nullptr || a.v_cache == nullptr ||
      a.context_lens == nullptr || a.block_tables == nullptr) {
    return Status::invalid("decode attention: null pointer");
  }
  if (a.num_seqs < 0 || a.num_blocks <= 0 || a.block_size <= 0 || a.num_kv_heads <= 0 || a.head_dim <= 0 ||
      a.max_blocks_per_seq <= 0) {
    return Status::invalid("decode attention: bad cache or batch shape");
  }
  if (a.num_heads <= 0 || a.num_heads % a.num_kv_heads != 0) {
    return Status::invalid("decode attention: num_heads must be a positive multiple of num_kv_heads");
  }
  if (a.q_row_stride < a.num_heads * a.head_dim) return Status::invalid("decode attention: q_row_stride too small");
  if (a.token_mass != nullptr && a.token_mass_stride <= 0) {
    return Status::invalid("decode attention: token_mass needs token_mass_stride");
  }
  if (a.num_blocks * a.block_size > (int64_t{1} << 31)) {
    return Status::invalid("decode attention: more than 2^31 cache slots");
  }
  return Status::success();
}

// Checks the host-readable batch contents: 1 <= context_lens[s] <= the block
// table's capacity (and <= token_mass_stride when the side output is on).
inline Status check_decode_attention_lens(const DecodeAttentionArgs& a, const int32_t* host_context_lens) {
  for (int64_t s = 0; s < a.num_seqs; ++s) {
    const int64_t len = host_context_lens[s];
    if (len < 1 || len > a.max_blocks_per_seq * a.block_size) {
      return Status::invalid("decode attention: context length " + std::to_string(len) + " of sequence " +
                             std::to_string(s) + " outside [1, block table capacity]");
    }
    if (a.token_mass != nullptr && len > a.token_mass_stride) {
      return Status::invalid("decode attention: context longer than token_mass_stride");
    }
  }
  return Status::success();
}

}  // namespace kvs::kernels
