#pragma once
// Fills CudaProbe (engine/model/device_choice.h) from the CUDA runtime: how
// many devices, or why none (no driver, driver too old, no device). Safe on
// machines without a GPU or driver. Built only with CUDA.
#include "engine/model/device_choice.h"

namespace kvs::cuda {

CudaProbe probe_cuda();

}  // namespace kvs::cuda
