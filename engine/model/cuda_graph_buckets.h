#pragma once
// Batch sizes the CUDA engine captures decode-only steps for (one CUDA graph
// each), as vLLM does: 1, 2, 4, then every multiple of 8 up to the largest
// batch the scheduler can form. A decode step of n sequences replays the
// graph of the smallest bucket >= n, with the extra rows padded (token 0,
// slot -1: nothing written, logits ignored). Pure functions; tested on the CPU.
#include <cstdint>
#include <vector>

namespace kvs {

// Ascending, ends at max_batch (included even when not a multiple of 8);
// empty when max_batch < 1. max_batch is capped at `cap` (vLLM's 512).
std::vector<int64_t> cuda_graph_batch_sizes(int64_t max_batch, int64_t cap = 512);

// The smallest size >= n, or -1 when n is larger than all (run eagerly).
int64_t cuda_graph_bucket(const std::vector<int64_t>& sizes, int64_t n);

}  // namespace kvs
