#pragma once
// KV compaction: copying cache slots within every cache tensor, the contract
// shared by the CPU reference (kernels/cpu/kv_copy_slots_reference.h) and the
// CUDA launchers (kernels/cuda/kv_copy_slots.h), and a host check of whether
// a copy list may run fully in parallel.
//
// A cache tensor is [num_slots, row_bytes] bytes (slot = block * block_size +
// offset; one row holds one token's K or V of one layer: num_kv_heads *
// head_dim elements). `copies` is int64 [num_copies, 2]: pair c is
// (from, to) = (copies[2c], copies[2c + 1]). The copies run IN ORDER, in
// every tensor: a later copy reads what an earlier one wrote (compaction
// chains such as 5 -> 3 then 7 -> 5 give the sequential result).
#include <algorithm>
#include <cstdint>
#include <vector>

namespace kvs::kernels {

// True when running the copies in any order (all at once) gives the in-order
// result: every `to` is distinct, and no copy writes a slot that another copy
// reads (a `to` equal to another copy's `from`, earlier or later: a later
// reader would miss the write, an earlier reader could see it). A copy with
// from == to is a no-op and conflicts with nothing by itself. Host pointer,
// O(n log n), thread-safe.
inline bool kv_copies_independent(const int64_t* copies, int64_t num_copies) {
  std::vector<int64_t> to(static_cast<size_t>(num_copies)), from;
  from.reserve(static_cast<size_t>(num_copies));
  for (int64_t c = 0; c < num_copies; ++c) {
    to[c] = copies[2 * c + 1];
    if (copies[2 * c] != copies[2 * c + 1]) from.push_back(copies[2 * c]);
  }
  std::sort(to.begin(), to.end());
  if (std::adjacent_find(to.begin(), to.end()) != to.end()) return false;
  // A from == to copy was left out of `from`, so it only conflicts through
  // another copy's identical `to` (caught above).
  for (const int64_t slot : from) {
    if (std::binary_search(to.begin(), to.end(), slot)) return false;
  }
  return true;
}

}  // namespace kvs::kernels
