#pragma once
// Where the K or V vector of cache position p of one sequence and KV head
// lives: through the sequence's block table, in the layer's cache or, for
// block ids >= num_blocks, in an overlay buffer of the same layout (K/V
// recomputed for one step, e.g. from residual checkpoints).
#include <cstdint>

namespace kvs::kernels {

// Not owning; a view valid while its buffers are. T: float or uint16_t (half).
template <typename T>
struct PagedRows {
  const T* base = nullptr;     // [num_blocks * block_size, kv_row]
  const T* overlay = nullptr;  // [overlay blocks * block_size, kv_row], or null
  const int32_t* table = nullptr;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t kv_row = 0;     // elements per cache slot (all KV heads)
  int64_t kv_offset = 0;  // this head's first element in a slot

  const T* row(int64_t p) const {
    const int64_t block = table[p / block_size];
    const int64_t offset = p % block_size;
    if (block < num_blocks) return base + (block * block_size + offset) * kv_row + kv_offset;
    return overlay + ((block - num_blocks) * block_size + offset) * kv_row + kv_offset;
  }
};

}  // namespace kvs::kernels
