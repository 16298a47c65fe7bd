#pragma once
// RoPE (rotate-half) applied to Q in place and to K on its way into the paged
// KV cache, V copied into the cache, in one launch. Contract:
// kernels/rope_kv_write.h. CPU reference: kernels/cpu/rope_kv_write_reference.h.
#include <cuda_runtime.h>

#include "kernels/rope_kv_write.h"
#include "kernels/status.h"

namespace kvs::kernels::cuda {

// All pointers device pointers; asynchronous on `stream`. Rotation in fp32
// with sincosf (full-range, not the fast intrinsics), results rounded to bf16
// or, for an FP8_E4M3 cache, to fp8 E4M3 (nearest even, saturating at +-448,
// scale 1.0: kernels/fp8_e4m3.h; V widened from bf16 and encoded the same
// way). Other KV dtypes: Unsupported.
// Slots >= num_blocks * block_size are skipped on the device (the engine's
// block manager hands out valid slots; the CPU reference rejects them). One
// CTA per token.
Status rope_kv_write(const RopeKvWriteArgs& args, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
