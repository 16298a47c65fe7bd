#pragma once
// Which backend runs the model: `--device cpu|cuda|auto` (serve, generate and
// the config file). Pure decision from what the build and the machine offer,
// so it is tested without a GPU; the probe itself is
// engine/model/cuda/cuda_probe.h (built only with CUDA).
#include <string>

namespace kvs {

enum class Device { kCpu, kCuda };

// What this build and machine offer for CUDA.
struct CudaProbe {
  bool built_with_cuda = false;
  int device_count = 0;
  // Why device_count is 0, in words ("no CUDA driver: ...", "no CUDA
  // device"); empty when a device is there.
  std::string unavailable_reason;
};

struct DeviceChoice {
  Device device = Device::kCpu;
  std::string reason;  // for the start-up log: what was asked and why this one
};

// "cpu", "cuda" or "auto". auto picks CUDA when the build has it and a device
// is present, else the CPU. Throws InvalidArgument for another name, and
// kvs::Error naming the cause (built without CUDA / no driver / no device)
// when "cuda" cannot run here.
DeviceChoice choose_device(const std::string& requested, const CudaProbe& probe);

const char* device_name(Device device);

}  // namespace kvs
