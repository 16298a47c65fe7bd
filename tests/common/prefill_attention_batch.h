#pragma once
// A random packed prefill batch over a paged bf16 KV cache (host side), for
// the CPU reference test and the GPU test of varlen prefill attention.
// Sequences are (query_len, context_len) pairs, context_len >= query_len
// (context_len - query_len tokens of earlier context). Blocks are handed out
// in a shuffled order; unused block-table entries hold -1 (a kernel that
// read them would read outside the cache).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/prefill_attention.h"

namespace kvs::test {

struct PrefillBatch {
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0, block_size = 0;
  int64_t num_blocks = 0, max_blocks_per_seq = 0, q_row_stride = 0, num_tokens = 0, max_query_len = 0;
  std::vector<int32_t> cu_query_lens, context_lens, block_tables;
  std::vector<uint16_t> q, k, v;  // bf16 bits

  // Host pointers (out left null).
  kernels::PrefillAttentionArgs args() const {
    kernels::PrefillAttentionArgs a;
    a.q = q.data();
    a.q_row_stride = q_row_stride;
    a.out_row_stride = num_heads * head_dim;
    a.k_cache = k.data();
    a.v_cache = v.data();
    a.num_blocks = num_blocks;
    a.block_size = block_size;
    a.num_kv_heads = num_kv_heads;
    a.head_dim = head_dim;
    a.num_heads = num_heads;
    a.num_seqs = static_cast<int64_t>(context_lens.size());
    a.cu_query_lens = cu_query_lens.data();
    a.context_lens = context_lens.data();
    a.block_tables = block_tables.data();
    a.max_blocks_per_seq = max_blocks_per_seq;
    a.max_query_len = max_query_len;
    a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    return a;
  }
};

// q rows have room for a fused QKV row ((num_heads + 2 * num_kv_heads) *
// head_dim), as the engine's GEMM output does.
inline PrefillBatch make_prefill_batch(const std::vector<std::pair<int32_t, int32_t>>& seqs, int64_t num_heads,
                                       int64_t num_kv_heads, int64_t head_dim, int64_t block_size, uint32_t seed) {
  PrefillBatch b;
  b.num_heads = num_heads;
  b.num_kv_heads = num_kv_heads;
  b.head_dim = head_dim;
  b.block_size = block_size;
  b.q_row_stride = (num_heads + 2 * num_kv_heads) * head_dim;
  b.cu_query_lens.push_back(0);
  int64_t total_blocks = 0;
  for (const auto& [query_len, context_len] : seqs) {
    b.cu_query_lens.push_back(b.cu_query_lens.back() + query_len);
    b.context_lens.push_back(context_len);
    b.max_query_len = std::max<int64_t>(b.max_query_len, query_len);
    const int64_t blocks = (context_len + block_size - 1) / block_size;
    b.max_blocks_per_seq = std::max(b.max_blocks_per_seq, blocks + 1);
    total_blocks += blocks;
  }
  b.num_tokens = b.cu_query_lens.back();
  b.num_blocks = total_blocks + 2;
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(b.num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  b.block_tables.assign(seqs.size() * b.max_blocks_per_seq, -1);
  size_t next = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const int64_t blocks = (seqs[s].second + block_size - 1) / block_size;
    for (int64_t j = 0; j < blocks; ++j) b.block_tables[s * b.max_blocks_per_seq + j] = ids[next++];
  }
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto fill = [&](std::vector<uint16_t>& out, size_t n, float stddev) {
    out.resize(n);
    for (uint16_t& x : out) x = kernels::fp32_to_bf16(stddev * normal(rng));
  };
  fill(b.q, static_cast<size_t>(std::max<int64_t>(b.num_tokens, 1) * b.q_row_stride), 1.5f);
  const size_t cache = static_cast<size_t>(b.num_blocks * block_size * num_kv_heads * head_dim);
  fill(b.k, cache, 1.5f);
  fill(b.v, cache, 1.0f);
  return b;
}

}  // namespace kvs::test
