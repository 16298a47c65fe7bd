#pragma once
// Simple varlen paged attention on the GPU: the fallback for shapes the fast
// kernels (prefill_attention.h: head dims 64/128; lean_attention.h) do not
// support, and the source of the KV-policy score side output on the GPU.
// Contract: kernels/naive_attention.h. CPU reference:
// kernels/cpu/naive_attention_reference.h. Design: kernels/cuda/README.md.
#include <cuda_runtime.h>

#include "kernels/naive_attention.h"
#include "kernels/status.h"

namespace kvs::kernels::cuda {

// One CTA of 64 threads per (query row, head): grid (num_query_tokens,
// num_heads), any head_dim 1..256, any GQA group. The causal window [0, i] is
// walked in chunks of 64 keys with an fp32 online softmax (windows of any
// length; nothing grows with the window), K/V rows gathered through the block
// table (any block size) into shared memory. Each key's logit is computed by
// one thread exactly as the CPU does (fp32 products and sums in index order,
// no FMA), so the score side output uses the CPU's logits bit for bit; rows
// that want scores take a second pass over their keys, adding each term with
// a 64-bit atomicAdd. The device's double exp/log are within 1 ulp of glibc's,
// so a term may differ from the CPU's by 1 fixed-point unit.
// Positions whose block-table entry is outside [0, num_blocks) (or past
// max_blocks_per_seq) are masked out instead of read; the reference rejects
// such input. All pointers device pointers; no alignment required (16- and
// 4-byte loads are used where alignment allows). Asynchronous on `stream`; no
// workspace, no host synchronisation (CUDA-graph capturable).
// Errors: InvalidArgument (null pointers, bad shapes, scores without
// row_begin/offsets, tau without seeds), Unsupported (head_dim over 256, more
// than 65535 heads, more than 2^31 - 1 query rows).
Status naive_attention(const NaiveAttentionArgs& args, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
