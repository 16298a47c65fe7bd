#pragma once
// Arguments of varlen prefill attention over the paged KV cache, shared by
// the CPU reference (kernels/cpu/prefill_attention_reference.h) and the CUDA
// kernel (kernels/cuda/prefill_attention.h). Pointers are host pointers for
// the CPU function and device pointers for the CUDA launcher; nothing owned.
//
// The batch is packed, no padding: sequence s owns query rows
// [cu_query_lens[s], cu_query_lens[s + 1]). After this step its cache holds
// context_lens[s] tokens, the new ones last (their K/V already written, e.g.
// by rope_kv_write), so query j of s sits at position
// context_lens[s] - query_len(s) + j and attends causally to cache positions
// [0, that position]: earlier context (prefix-cache hits, earlier chunks) and
// the new tokens alike, all read through the block table. Token p of s lives
// in block block_tables[s * max_blocks_per_seq + p / block_size] at offset
// p % block_size. GQA: head h reads KV head h / (num_heads / num_kv_heads).
#include <cstdint>

#include "kernels/kv_dtype.h"

namespace kvs::kernels {

struct PrefillAttentionArgs {
  // q: bf16 [num_query_tokens, q_row_stride], head h at h * head_dim.
  // out: bf16 [num_query_tokens, out_row_stride], head h at h * head_dim.
  const uint16_t* q = nullptr;
  int64_t q_row_stride = 0;
  uint16_t* out = nullptr;
  int64_t out_row_stride = 0;
  // K, V: [num_blocks, block_size, num_kv_heads, head_dim] each, of
  // kv_dtype: BF16, or FP8_E4M3 (one byte per value, kernels/fp8_e4m3.h;
  // widened to bf16 exactly on the way into the kernel's shared tiles).
  const void* k_cache = nullptr;
  const void* v_cache = nullptr;
  KvDType kv_dtype = KvDType::BF16;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t num_heads = 0;  // a multiple of num_kv_heads
  // The batch (int32): cu_query_lens [num_seqs + 1] (starts at 0),
  // context_lens [num_seqs] (>= the sequence's query length),
  // block_tables [num_seqs, max_blocks_per_seq].
  int64_t num_seqs = 0;
  const int32_t* cu_query_lens = nullptr;
  const int32_t* context_lens = nullptr;
  const int32_t* block_tables = nullptr;
  int64_t max_blocks_per_seq = 0;
  // Host-side value: the longest query length in the batch (the GPU grid is
  // sized from it, so no device-to-host copy is needed). >= every query length.
  int64_t max_query_len = 0;
  float scale = 0.0f;  // usually 1 / sqrt(head_dim)
};

}  // namespace kvs::kernels
