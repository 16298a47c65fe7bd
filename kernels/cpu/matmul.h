#pragma once
// y = x · Wᵀ for a linear layer on the CPU, multi-threaded (OpenMP).
#include <cstdint>
#include <vector>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/status.h"

namespace kvs::kernels {

// Shapes (row-major):
//   w: [num_out, num_in] in `format` (quantized rows are num_in / block blocks,
//      block = format_block_elements(format): 32, or 256 for the K-quants)
//   x: [num_tokens, num_in] float
//   y: [num_tokens, num_out] float (overwritten)
// F32 weights go through BLAS sgemm. Quantized weights: x is quantized per
// token into 8-bit blocks (GGML's q8_0 / q8_1 scheme, q8_K for the K-quants)
// and integer dot products are taken, as llama.cpp's CPU backend does, with
// the same rounding as the kernel llama.cpp picks for that tensor and token
// count: vec_dot, its tiled K-quant matmul from kTiledMinTokens tokens
// (dot_k_tiled.h), or its repacked 8x8 GEMV/GEMM for Q4_0 / IQ4_NL / Q4_K /
// Q2_K with a multiple of 8 rows (dot_repack.h; per segment, by its num_out).
// So the bits of a row's result depend on num_tokens, as llama.cpp's do. num_in
// must be a multiple of the format's block (InvalidArgument otherwise).
// `scratch` is reused between calls to avoid allocations (not thread-safe:
// one scratch per calling thread). The call itself parallelises internally
// over scratch.num_threads OpenMP threads (resolve_cpu_threads: 0 = every
// hardware thread); F32 weights use OpenBLAS's own, process-wide count
// (request_blas_threads).
struct MatmulScratch {
  std::vector<ActivationBlockQ8> quantized;     // 32-element formats
  std::vector<ActivationBlockQ8K> quantized_k;  // K-quants
  int num_threads = 0;                          // the caller's thread budget
};

Status matmul(WeightFormat format, const void* w, int64_t num_out, int64_t num_in, const float* x,
              int64_t num_tokens, float* y, MatmulScratch& scratch);

// One block of rows of a weight stored in one format (a fused weight whose
// parts have different formats is several segments).
struct MatmulSegment {
  WeightFormat format = WeightFormat::F32;
  const void* w = nullptr;  // [num_out, num_in] in `format`
  int64_t num_out = 0;
};

// y = x · Wᵀ for W = the segments' rows stacked in order: segment i writes
// columns [o_i, o_i + num_out_i) of every y row, o_i = the sum of the earlier
// segments' num_out; y is [num_tokens, sum of num_out]. Each segment's values
// are bit-identical to matmul() of that segment alone (x is quantized once per
// activation kind and shared). num_in must be a multiple of every segment's
// block (InvalidArgument naming the format otherwise).
Status matmul_segments(const MatmulSegment* segments, size_t num_segments, int64_t num_in, const float* x,
                       int64_t num_tokens, float* y, MatmulScratch& scratch);

}  // namespace kvs::kernels
