#include "kernels/cuda/device.h"

#include <cuda_runtime.h>

namespace kvs::kernels::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" error
    return 0;
  }
  return count;
}

}  // namespace kvs::kernels::cuda
