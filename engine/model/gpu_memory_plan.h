#pragma once
// How many bytes the CUDA engine gives its paged KV cache. Pure arithmetic
// (tested on the CPU); the CUDA model feeds it cudaMemGetInfo's numbers.
//
// --gpu-memory-utilization F follows vLLM: F is the fraction of the device's
// total memory this process may use, weights included. The KV cache gets
// what is left of F * total after the weights and a step's activations, and
// never more than is actually free now (less a reserve for cuBLAS, CUDA
// graphs and the allocator), so other processes on the GPU are respected.
// --kv-cache-memory BYTES asks for an exact size instead; it must fit in the
// free memory the same way.
#include <cstdint>
#include <string>

namespace kvs {

struct GpuMemoryPlanInput {
  int64_t total_bytes = 0;        // device memory (cudaMemGetInfo total)
  int64_t free_bytes = 0;         // free now, after the weights were uploaded
  int64_t weight_bytes = 0;       // this process's weights on the device
  int64_t activation_bytes = 0;   // scratch of the largest step (engine-computed)
  int64_t reserve_bytes = 0;      // cuBLAS workspace, graphs, allocator slack
  double utilization = 0.9;       // (0, 1]
  int64_t requested_kv_bytes = 0; // --kv-cache-memory; 0 = from utilization
  // Bytes of one KV block over all layers for the cache dtype
  // (KvStorage::bytes_per_block, rows sized by kernels::kv_row_bytes: an
  // fp8_e4m3 block is half a bf16 one); 0 = blocks not counted.
  int64_t kv_bytes_per_block = 0;
};

struct GpuMemoryPlan {
  int64_t kv_bytes = 0;
  int64_t num_blocks = 0;  // kv_bytes / kv_bytes_per_block (0 when that is 0)
  std::string explanation;  // one line for the start-up log
};

// Throws InvalidArgument naming the flag when the numbers leave no room
// (utilization outside (0, 1], a requested size larger than what is free, or
// nothing left for the KV cache).
GpuMemoryPlan plan_gpu_memory(const GpuMemoryPlanInput& input);

// "1.50 GiB": bytes for log lines and errors.
std::string format_bytes(int64_t bytes);

}  // namespace kvs
