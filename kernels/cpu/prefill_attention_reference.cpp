#include "kernels/cpu/prefill_attention_reference.h"

#include <string>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/fp8_e4m3.h"

namespace kvs::kernels {

Status prefill_attention_reference(const PrefillAttentionArgs& a, float* out, const AttentionScores* scores) {
  if (a.num_seqs < 0 || a.head_dim <= 0 || a.num_kv_heads <= 0 || a.num_heads % a.num_kv_heads != 0 ||
      a.num_heads <= 0 || a.q_row_stride < a.num_heads * a.head_dim) {
    return Status::invalid("prefill_attention_reference: bad shape");
  }
  if (a.kv_dtype != KvDType::BF16 && a.kv_dtype != KvDType::FP8_E4M3) {
    return Status::invalid(std::string("prefill_attention_reference: KV dtype ") + kv_dtype_name(a.kv_dtype) +
                           " (supported: bf16, fp8_e4m3)");
  }
  if (a.num_seqs == 0) return Status::success();
  for (int64_t s = 0; s < a.num_seqs; ++s) {
    const int32_t query_len = a.cu_query_lens[s + 1] - a.cu_query_lens[s];
    if (query_len < 0 || a.context_lens[s] < query_len) {
      return Status::invalid("prefill_attention_reference: context shorter than the query");
    }
  }
  const int64_t num_tokens = a.cu_query_lens[a.num_seqs];
  const int64_t width = a.num_heads * a.head_dim;
  std::vector<float> q(static_cast<size_t>(num_tokens * width));
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int64_t i = 0; i < width; ++i) q[t * width + i] = bf16_to_fp32(a.q[t * a.q_row_stride + i]);
  }
  const int64_t cache_elems = a.num_blocks * a.block_size * a.num_kv_heads * a.head_dim;
  std::vector<float> k(static_cast<size_t>(cache_elems)), v(static_cast<size_t>(cache_elems));
  if (a.kv_dtype == KvDType::FP8_E4M3) {
    const auto* k8 = static_cast<const uint8_t*>(a.k_cache);
    const auto* v8 = static_cast<const uint8_t*>(a.v_cache);
    for (int64_t i = 0; i < cache_elems; ++i) {
      k[i] = fp8_e4m3_to_float(k8[i]);
      v[i] = fp8_e4m3_to_float(v8[i]);
    }
  } else {
    const auto* k16 = static_cast<const uint16_t*>(a.k_cache);
    const auto* v16 = static_cast<const uint16_t*>(a.v_cache);
    for (int64_t i = 0; i < cache_elems; ++i) {
      k[i] = bf16_to_fp32(k16[i]);
      v[i] = bf16_to_fp32(v16[i]);
    }
  }
  PagedKvLayer cache;
  cache.k = k.data();
  cache.v = v.data();
  cache.dtype = KvDType::F32;
  cache.num_blocks = a.num_blocks;
  cache.block_size = a.block_size;
  cache.num_kv_heads = a.num_kv_heads;
  cache.head_dim = a.head_dim;
  VarlenBatch batch;
  batch.num_seqs = a.num_seqs;
  batch.cu_query_lens = a.cu_query_lens;
  batch.context_lens = a.context_lens;
  batch.block_tables = a.block_tables;
  batch.max_blocks_per_seq = a.max_blocks_per_seq;
  return attention_varlen_paged(q.data(), width, out, cache, batch, a.num_heads, a.scale, scores);
}

}  // namespace kvs::kernels
