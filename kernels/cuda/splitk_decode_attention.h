#pragma once
// Fixed split-K ("flash decoding") decode attention over the paged KV cache:
// the comparison point for LeanAttention (kernels/cuda/lean_attention.h).
// Every (sequence, KV head) pair is cut into the same number of contiguous
// pieces regardless of its length, one CTA per piece (grid num_splits x
// num_kv_heads x num_seqs), then a second kernel merges each pair's pieces.
// Same tile code, pipeline and thread mapping as LeanAttention
// (kernels/cuda/decode_attention_tile.cuh), so a benchmark compares the
// schedules. Same argument contract (kernels/decode_attention.h); no
// token_mass side output.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/decode_attention.h"

namespace kvs::kernels::cuda {

// Workspace bytes for up to max_num_seqs sequences with num_splits pieces.
Status splitk_decode_attention_workspace_bytes(const DecodeAttentionArgs& shape, int64_t max_num_seqs,
                                               int num_splits, size_t* bytes);

// A flash-decoding style choice of num_splits: enough pieces to give every
// SM `ctas_per_sm` CTAs when all pairs are as long as the longest, capped so
// no piece of the longest pair is empty and at 128. Host lengths.
int splitk_default_num_splits(const DecodeAttentionArgs& shape, int64_t max_context_len, int num_sms,
                              int ctas_per_sm);

// Device pointers; asynchronous on `stream`; num_splits >= 1. The workspace
// needs no initialisation. Same context-length contract as
// lean_attention_decode.
Status splitk_decode_attention(const DecodeAttentionArgs& args, int num_splits, void* workspace,
                               size_t workspace_bytes, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
