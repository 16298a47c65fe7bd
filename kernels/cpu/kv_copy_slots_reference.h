#pragma once
// CPU reference of the CUDA KV slot copy (kernels/cuda/kv_copy_slots.h;
// contract kernels/kv_copy_slots.h): the same in-order copies, host pointers,
// memmove per row (as the CPU KvStorage does).
#include <cstdint>

#include "kernels/kv_copy_slots.h"
#include "kernels/status.h"

namespace kvs::kernels {

// tensors: num_tensors host pointers, each [num_slots, row_bytes] bytes,
// modified in place; copies: int64 [num_copies, 2] (from, to), applied in
// order in every tensor. A slot outside [0, num_slots) is InvalidArgument and
// nothing is copied (the device launcher skips such a pair instead).
// Not thread-safe for overlapping tensors.
Status kv_copy_slots_reference(void* const* tensors, int64_t num_tensors, int64_t num_slots, int64_t row_bytes,
                               const int64_t* copies, int64_t num_copies);

}  // namespace kvs::kernels
