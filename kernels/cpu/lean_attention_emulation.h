#pragma once
// CPU emulation of the LeanAttention CUDA kernel (kernels/cuda/lean_attention.h):
// the same stream-K schedule (kernels/lean_schedule.h), the same per-tile
// online softmax in float (base-2 exponent, scores pre-multiplied by
// scale * log2(e)), the same partial slots, per-pair arrival counters and
// last-arriver fix-up, and the same two-step token-mass side output (raw
// scores + final per-head max/sum, then a finalize pass), all kept in a
// workspace with the kernel's byte layout (kernels/lean_workspace_layout.h).
// CTAs run one after another in a shuffled order, so the fix-up is exercised
// with every arrival order the GPU could produce. It validates the math the
// kernel implements against decode_attention_reference; it is not a fast CPU
// kernel.
#include <cstdint>

#include "kernels/decode_attention.h"
#include "kernels/lean_workspace_layout.h"

namespace kvs::kernels {

struct LeanEmulationOptions {
  int64_t grid = 132;       // CTAs, as the GPU launch would have
  int64_t tile_size = 64;   // tokens per KV tile (the kernel's kTileTokens)
  uint32_t order_seed = 0;  // permutes the CTA execution order; 0: in order
};

// Bytes of a host workspace for emulated launches of `shape` (head counts,
// head_dim, token_mass / token_mass_stride as for the launches) with
// options.grid CTAs and up to max_num_seqs sequences.
int64_t lean_emulation_workspace_bytes(const DecodeAttentionArgs& shape, const LeanEmulationOptions& options,
                                       int64_t max_num_seqs);

// Host pointers in `args`; same contract and checks as
// decode_attention_reference. Runs on a private zeroed workspace.
Status lean_attention_emulate(const DecodeAttentionArgs& args, const LeanEmulationOptions& options);

// The same on a caller's host workspace, as the GPU launch's: sized with
// lean_emulation_workspace_bytes for workspace.max_num_seqs, zero-filled once,
// reusable across calls of any num_seqs <= max_num_seqs (the counters persist
// between calls, as on the GPU). Checks it as the GPU launcher does
// (InvalidArgument if num_seqs > max_num_seqs or too few bytes) and fails if
// the launch leaves any counter of the workspace non-zero.
Status lean_attention_emulate(const DecodeAttentionArgs& args, const LeanEmulationOptions& options,
                              const LeanWorkspace& workspace);

}  // namespace kvs::kernels
