#pragma once
// Test helper (header-only): a random decode batch over a paged K/V cache in
// f16 or bf16, block ids scrambled so the block tables matter. Shared by the
// CPU tests of the decode attention reference / LeanAttention emulation and
// the GPU tests of the CUDA kernels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/decode_attention.h"

namespace kvs::test {

struct DecodeBatch {
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0, block_size = 0, num_blocks = 0, max_blocks = 0;
  kernels::DecodeKvType type = kernels::DecodeKvType::BF16;
  std::vector<int32_t> lens, tables;
  std::vector<uint16_t> k, v;
  std::vector<float> q;
  int64_t max_len() const { return *std::max_element(lens.begin(), lens.end()); }
  int64_t num_seqs() const { return static_cast<int64_t>(lens.size()); }
  int64_t kv_bytes_read() const {  // K and V bytes one decode step reads
    int64_t tokens = 0;
    for (int32_t l : lens) tokens += l;
    return 2 * tokens * num_kv_heads * head_dim * 2;
  }

  // Arguments over this batch's host arrays (the GPU tests swap in device
  // pointers).
  kernels::DecodeAttentionArgs args(float* out, float* token_mass = nullptr, int64_t mass_stride = 0) const {
    kernels::DecodeAttentionArgs a;
    a.q = q.data();
    a.q_row_stride = num_heads * head_dim;
    a.out = out;
    a.k_cache = k.data();
    a.v_cache = v.data();
    a.kv_type = type;
    a.num_blocks = num_blocks;
    a.block_size = block_size;
    a.num_kv_heads = num_kv_heads;
    a.head_dim = head_dim;
    a.num_heads = num_heads;
    a.num_seqs = num_seqs();
    a.context_lens = lens.data();
    a.block_tables = tables.data();
    a.max_blocks_per_seq = max_blocks;
    a.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    a.token_mass = token_mass;
    a.token_mass_stride = mass_stride;
    return a;
  }
};

// Cheap deterministic pseudo-normal values (sum of 4 uniforms, centred; the
// caches of the long-context cases hold up to ~10^9 elements).
inline float pseudo_normal(uint64_t& state) {
  float sum = 0.0f;
  for (int i = 0; i < 4; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    sum += static_cast<float>(state >> 40) * (1.0f / 16777216.0f);
  }
  return (sum - 2.0f) * 1.7320508f;
}

inline DecodeBatch make_decode_batch(std::vector<int32_t> lens, int64_t num_heads, int64_t num_kv_heads,
                                     int64_t head_dim, int64_t block_size, kernels::DecodeKvType type,
                                     uint64_t seed = 1) {
  DecodeBatch b;
  b.num_heads = num_heads;
  b.num_kv_heads = num_kv_heads;
  b.head_dim = head_dim;
  b.block_size = block_size;
  b.type = type;
  b.lens = std::move(lens);
  for (int32_t l : b.lens) {
    const int64_t blocks = (l + block_size - 1) / block_size;
    b.max_blocks = std::max(b.max_blocks, blocks);
    b.num_blocks += blocks;
  }
  b.num_blocks += 3;  // a few blocks no sequence uses
  std::vector<int32_t> ids(static_cast<size_t>(b.num_blocks));
  for (int64_t i = 0; i < b.num_blocks; ++i) ids[i] = static_cast<int32_t>(i);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(static_cast<uint32_t>(seed)));
  b.tables.assign(static_cast<size_t>(b.num_seqs() * b.max_blocks), -1);
  size_t next = 0;
  for (int64_t s = 0; s < b.num_seqs(); ++s) {
    for (int64_t j = 0; j < (b.lens[s] + block_size - 1) / block_size; ++j) b.tables[s * b.max_blocks + j] = ids[next++];
  }
  const size_t elements = static_cast<size_t>(b.num_blocks * block_size * num_kv_heads * head_dim);
  b.k.resize(elements);
  b.v.resize(elements);
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  auto encode = [&](float x) {
    return type == kernels::DecodeKvType::F16 ? kernels::fp32_to_fp16(x) : kernels::fp32_to_bf16(x);
  };
  for (size_t i = 0; i < elements; ++i) b.k[i] = encode(pseudo_normal(state));
  for (size_t i = 0; i < elements; ++i) b.v[i] = encode(pseudo_normal(state));
  b.q.resize(static_cast<size_t>(b.num_seqs() * num_heads * head_dim));
  for (float& x : b.q) x = pseudo_normal(state);
  return b;
}

}  // namespace kvs::test
