#pragma once
// KV compaction on the GPU: slot -> slot row copies in every cache tensor
// (every layer's K and V), the device version of KvStorage::copy_slots.
// Contract and the host independence check: kernels/kv_copy_slots.h. CPU
// reference: kernels/cpu/kv_copy_slots_reference.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/kv_copy_slots.h"
#include "kernels/status.h"

namespace kvs::kernels::cuda {

// In every tensor, copies row `from` to row `to` for each pair of `copies`,
// IN ORDER (a later copy sees what an earlier one wrote).
//   tensors: device array of num_tensors device pointers, each a
//            [num_slots, row_bytes] byte tensor;
//   copies:  device int64 [num_copies, 2] (from, to).
// A pair with a slot outside [0, num_slots) is skipped (the device cannot
// report it; KvStorage validates slots on the host first). Grid (num_tensors,
// ceil(row_bytes / 16 / 128)): each thread owns one 16-byte column of the row
// and walks the copies in order, so every read follows, in its own thread,
// the writes it depends on: no barrier, no atomics. 16-byte accesses where
// row_bytes % 16 == 0 and the tensor is 16-byte aligned (checked per tensor on
// the device), byte copies otherwise. Cost: num_copies dependent global
// round trips per thread; for long independent lists use
// kv_copy_slots_independent. Asynchronous on `stream`; no allocation, no host
// synchronisation (CUDA-graph capturable). The pointed-to arrays must stay
// valid until the copy has run.
Status kv_copy_slots(void* const* tensors, int64_t num_tensors, int64_t num_slots, int64_t row_bytes,
                     const int64_t* copies, int64_t num_copies, cudaStream_t stream);

// The same copies with no ordering between them: all (tensor, copy, 16-byte
// column) items in parallel. Correct only for a list for which
// kv_copies_independent (kernels/kv_copy_slots.h, on the host copy of the
// list) is true; otherwise the result is undefined. Same arguments, skipping
// and guarantees as kv_copy_slots.
Status kv_copy_slots_independent(void* const* tensors, int64_t num_tensors, int64_t num_slots, int64_t row_bytes,
                                 const int64_t* copies, int64_t num_copies, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
