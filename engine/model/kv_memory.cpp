#include "engine/model/kv_memory.h"

#include <cstring>

namespace kvs {
namespace {

class HostKvMemory final : public KvMemory {
 public:
  void* allocate(size_t bytes) override {
    // NOTE: new uint8_t[] (not a vector) leaves the pages untouched, so the OS
    // commits them only as blocks are first written.
    buffers_.emplace_back(new uint8_t[bytes]);
    return buffers_.back().get();
  }
  void copy_slots(const std::vector<void*>& tensors, size_t row_bytes,
                  const std::vector<std::pair<int64_t, int64_t>>& copies) override {
    for (void* tensor : tensors) {
      auto* base = static_cast<uint8_t*>(tensor);
      for (const auto& [from, to] : copies) {
        std::memcpy(base + static_cast<size_t>(to) * row_bytes, base + static_cast<size_t>(from) * row_bytes, row_bytes);
      }
    }
  }
  void read(const void* tensor, size_t offset, size_t bytes, void* dst) override {
    std::memcpy(dst, static_cast<const uint8_t*>(tensor) + offset, bytes);
  }
  void write(void* tensor, size_t offset, size_t bytes, const void* src) override {
    std::memcpy(static_cast<uint8_t*>(tensor) + offset, src, bytes);
  }
  bool on_device() const override { return false; }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
};

}  // namespace

std::unique_ptr<KvMemory> make_host_kv_memory() { return std::make_unique<HostKvMemory>(); }

}  // namespace kvs
