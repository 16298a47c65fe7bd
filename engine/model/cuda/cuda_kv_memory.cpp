#include "engine/model/cuda/cuda_kv_memory.h"

#include <cstdint>
#include <map>
#include <vector>

#include "engine/model/cuda/cuda_util.h"
#include "kernels/cuda/kv_copy_slots.h"
#include "kernels/kv_copy_slots.h"

namespace kvs::cuda {
namespace {

class DeviceKvMemory final : public KvMemory {
 public:
  DeviceKvMemory(int device, cudaStream_t stream) : device_(device), stream_(stream) {}
  ~DeviceKvMemory() override {
    for (void* buffer : buffers_) cudaFree(buffer);
  }

  void* allocate(size_t bytes) override {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    void* buffer = nullptr;
    check_cuda(cudaMalloc(&buffer, bytes), "cudaMalloc (KV cache)");
    buffers_.push_back(buffer);
    sizes_[buffer] = bytes;
    return buffer;
  }

  void copy_slots(const std::vector<void*>& tensors, size_t row_bytes,
                  const std::vector<std::pair<int64_t, int64_t>>& copies) override {
    if (copies.empty() || tensors.empty()) return;
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    std::vector<int64_t> pairs;
    pairs.reserve(copies.size() * 2);
    for (const auto& [from, to] : copies) {
      pairs.push_back(from);
      pairs.push_back(to);
    }
    DeviceArray<void*> device_tensors(tensors.size());
    DeviceArray<int64_t> device_pairs(pairs.size());
    check_cuda(cudaMemcpyAsync(device_tensors.get(), tensors.data(), device_tensors.bytes(), cudaMemcpyHostToDevice, stream_),
               "copy_slots: upload");
    check_cuda(cudaMemcpyAsync(device_pairs.get(), pairs.data(), device_pairs.bytes(), cudaMemcpyHostToDevice, stream_),
               "copy_slots: upload");
    // Every tensor of a KvStorage has the same size.
    const auto num_slots = static_cast<int64_t>(sizes_.at(tensors.front()) / row_bytes);
    const auto num_copies = static_cast<int64_t>(copies.size());
    // Copies that touch no slot another copy writes run in parallel; chains
    // (compaction moving rows down past each other) keep their order.
    const auto copy = kernels::kv_copies_independent(pairs.data(), num_copies) ? kernels::cuda::kv_copy_slots_independent
                                                                                : kernels::cuda::kv_copy_slots;
    check_status(copy(device_tensors.get(), static_cast<int64_t>(tensors.size()), num_slots,
                      static_cast<int64_t>(row_bytes), device_pairs.get(), num_copies, stream_),
                 "kv_copy_slots");
    check_cuda(cudaStreamSynchronize(stream_), "copy_slots");
  }

  void read(const void* tensor, size_t offset, size_t bytes, void* dst) override {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    check_cuda(cudaMemcpyAsync(dst, static_cast<const uint8_t*>(tensor) + offset, bytes, cudaMemcpyDeviceToHost, stream_),
               "KV read");
    check_cuda(cudaStreamSynchronize(stream_), "KV read");
  }
  void write(void* tensor, size_t offset, size_t bytes, const void* src) override {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    check_cuda(cudaMemcpyAsync(static_cast<uint8_t*>(tensor) + offset, src, bytes, cudaMemcpyHostToDevice, stream_),
               "KV write");
    check_cuda(cudaStreamSynchronize(stream_), "KV write");
  }
  uint8_t* allocate_host(size_t bytes) override {
    void* host = nullptr;
    check_cuda(cudaHostAlloc(&host, bytes, cudaHostAllocDefault), "cudaHostAlloc (KV offload)");
    return static_cast<uint8_t*>(host);
  }
  void release_host(uint8_t* bytes) override { cudaFreeHost(bytes); }
  bool on_device() const override { return true; }

 private:
  int device_;
  cudaStream_t stream_;
  std::vector<void*> buffers_;
  std::map<const void*, size_t> sizes_;
};

}  // namespace

std::unique_ptr<KvMemory> make_device_kv_memory(int device, cudaStream_t stream) {
  return std::make_unique<DeviceKvMemory>(device, stream);
}

}  // namespace kvs::cuda
