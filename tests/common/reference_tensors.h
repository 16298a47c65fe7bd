#pragma once
// Reading reference arrays (input ids, logits) that a reference script wrote
// into a safetensors file. Test helper; header-only.
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/loader/safetensors.h"

namespace kvs::test {

// A copy of tensor `name` as T values (count = bytes / sizeof(T)); throws
// std::runtime_error when the file lacks it.
template <typename T>
std::vector<T> read_tensor(const SafetensorsFile& file, const std::string& name) {
  const SafetensorsTensor* tensor = file.find(name);
  if (tensor == nullptr) throw std::runtime_error("reference tensor missing: " + name);
  std::vector<T> out(tensor->num_bytes / sizeof(T));
  std::memcpy(out.data(), tensor->data, tensor->num_bytes);
  return out;
}

}  // namespace kvs::test
