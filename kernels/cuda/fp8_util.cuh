#pragma once
// Device conversions of the fp8 E4M3 KV cache (kernels/fp8_e4m3.h): the
// hardware instructions on sm_89+ (cuda_fp8.h falls back to the same
// arithmetic in software on older GPUs). Bit for bit fp8_e4m3_from_float /
// fp8_e4m3_to_float (tests/gpu/fp8_e4m3_gpu_test.cpp). Internal to kernels/cuda.
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

namespace kvs::kernels::cuda {

// Round to nearest even, saturating to +-448, NaN -> 0x7F (scale 1.0).
__device__ __forceinline__ uint8_t float_to_fp8_e4m3(float x) {
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3));
}

// Two E4M3 bytes (low byte first) -> two floats, exact.
__device__ __forceinline__ float2 fp8x2_e4m3_to_float2(uint16_t pair) {
  const __half2_raw raw = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(pair), __NV_E4M3);
  return __half22float2(*reinterpret_cast<const __half2*>(&raw));
}

// Four E4M3 bytes (lowest byte first) -> four floats, exact.
__device__ __forceinline__ void fp8x4_e4m3_to_float4(uint32_t word, float* f) {
  const float2 lo = fp8x2_e4m3_to_float2(static_cast<uint16_t>(word & 0xFFFFu));
  const float2 hi = fp8x2_e4m3_to_float2(static_cast<uint16_t>(word >> 16));
  f[0] = lo.x, f[1] = lo.y, f[2] = hi.x, f[3] = hi.y;
}

// Two E4M3 bytes -> a bf16 pair (low half = low byte), exact: the shared
// tiles of the bf16 tensor-core kernels take fp8 rows this way.
__device__ __forceinline__ uint32_t fp8x2_e4m3_to_bf16x2(uint16_t pair) {
  const float2 f = fp8x2_e4m3_to_float2(pair);
  return (__float_as_uint(f.x) >> 16) | (__float_as_uint(f.y) & 0xFFFF0000u);
}

}  // namespace kvs::kernels::cuda
