#pragma once
// GGUF v2/v3 reader: header, metadata key/values, tensor table, alignment.
// https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "engine/loader/dtype.h"

namespace kvs {

// One metadata value. Arrays of strings / numbers are common (vocab, merges,
// scores, token types); nested arrays are rejected as unsupported.
using GgufValue = std::variant<uint64_t, int64_t, double, bool, std::string,
                               std::vector<std::string>, std::vector<int64_t>,
                               std::vector<double>>;

struct GgufTensorInfo {
  std::string name;                 // GGUF name, e.g. "blk.0.attn_q.weight"
  uint32_t ggml_type = 0;           // raw GGML type id
  std::vector<int64_t> ne;          // GGML order: ne[0] is the contiguous dimension
  uint64_t offset = 0;              // relative to the start of the data section
  size_t num_bytes = 0;
};

// Ownership: owns the memory map of the whole file; tensor data pointers stay
// valid while the GgufFile lives. Immutable after open(); thread-safe to read.
class GgufFile {
 public:
  // Maps and parses `path`. Throws ModelLoadError on a bad magic, unsupported
  // version, truncated header/metadata/tensor data, or out-of-bounds offsets.
  static std::shared_ptr<GgufFile> open(const std::string& path);

  uint32_t version() const;
  const std::string& path() const;
  const std::map<std::string, GgufValue>& metadata() const;
  bool has(const std::string& key) const;
  // Typed getters throw ModelLoadError if the key is missing or of another
  // kind; the *_or variants return the fallback when missing. Integer getters
  // accept any integer type; get_float accepts floats and integers.
  std::string get_string(const std::string& key) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int_or(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float_or(const std::string& key, double fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;    // empty if missing
  std::vector<double> get_float_array(const std::string& key) const;   // empty if missing

  const std::vector<GgufTensorInfo>& tensors() const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // Pointer to a tensor's bytes inside the map.
  const uint8_t* tensor_data(const GgufTensorInfo& info) const;
  // Absolute file offset of the data section (after the tensor table, aligned
  // to general.alignment, default 32) and the file's size in bytes.
  size_t data_offset() const;
  size_t file_size() const;
  // Maps a GGML type id to DType; throws ModelLoadError naming the type for
  // anything unsupported (K-quants, IQ*, ...).
  static DType to_dtype(uint32_t ggml_type, const std::string& tensor_name);

  struct Impl;
 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kvs
