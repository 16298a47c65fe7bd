#pragma once
// Test helper: builds GGUF files byte by byte (independent of the reader under
// test), including deliberately malformed ones.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace kvs::test {

enum GgufValueType : uint32_t {
  kGgufU8 = 0, kGgufI8 = 1, kGgufU16 = 2, kGgufI16 = 3, kGgufU32 = 4, kGgufI32 = 5,
  kGgufF32 = 6, kGgufBool = 7, kGgufString = 8, kGgufArray = 9, kGgufU64 = 10,
  kGgufI64 = 11, kGgufF64 = 12,
};

template <typename T>
void append_pod(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

inline void append_gguf_string(std::string& out, const std::string& text) {
  append_pod<uint64_t>(out, text.size());
  out += text;
}

class GgufWriter {
 public:
  uint32_t version = 3;
  uint32_t alignment = 32;  // must match general.alignment if the test sets it

  // Raw key/value: `value` holds the encoded value bytes for `type`.
  void add_raw(const std::string& key, uint32_t type, const std::string& value) {
    std::string kv;
    append_gguf_string(kv, key);
    append_pod<uint32_t>(kv, type);
    kv += value;
    kvs_.push_back(kv);
  }
  void add_string(const std::string& key, const std::string& value) {
    std::string v;
    append_gguf_string(v, value);
    add_raw(key, kGgufString, v);
  }
  template <typename T>
  void add_scalar(const std::string& key, uint32_t type, T value) {
    std::string v;
    append_pod<T>(v, value);
    add_raw(key, type, v);
  }
  void add_u32(const std::string& key, uint32_t value) { add_scalar(key, kGgufU32, value); }
  void add_f32(const std::string& key, float value) { add_scalar(key, kGgufF32, value); }
  void add_bool(const std::string& key, bool value) {
    add_scalar<uint8_t>(key, kGgufBool, value ? 1 : 0);
  }
  void add_string_array(const std::string& key, const std::vector<std::string>& values) {
    std::string v;
    append_pod<uint32_t>(v, kGgufString);
    append_pod<uint64_t>(v, values.size());
    for (const auto& s : values) append_gguf_string(v, s);
    add_raw(key, kGgufArray, v);
  }
  template <typename T>
  void add_array(const std::string& key, uint32_t element_type, const std::vector<T>& values) {
    std::string v;
    append_pod<uint32_t>(v, element_type);
    append_pod<uint64_t>(v, values.size());
    for (const T& x : values) append_pod<T>(v, x);
    add_raw(key, kGgufArray, v);
  }

  // A tensor with GGML dims `ne` (ne[0] contiguous) and its bytes. The data
  // offset is assigned by build() unless `offset_override` is given.
  void add_tensor(const std::string& name, uint32_t ggml_type, const std::vector<uint64_t>& ne,
                  const std::string& bytes, int64_t offset_override = -1) {
    tensors_.push_back({name, ggml_type, ne, bytes, offset_override});
  }
  bool remove_tensor(const std::string& name) {
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (tensors_[i].name == name) {
        tensors_.erase(tensors_.begin() + static_cast<long>(i));
        return true;
      }
    }
    return false;
  }

  std::string build() const {
    std::string out = "GGUF";
    append_pod<uint32_t>(out, version);
    append_pod<uint64_t>(out, tensors_.size());
    append_pod<uint64_t>(out, kvs_.size());
    for (const auto& kv : kvs_) out += kv;
    std::string data;
    for (const auto& t : tensors_) {
      while (data.size() % alignment != 0) data.push_back('\0');
      const uint64_t offset = t.offset_override >= 0 ? static_cast<uint64_t>(t.offset_override)
                                                     : data.size();
      append_gguf_string(out, t.name);
      append_pod<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
      for (uint64_t d : t.ne) append_pod<uint64_t>(out, d);
      append_pod<uint32_t>(out, t.ggml_type);
      append_pod<uint64_t>(out, offset);
      data += t.bytes;
    }
    while (out.size() % alignment != 0) out.push_back('\0');
    return out + data;
  }

  void write(const std::string& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string bytes = build();
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

 private:
  struct Tensor {
    std::string name;
    uint32_t ggml_type;
    std::vector<uint64_t> ne;
    std::string bytes;
    int64_t offset_override;
  };
  std::vector<std::string> kvs_;
  std::vector<Tensor> tensors_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace kvs::test
