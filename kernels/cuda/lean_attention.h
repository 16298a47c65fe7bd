#pragma once
// LeanAttention: stream-K decode attention over the paged KV cache (one new
// token per sequence). The KV tiles of every (sequence, KV head) pair are laid
// end to end and split evenly over exactly as many CTAs as the GPU holds at
// once (occupancy query), so one 512k-token sequence fills the GPU as well as
// a batch of 64 does; pairs cut between CTAs are merged (online-softmax
// partials) by the last CTA to finish its piece (atomic counter per pair), in
// the same launch. Schedule: kernels/lean_schedule.h. CPU reference:
// kernels/cpu/decode_attention_reference.h; CPU emulation of this exact
// algorithm: kernels/cpu/lean_attention_emulation.h. Design and status:
// kernels/cuda/README.md.
//
// Supported: head_dim 64, 128 and 256; num_heads / num_kv_heads = 1..8 (GQA,
// each K/V tile loaded once for the whole group); f16 or bf16 cache, any
// block size; fp32 q and out, fp32 accumulation; context lengths 1 .. 2^31
// tokens mixed freely in one launch. Other shapes: Status Unsupported.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/decode_attention.h"
#include "kernels/lean_workspace_layout.h"

namespace kvs::kernels::cuda {

// Scratch memory of launches (kernels/lean_workspace_layout.h), owned by the
// caller: one per stream that runs decode attention; launches on one stream
// may share it. Allocate lean_attention_workspace_bytes(shape, C) bytes once,
// zero-fill them once (cudaMemset; a launch leaves its per-pair counters at
// zero again) and set {data, bytes, max_num_seqs = C}: every launch with
// num_seqs <= C may then use it, whatever the batch sizes before it.
using kernels::LeanWorkspace;

// How a launch of this shape is laid out on the current device.
struct LeanLaunchInfo {
  int grid = 0;         // CTAs launched (= ctas_per_sm * num_sms)
  int ctas_per_sm = 0;  // occupancy of the kernel instance
  int num_sms = 0;
  int threads = 0;      // per CTA
  int shared_bytes = 0;  // dynamic shared memory per CTA
  int tile_tokens = 0;   // KV tokens per tile
};

// Launch layout for the shape in `shape` (kv_type, head_dim, num_heads,
// num_kv_heads and whether token_mass is set; pointers are not read) on the
// current device. The device queries run once per kernel instance and device
// (thread-safe), later calls read the cached values.
Status lean_attention_launch_info(const DecodeAttentionArgs& shape, LeanLaunchInfo* info);

// Workspace bytes for launches of this shape (as for launch_info; the side
// output's part is sized when shape.token_mass is set) with up to
// max_num_seqs sequences and, with the side output, a token_mass_stride of
// up to shape.token_mass_stride. Record max_num_seqs in
// LeanWorkspace::max_num_seqs.
Status lean_attention_workspace_bytes(const DecodeAttentionArgs& shape, int64_t max_num_seqs, size_t* bytes);

// out = decode attention (kernels/decode_attention.h), all pointers device
// pointers, asynchronous on `stream`. context_lens must hold 1 ..
// max_blocks_per_seq * block_size (and <= token_mass_stride with the side
// output) and block ids must be valid: the kernel reads them on the device and
// does not check them (the CPU reference does). The workspace must have been
// sized for this shape with max_num_seqs = workspace.max_num_seqs >=
// args.num_seqs (else InvalidArgument). Launches one kernel, plus a small
// finalize kernel when token_mass is set (none otherwise); no allocation, no
// synchronisation (CUDA-graph capturable once the instance was set up on this
// device by an earlier call, e.g. lean_attention_workspace_bytes). Not
// thread-safe with respect to the workspace.
Status lean_attention_decode(const DecodeAttentionArgs& args, const LeanWorkspace& workspace, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
