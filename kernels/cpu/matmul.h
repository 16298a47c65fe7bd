#pragma once
// y = x · Wᵀ for a linear layer on the CPU, multi-threaded (OpenMP).
#include <cstdint>
#include <vector>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/status.h"

namespace kvs::kernels {

// Shapes (row-major):
//   w: [num_out, num_in] in `format` (quantized rows are num_in / 32 blocks)
//   x: [num_tokens, num_in] float
//   y: [num_tokens, num_out] float (overwritten)
// F32 weights go through BLAS sgemm. Quantized weights: x is quantized per
// token into 8-bit blocks (GGML's q8 scheme) and integer dot products are
// taken, as llama.cpp's CPU backend does. num_in must be a multiple of 32 for
// quantized formats.
// `scratch` is reused between calls to avoid allocations (not thread-safe:
// one scratch per calling thread). The call itself parallelises internally.
struct MatmulScratch {
  std::vector<ActivationBlockQ8> quantized;
};

Status matmul(WeightFormat format, const void* w, int64_t num_out, int64_t num_in, const float* x,
              int64_t num_tokens, float* y, MatmulScratch& scratch);

// Sets the threads used by matmul and by BLAS (0 = hardware concurrency).
void set_num_threads(int num_threads);
int num_threads();

}  // namespace kvs::kernels
