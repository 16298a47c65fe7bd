#include "engine/model/cuda/cuda_probe.h"

#include <cuda_runtime.h>

#include <string>

namespace kvs::cuda {

CudaProbe probe_cuda() {
  CudaProbe probe;
  probe.built_with_cuda = true;
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaSuccess && count > 0) {
    probe.device_count = count;
    return probe;
  }
  cudaGetLastError();  // clear the sticky-free error so later calls start clean
  switch (error) {
    case cudaSuccess:
    case cudaErrorNoDevice: probe.unavailable_reason = "no CUDA device on this machine"; break;
    case cudaErrorInsufficientDriver:
      probe.unavailable_reason = std::string("no usable CUDA driver (") + cudaGetErrorString(error) + ")";
      break;
    default: probe.unavailable_reason = std::string("CUDA is not usable here: ") + cudaGetErrorString(error); break;
  }
  return probe;
}

}  // namespace kvs::cuda
