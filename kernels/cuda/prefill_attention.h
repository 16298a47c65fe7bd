#pragma once
// Varlen prefill attention on the GPU (FlashAttention-2 style): causal
// attention over a packed, padding-free batch, every sequence also attending
// to its earlier context in the paged KV cache; GQA; bf16 tensor cores
// (mma.sync m16n8k16, fp32 accumulate); online softmax in base 2. Contract:
// kernels/prefill_attention.h. CPU reference:
// kernels/cpu/prefill_attention_reference.h. Design and status:
// kernels/cuda/README.md.
#include <cuda_runtime.h>

#include "kernels/prefill_attention.h"
#include "kernels/status.h"

namespace kvs::kernels::cuda {

// One launch for the whole batch: grid (ceil(max_query_len / 64), num_heads,
// num_seqs), 128 threads (4 warps x 16 query rows) per CTA, KV tiles of 64
// tokens double-buffered with cp.async, gathered row by row through the
// block table (any block size). Tiles past a sequence's length exit at once.
// Supported: head_dim 64 and 128; KV dtype bf16 or fp8_e4m3 (fp8 rows are
// widened to bf16 in registers on their way into shared memory, exact);
// q_row_stride a multiple of 8 and q, k_cache, v_cache 16-byte aligned
// (cp.async); else Unsupported. All pointers device
// pointers; asynchronous on `stream`; no workspace. The kernel does not check
// block ids or context lengths on the device: context_lens[s] must be >= the
// query length and <= max_blocks_per_seq * block_size.
Status prefill_attention(const PrefillAttentionArgs& args, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
