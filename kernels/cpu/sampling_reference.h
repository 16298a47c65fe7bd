#pragma once
// CPU reference of the GPU sampler (kernels/cuda/sampling.h): the algorithm
// of kernels/sampling.h written the direct way (sort by rank, walk prefixes),
// with the same integer weights, so it returns the GPU's tokens exactly.
// Host pointers. Single-threaded; O(vocab log vocab) per sampled row.
#include "kernels/sampling.h"
#include "kernels/status.h"

namespace kvs::kernels {

Status sample_reference(const SamplingArgs& args);

}  // namespace kvs::kernels
