#include "engine/model/device_choice.h"

#include "engine/errors.h"

namespace kvs {

DeviceChoice choose_device(const std::string& requested, const CudaProbe& probe) {
  if (requested != "cpu" && requested != "cuda" && requested != "auto") {
    throw InvalidArgument("--device must be cpu, cuda or auto (got \"" + requested + "\")");
  }
  const bool cuda_ready = probe.built_with_cuda && probe.device_count > 0;
  const std::string why_not = !probe.built_with_cuda ? "this kvserve was built without CUDA (nvcc not found at build time)"
                                                     : probe.unavailable_reason.empty() ? "no CUDA device"
                                                                                        : probe.unavailable_reason;
  if (requested == "cpu") return {Device::kCpu, "--device cpu"};
  if (requested == "cuda") {
    if (!cuda_ready) throw Error("--device cuda: " + why_not);
    return {Device::kCuda, "--device cuda (" + std::to_string(probe.device_count) + " CUDA device(s))"};
  }
  if (cuda_ready) {
    return {Device::kCuda, "--device auto: CUDA device found (" + std::to_string(probe.device_count) + ")"};
  }
  return {Device::kCpu, "--device auto: " + why_not + ", running on the CPU"};
}

const char* device_name(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

}  // namespace kvs
