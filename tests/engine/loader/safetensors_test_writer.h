#pragma once
// Test helper: writes safetensors files and HF config files (independent of
// the library's writer), including deliberately malformed ones.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace kvs::test {

struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  std::string bytes;
};

inline std::string shape_json(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

// Header JSON for `tensors` laid out back to back; `header_pad` extra spaces
// change where the data section starts (to test misaligned data).
inline std::string safetensors_header(const std::vector<StTensor>& tensors) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  size_t offset = 0;
  for (const auto& t : tensors) {
    header += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" +
              shape_json(t.shape) + ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  return header + "}";
}

// A complete file from a header text and data bytes.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out;
  const uint64_t length = header.size();
  out.append(reinterpret_cast<const char*>(&length), 8);
  return out + header + data;
}

inline std::string safetensors_bytes(const std::vector<StTensor>& tensors, size_t header_pad = 0) {
  std::string data;
  for (const auto& t : tensors) data += t.bytes;
  return safetensors_bytes(safetensors_header(tensors) + std::string(header_pad, ' '), data);
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

}  // namespace kvs::test
