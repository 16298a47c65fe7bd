#pragma once
// CPU reference of the GPU varlen prefill attention
// (kernels/cuda/prefill_attention.h; contract kernels/prefill_attention.h):
// widens q and the bf16 or fp8_e4m3 cache (kernels/fp8_e4m3.h) to float
// (exact) and runs attention_varlen_paged
// (kernels/cpu/paged_attention.h, F32: float dot products, softmax sums in
// double). Host pointers; args.out is not used.
#include "kernels/cpu/paged_attention.h"
#include "kernels/prefill_attention.h"
#include "kernels/status.h"

namespace kvs::kernels {

// out: float [num_query_tokens, num_heads * head_dim].
// scores: the KV-policy score side output (AttentionScores), or null.
Status prefill_attention_reference(const PrefillAttentionArgs& args, float* out,
                                   const AttentionScores* scores = nullptr);

}  // namespace kvs::kernels
