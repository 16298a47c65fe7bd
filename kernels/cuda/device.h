#pragma once
// CUDA device discovery. Safe to call on machines without a GPU or driver.
namespace kvs::kernels::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no device.
int device_count();

}  // namespace kvs::kernels::cuda
