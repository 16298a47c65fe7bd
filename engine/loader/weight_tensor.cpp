#include "engine/loader/weight_tensor.h"

namespace kvs {

// NOTE: an empty shape is a scalar (one element), as in PyTorch / safetensors.
int64_t WeightTensor::num_elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

int64_t WeightTensor::rows() const {
  int64_t count = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) count *= shape[i];
  return count;
}

int64_t WeightTensor::cols() const { return shape.empty() ? 1 : shape.back(); }

}  // namespace kvs
