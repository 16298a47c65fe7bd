#pragma once
// Where the bytes of a KvStorage live: host memory for the CPU model, device
// memory for the CUDA model (engine/model/cuda/). KvStorage asks its KvMemory
// for every layer's K and V arrays and for slot copies (KV compaction); it
// never touches the bytes itself, so the same bookkeeping serves both.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace kvs {

// Ownership: owns every allocation it hands out until it is destroyed.
// Thread-safety: none; the engine thread that owns the KvStorage is the only
// caller.
class KvMemory {
 public:
  virtual ~KvMemory() = default;
  // `bytes` of storage (contents undefined; a slot is always written before
  // it is read). Throws kvs::Error when the memory is not there.
  virtual void* allocate(size_t bytes) = 0;
  // For every tensor in `tensors` (each [num_slots, row_bytes] bytes handed
  // out by allocate), copies row `from` to row `to` for each pair, in order
  // (a later pair may read a row an earlier pair wrote). Slots are checked by
  // the caller. Completes before returning (later readers see the result).
  virtual void copy_slots(const std::vector<void*>& tensors, size_t row_bytes,
                          const std::vector<std::pair<int64_t, int64_t>>& copies) = 0;
  // Copies bytes [offset, offset + bytes) of `tensor` (handed out by
  // allocate) to host memory `dst` / from host memory `src` into it. The
  // caller checks the range. Completes before returning.
  virtual void read(const void* tensor, size_t offset, size_t bytes, void* dst) = 0;
  virtual void write(void* tensor, size_t offset, size_t bytes, const void* src) = 0;
  // Host memory for copies of blocks (the prefix cache's host tier and its
  // staging buffer): page-locked on the CUDA engine, so copies to and from
  // the device run at full speed; plain heap memory here. Freed with
  // release_host. Throws kvs::Error when there is none.
  virtual uint8_t* allocate_host(size_t bytes) { return new uint8_t[bytes]; }
  virtual void release_host(uint8_t* bytes) { delete[] bytes; }
  // True when the bytes are device memory (not readable from the host).
  virtual bool on_device() const = 0;
};

// Plain host memory (the CPU model's). Pages are committed only as blocks are
// first written: allocations are never zero-filled.
std::unique_ptr<KvMemory> make_host_kv_memory();

}  // namespace kvs
