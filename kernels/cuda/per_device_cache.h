#pragma once
// Once-per-device set-up of a kernel instance (cudaFuncSetAttribute, occupancy
// and SM-count queries), cached so launchers do not repeat it on every launch.
// Host only. Usage: one function-local static table per kernel instance,
//   static PerDeviceCache<Info> cache;
//   Status st = cache.get([&](int device, Info* info) { ...set up...; }, &info);
#include <cuda_runtime.h>

#include <atomic>
#include <mutex>
#include <string>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

// Thread-safe per-device table of a value computed once per device by a
// set-up function. get() costs one cudaGetDevice and an atomic load once the
// current device is set up. A failed set-up is not cached (the next get()
// retries). Devices with ids >= kMaxDevices are Unsupported.
template <typename Value>
class PerDeviceCache {
 public:
  static constexpr int kMaxDevices = 64;

  // setup(int device, Value* value) -> Status runs with an internal mutex held
  // (at most once per device when it succeeds).
  template <typename Setup>
  Status get(Setup&& setup, Value* value) {
    int device = 0;
    const cudaError_t e = cudaGetDevice(&device);
    if (e != cudaSuccess) return Status::invalid(std::string("no CUDA device: ") + cudaGetErrorString(e));
    if (device < 0 || device >= kMaxDevices) return Status::unsupported("CUDA device id >= 64");
    Entry& entry = entries_[device];
    if (!entry.ready.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!entry.ready.load(std::memory_order_relaxed)) {
        Value fresh{};
        if (Status st = setup(device, &fresh); !st.ok()) return st;
        entry.value = fresh;
        entry.ready.store(true, std::memory_order_release);
      }
    }
    *value = entry.value;
    return Status::success();
  }

 private:
  struct Entry {
    std::atomic<bool> ready{false};
    Value value{};
  };
  std::mutex mutex_;
  Entry entries_[kMaxDevices];
};

}  // namespace kvs::kernels::cuda
