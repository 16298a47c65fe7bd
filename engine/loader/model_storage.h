#pragma once
// What a LoadedModel's `storage` holds: the mapped files its tensors point
// into and the heap buffers of tensors the loader rewrote (un-permuted or
// realigned). Internal to the loader.
#include <cstdint>
#include <memory>
#include <vector>

namespace kvs {

struct ModelStorage {
  std::vector<std::shared_ptr<const void>> files;  // GgufFile / SafetensorsFile
  std::vector<std::vector<uint8_t>> buffers;

  // Takes ownership of `bytes`; the returned pointer stays valid for the
  // storage's lifetime (moving a vector keeps its heap block).
  const uint8_t* keep(std::vector<uint8_t> bytes) {
    buffers.push_back(std::move(bytes));
    return buffers.back().data();
  }
};

}  // namespace kvs
