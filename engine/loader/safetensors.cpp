#include "engine/loader/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "engine/loader/mapped_file.h"

namespace kvs {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100u << 20;

// Element size of a safetensors dtype string, 0 if unknown.
size_t element_bytes(const std::string& dtype) {
  static const std::map<std::string, size_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2},
      {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},
      {"F64", 8},  {"I64", 8}, {"U64", 8}};
  auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

uint64_t unsigned_field(const json& value, const std::string& what,
                        const std::string& path) {
  if (!value.is_number_unsigned()) {
    throw ModelLoadError(path + ": " + what + " must be a non-negative integer");
  }
  return value.get<uint64_t>();
}

SafetensorsTensor parse_entry(const std::string& name, const json& entry, size_t data_size,
                              const uint8_t* data, const std::string& path) {
  const std::string what = "tensor '" + name + "'";
  if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
      !entry.contains("shape") || !entry["shape"].is_array() ||
      !entry.contains("data_offsets") || !entry["data_offsets"].is_array() ||
      entry["data_offsets"].size() != 2) {
    throw ModelLoadError(path + ": header entry for " + what +
                         " needs a dtype string, a shape array and two data_offsets");
  }
  SafetensorsTensor tensor;
  tensor.name = name;
  tensor.dtype = entry["dtype"].get<std::string>();
  const size_t elem_bytes = element_bytes(tensor.dtype);
  if (elem_bytes == 0) {
    throw ModelLoadError(path + ": " + what + " has unknown dtype '" + tensor.dtype + "'");
  }
  uint64_t num_elements = 1;
  for (const json& dim_value : entry["shape"]) {
    const uint64_t dim = unsigned_field(dim_value, "shape of " + what, path);
    // NOTE: dim itself is bounded too: after a 0 dimension the product check
    // passes anything, and a dim over INT64_MAX became a negative shape
    // (found by fuzz/safetensors_fuzzer).
    if (dim > (uint64_t{1} << 50) || (dim != 0 && num_elements > (uint64_t{1} << 50) / dim)) {
      throw ModelLoadError(path + ": " + what + " has an absurd shape");
    }
    num_elements *= dim;
    tensor.shape.push_back(static_cast<int64_t>(dim));
  }
  const uint64_t begin = unsigned_field(entry["data_offsets"][0], "data_offsets of " + what, path);
  const uint64_t end = unsigned_field(entry["data_offsets"][1], "data_offsets of " + what, path);
  if (begin > end || end > data_size) {
    throw ModelLoadError(path + ": " + what + " data_offsets [" + std::to_string(begin) + ", " +
                         std::to_string(end) + ") are out of range (data section holds " +
                         std::to_string(data_size) + " bytes; truncated file?)");
  }
  if (end - begin != num_elements * elem_bytes) {
    throw ModelLoadError(path + ": " + what + " has " + std::to_string(end - begin) +
                         " bytes of data, but its shape and dtype need " +
                         std::to_string(num_elements * elem_bytes));
  }
  tensor.data = data + begin;
  tensor.num_bytes = static_cast<size_t>(end - begin);
  return tensor;
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto result = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  result->file_ = MappedFile::open(path);
  const MappedFile& file = *result->file_;
  if (file.size() < 8) throw ModelLoadError(path + ": truncated safetensors file (no header length)");
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, file.data(), 8);
  if (header_bytes > file.size() - 8 || header_bytes > kMaxHeaderBytes) {
    throw ModelLoadError(path + ": safetensors header length " + std::to_string(header_bytes) +
                         " exceeds the file size " + std::to_string(file.size()) +
                         " (or the 100 MB limit)");
  }
  const char* header_text = reinterpret_cast<const char*>(file.data() + 8);
  json header = json::parse(header_text, header_text + header_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    throw ModelLoadError(path + ": safetensors header is not a valid JSON object");
  }
  const uint8_t* data = file.data() + 8 + header_bytes;
  const size_t data_size = file.size() - 8 - header_bytes;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw ModelLoadError(path + ": __metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (value.is_string()) result->metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    result->index_[name] = result->tensors_.size();
    result->tensors_.push_back(parse_entry(name, entry, data_size, data, path));
  }
  std::vector<const SafetensorsTensor*> by_offset;
  for (const auto& tensor : result->tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->data + by_offset[i - 1]->num_bytes > by_offset[i]->data) {
      throw ModelLoadError(path + ": tensors '" + by_offset[i - 1]->name + "' and '" +
                           by_offset[i]->name + "' overlap in the data section");
    }
  }
  return result;
}

const std::string& SafetensorsFile::path() const { return file_->path(); }

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

DType safetensors_dtype_to_dtype(const std::string& dtype, const std::string& tensor_name) {
  if (dtype == "F32") return DType::F32;
  if (dtype == "F16") return DType::F16;
  if (dtype == "BF16") return DType::BF16;
  throw ModelLoadError("tensor " + tensor_name + " has dtype " + dtype +
                       ", which kvserve does not support for weights (supported: F32, F16, BF16)");
}

const char* safetensors_dtype_name(DType type) {
  switch (type) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    default: break;
  }
  throw InvalidArgument(std::string("safetensors cannot store ") + dtype_name(type));
}

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<Entry> entries,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path), entries_(std::move(entries)) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const Entry& entry : entries_) {
    const size_t elem_bytes = element_bytes(entry.dtype);
    if (elem_bytes == 0) throw InvalidArgument(path + ": unknown safetensors dtype " + entry.dtype);
    size_t num_bytes = elem_bytes;
    for (int64_t dim : entry.shape) num_bytes *= static_cast<size_t>(dim);
    header[entry.name] = {{"dtype", entry.dtype},
                          {"shape", entry.shape},
                          {"data_offsets", {offset, offset + num_bytes}}};
    sizes_.push_back(num_bytes);
    offset += num_bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // NOTE: keeps the data section 8-byte aligned
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) throw Error(path + ": cannot create file");
  const uint64_t header_bytes = text.size();
  out_.write(reinterpret_cast<const char*>(&header_bytes), 8);
  out_.write(text.data(), static_cast<std::streamsize>(text.size()));
}

void SafetensorsWriter::append(const void* data, size_t num_bytes) {
  if (next_ >= entries_.size()) throw InvalidArgument(path_ + ": every tensor was written already");
  if (num_bytes != sizes_[next_]) {
    throw InvalidArgument(path_ + ": tensor " + entries_[next_].name + " needs " +
                          std::to_string(sizes_[next_]) + " bytes, got " +
                          std::to_string(num_bytes));
  }
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(num_bytes));
  ++next_;
}

void SafetensorsWriter::finish() {
  if (next_ != entries_.size()) {
    throw Error(path_ + ": only " + std::to_string(next_) + " of " +
                std::to_string(entries_.size()) + " tensors were written");
  }
  out_.flush();
  out_.close();
  if (!out_) throw Error(path_ + ": write failed");
}

}  // namespace kvs
