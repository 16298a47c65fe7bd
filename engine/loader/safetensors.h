#pragma once
// safetensors files: read (memory-mapped, bounds-checked) and write.
// https://huggingface.co/docs/safetensors/index#format
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/loader/dtype.h"

namespace kvs {

class MappedFile;

struct SafetensorsTensor {
  std::string name;
  std::string dtype;            // as written in the header: "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;   // row-major, last dimension contiguous
  const uint8_t* data = nullptr;  // inside the map; no alignment guarantee
  size_t num_bytes = 0;
};

// Ownership: owns the map; tensor data pointers live as long as the object.
// Immutable after open(); thread-safe to read.
class SafetensorsFile {
 public:
  // Throws ModelLoadError naming the file on: a file shorter than 8 bytes, a
  // header length past the end of the file (or over 100 MB), a header that is
  // not a JSON object, an entry without dtype/shape/data_offsets, an unknown
  // dtype, data_offsets out of range or not matching the shape, or tensors
  // whose data overlap.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const;
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// F32 / F16 / BF16 map to DType; anything else throws ModelLoadError naming
// the tensor and its dtype.
DType safetensors_dtype_to_dtype(const std::string& dtype, const std::string& tensor_name);
// "F32", "F16", "BF16" for the plain float types; throws InvalidArgument for
// quantized types (safetensors has no block formats).
const char* safetensors_dtype_name(DType type);

// Streams a safetensors file: the header (every tensor's dtype, shape and
// offsets) is written on construction, then each tensor's bytes through
// append(), in the order declared. Not thread-safe.
class SafetensorsWriter {
 public:
  struct Entry {
    std::string name;
    std::string dtype;  // "F32", "F16", "BF16", "I32", "I64", ...
    std::vector<int64_t> shape;
  };
  // Throws kvs::Error if the file cannot be created or an entry's dtype is
  // unknown.
  SafetensorsWriter(const std::string& path, std::vector<Entry> entries,
                    const std::map<std::string, std::string>& metadata = {});
  // Bytes of the next declared tensor; throws InvalidArgument if num_bytes
  // does not match its shape and dtype or every tensor was written already.
  void append(const void* data, size_t num_bytes);
  // Checks every tensor was written and flushes; throws kvs::Error otherwise.
  void finish();

 private:
  std::string path_;
  std::vector<Entry> entries_;
  std::vector<size_t> sizes_;
  size_t next_ = 0;
  std::ofstream out_;
};

}  // namespace kvs
