#pragma once
// CPU reference of RoPE fused with the paged KV write
// (kernels/cuda/rope_kv_write.h; contract kernels/rope_kv_write.h): bf16 rows
// widened to float, rotated by rope_rotate_half (kernels/cpu/rope.h, accurate
// cos/sin), rounded back to bf16, or for an fp8_e4m3 cache encoded by
// fp8_e4m3_from_float (kernels/fp8_e4m3.h: nearest even, saturating; V too).
// Host pointers. Rejects slots outside the cache (the GPU skips them) and
// other KV dtypes.
#include "kernels/rope_kv_write.h"
#include "kernels/status.h"

namespace kvs::kernels {

Status rope_kv_write_reference(const RopeKvWriteArgs& args);

}  // namespace kvs::kernels
