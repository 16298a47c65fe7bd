#pragma once
// CPU reference of the CUDA naive attention (kernels/cuda/naive_attention.h;
// contract kernels/naive_attention.h): widens q and the bf16 or fp8_e4m3
// cache to float
// and runs attention_varlen_paged (kernels/cpu/paged_attention.h, F32: float
// dot products in index order, softmax sums in double) with its
// AttentionScores side output, which is the statistic the contract defines.
// Host pointers; args.attention.out is not used. Thread-safe for distinct
// outputs (uses the CPU kernels' OpenMP threads).
#include "kernels/naive_attention.h"
#include "kernels/status.h"

namespace kvs::kernels {

// out: float [num_query_tokens, num_heads * head_dim]. With args.scores set,
// the score side output is added into args.scores. InvalidArgument for a bad
// shape, a context shorter than its query, or a block id outside the cache.
Status naive_attention_reference(const NaiveAttentionArgs& args, float* out);

}  // namespace kvs::kernels
