#pragma once
// KvMemory in device memory: the CUDA model's paged KV cache. Slot copies
// (KV compaction) run on the model's stream (kernels/cuda/kv_copy_slots.h)
// and complete before copy_slots returns.
#include <cuda_runtime.h>

#include <memory>

#include "engine/model/kv_memory.h"

namespace kvs::cuda {

// `device`: the ordinal allocations are made on; `stream`: not owned, must
// outlive the memory (the CudaModel's stream).
std::unique_ptr<KvMemory> make_device_kv_memory(int device, cudaStream_t stream);

}  // namespace kvs::cuda
