#pragma once
// CPU emulation of the LeanAttention CUDA kernel (kernels/cuda/lean_attention.h):
// the same stream-K schedule (kernels/lean_schedule.h), the same per-tile
// online softmax in float (base-2 exponent, scores pre-multiplied by
// scale * log2(e)), the same partial slots, per-pair arrival counters and
// last-arriver fix-up, and the same two-step token-mass side output (raw
// scores + final per-head max/sum, then a finalize pass). CTAs run one after
// another in a shuffled order, so the fix-up is exercised with every arrival
// order the GPU could produce. It validates the math the kernel implements
// against decode_attention_reference; it is not a fast CPU kernel.
#include <cstdint>

#include "kernels/decode_attention.h"

namespace kvs::kernels {

struct LeanEmulationOptions {
  int64_t grid = 132;       // CTAs, as the GPU launch would have
  int64_t tile_size = 64;   // tokens per KV tile (the kernel's kTileTokens)
  uint32_t order_seed = 0;  // permutes the CTA execution order; 0: in order
};

// Host pointers in `args`; same contract and checks as
// decode_attention_reference.
Status lean_attention_emulate(const DecodeAttentionArgs& args, const LeanEmulationOptions& options);

}  // namespace kvs::kernels
