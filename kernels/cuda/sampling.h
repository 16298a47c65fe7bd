#pragma once
// Logits processing and sampling on the GPU: temperature, top-k, top-p,
// greedy argmax, per-row Philox seed. The algorithm and its exact arithmetic
// are in kernels/sampling.h; the CPU reference
// (kernels/cpu/sampling_reference.h) returns the same tokens.
#include <cuda_runtime.h>

#include "kernels/sampling.h"
#include "kernels/status.h"

namespace kvs::kernels::cuda {

// One CTA (512 threads) per row; no sort: top-k and top-p thresholds come
// from a 4-pass radix select over the float keys (counts for top-k, integer
// weights for top-p), ties resolved in index order by a block scan. All
// pointers in `args` are device pointers; asynchronous on `stream`; no
// workspace, no host synchronisation (CUDA-graph friendly).
Status sample(const SamplingArgs& args, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
