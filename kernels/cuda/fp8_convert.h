#pragma once
// Element-wise fp32 <-> fp8 E4M3 on the device, with the conversions the
// fp8 KV-cache kernels use (kernels/cuda/fp8_util.cuh). CPU reference:
// fp8_e4m3_from_float / fp8_e4m3_to_float (kernels/fp8_e4m3.h), equal bit for
// bit. Used to check those conversions on a GPU and to fill fp8 caches.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

// out[i] = E4M3 byte of x[i] (nearest even, saturating at +-448, NaN -> 0x7F),
// i < n. Device pointers; asynchronous on `stream`.
Status fp8_e4m3_from_f32(const float* x, uint8_t* out, int64_t n, cudaStream_t stream);

// out[i] = the value of E4M3 byte codes[i] (exact; NaN for 0x7F / 0xFF).
Status fp8_e4m3_to_f32(const uint8_t* codes, float* out, int64_t n, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
