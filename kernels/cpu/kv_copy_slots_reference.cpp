#include "kernels/cpu/kv_copy_slots_reference.h"

#include <cstring>
#include <string>

namespace kvs::kernels {

Status kv_copy_slots_reference(void* const* tensors, int64_t num_tensors, int64_t num_slots, int64_t row_bytes,
                               const int64_t* copies, int64_t num_copies) {
  if (num_tensors < 0 || num_slots < 0 || row_bytes <= 0 || num_copies < 0) {
    return Status::invalid("kv_copy_slots_reference: bad shape");
  }
  if (num_tensors == 0 || num_copies == 0) return Status::success();
  if (tensors == nullptr || copies == nullptr) return Status::invalid("kv_copy_slots_reference: null pointer");
  for (int64_t c = 0; c < 2 * num_copies; ++c) {
    if (copies[c] < 0 || copies[c] >= num_slots) {
      return Status::invalid("kv_copy_slots_reference: slot " + std::to_string(copies[c]) + " outside the cache");
    }
  }
  for (int64_t t = 0; t < num_tensors; ++t) {
    if (tensors[t] == nullptr) return Status::invalid("kv_copy_slots_reference: null tensor");
  }
  const size_t row = static_cast<size_t>(row_bytes);
  for (int64_t t = 0; t < num_tensors; ++t) {
    auto* base = static_cast<uint8_t*>(tensors[t]);
    for (int64_t c = 0; c < num_copies; ++c) {
      std::memmove(base + static_cast<size_t>(copies[2 * c + 1]) * row, base + static_cast<size_t>(copies[2 * c]) * row,
                   row);
    }
  }
  return Status::success();
}

}  // namespace kvs::kernels
