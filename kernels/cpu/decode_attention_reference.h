#pragma once
// CPU reference of decode attention over the paged KV cache (one query token
// per sequence), the ground truth for LeanAttention and the split-K decode
// kernel on the GPU (kernels/cuda/lean_attention.h) and for their CPU
// emulation. Straightforward on purpose: K/V (f16, bf16 or fp8_e4m3)
// converted to float exactly, dot
// products, softmax and the weighted sum of V in double. Also produces the
// per-token attention mass side output (DecodeAttentionArgs::token_mass).
#include <cstdint>

#include "kernels/decode_attention.h"

namespace kvs::kernels {

// Host pointers in `args`. Checks the shape, every context length and every
// block id it reads (block ids must lie in [0, num_blocks)). Multi-threaded
// over (sequence, head); each output depends only on its own sequence.
Status decode_attention_reference(const DecodeAttentionArgs& args);

// Checks that every block id the batch reads lies in [0, num_blocks) (host
// pointers; context lengths already checked).
Status check_decode_attention_tables(const DecodeAttentionArgs& args);

// Element `index` of a K/V cache of type `type`, as float (exact).
float decode_kv_load(const void* cache, DecodeKvType type, int64_t index);

}  // namespace kvs::kernels
