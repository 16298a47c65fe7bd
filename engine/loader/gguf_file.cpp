#include "engine/loader/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "engine/errors.h"
#include "engine/loader/ggml_types.h"
#include "engine/loader/mapped_file.h"

namespace kvs {

struct GgufFile::Impl {
  std::shared_ptr<MappedFile> file;
  uint32_t version = 0;
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensorInfo> tensors;
  std::unordered_map<std::string, size_t> tensor_index;
  size_t data_offset = 0;  // absolute file offset of the data section
};

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kDefaultAlignment = 32;

enum GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// Bytes one element of `type` takes at least (strings: their length field).
size_t min_value_bytes(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: case kString: return 8;
    default: return 0;
  }
}

// Bounds-checked little-endian reader over the mapped file. Every read names
// what it was reading so a truncated file gives a useful message.
class Cursor {
 public:
  explicit Cursor(const MappedFile& file) : file_(file) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw ModelLoadError(file_.path() + ": " + message);
  }
  size_t position() const { return position_; }
  size_t remaining() const { return file_.size() - position_; }

  void need(size_t num_bytes, const std::string& what) const {
    if (num_bytes > remaining()) {
      fail("truncated file: " + what + " at offset " + std::to_string(position_) + " needs " +
           std::to_string(num_bytes) + " bytes, but only " + std::to_string(remaining()) +
           " remain");
    }
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, file_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }
  std::string read_string(const std::string& what, uint64_t max_bytes) {
    const uint64_t length = read<uint64_t>("length of " + what);
    if (length > max_bytes || length > remaining()) {
      fail("length " + std::to_string(length) + " of " + what + " at offset " +
           std::to_string(position_ - 8) + " is larger than " +
           (length > max_bytes ? "the limit of " + std::to_string(max_bytes)
                               : "the rest of the file (" + std::to_string(remaining()) + ")") +
           " bytes (truncated or corrupt file?)");
    }
    std::string value(reinterpret_cast<const char*>(file_.data() + position_), length);
    position_ += length;
    return value;
  }

 private:
  const MappedFile& file_;
  size_t position_ = 0;
};

int64_t read_integer(Cursor& cursor, uint32_t type, const std::string& what) {
  switch (type) {
    case kU8: return cursor.read<uint8_t>(what);
    case kI8: return cursor.read<int8_t>(what);
    case kU16: return cursor.read<uint16_t>(what);
    case kI16: return cursor.read<int16_t>(what);
    case kU32: return cursor.read<uint32_t>(what);
    case kI32: return cursor.read<int32_t>(what);
    case kI64: return cursor.read<int64_t>(what);
    case kBool: return cursor.read<uint8_t>(what) != 0;
    case kU64: {
      const uint64_t value = cursor.read<uint64_t>(what);
      if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        cursor.fail(what + " holds " + std::to_string(value) + ", which does not fit in int64");
      }
      return static_cast<int64_t>(value);
    }
    default: cursor.fail(what + " has non-integer type " + std::to_string(type));
  }
}

GgufValue read_array(Cursor& cursor, const std::string& key) {
  const uint32_t element_type = cursor.read<uint32_t>("element type of array '" + key + "'");
  const uint64_t count = cursor.read<uint64_t>("length of array '" + key + "'");
  if (element_type == kArray) cursor.fail("metadata '" + key + "' is a nested array (unsupported)");
  const size_t element_bytes = min_value_bytes(element_type);
  if (element_bytes == 0) {
    cursor.fail("array '" + key + "' has unknown element type " + std::to_string(element_type));
  }
  if (count > cursor.remaining() / element_bytes) {
    cursor.fail("array '" + key + "' claims " + std::to_string(count) +
                " elements, more than the rest of the file (" +
                std::to_string(cursor.remaining()) + " bytes) can hold (truncated or corrupt file?)");
  }
  const std::string what = "element of array '" + key + "'";
  // NOTE: grow as elements are read; reserve is capped so a lying count in a
  // truncated file costs no more memory than the elements actually present.
  const size_t reserve = static_cast<size_t>(std::min<uint64_t>(count, uint64_t{1} << 20));
  if (element_type == kString) {
    std::vector<std::string> values;
    values.reserve(reserve);
    for (uint64_t i = 0; i < count; ++i) values.push_back(cursor.read_string(what, cursor.remaining()));
    return values;
  }
  if (element_type == kF32 || element_type == kF64) {
    std::vector<double> values;
    values.reserve(reserve);
    for (uint64_t i = 0; i < count; ++i) {
      values.push_back(element_type == kF32 ? cursor.read<float>(what) : cursor.read<double>(what));
    }
    return values;
  }
  std::vector<int64_t> values;
  values.reserve(reserve);
  for (uint64_t i = 0; i < count; ++i) values.push_back(read_integer(cursor, element_type, what));
  return values;
}

GgufValue read_value(Cursor& cursor, uint32_t type, const std::string& key) {
  const std::string what = "value of '" + key + "'";
  switch (type) {
    case kU8: case kU16: case kU32: case kU64:
      return static_cast<uint64_t>(read_integer(cursor, type, what));
    case kI8: case kI16: case kI32: case kI64: return read_integer(cursor, type, what);
    case kF32: return static_cast<double>(cursor.read<float>(what));
    case kF64: return cursor.read<double>(what);
    case kBool: return cursor.read<uint8_t>(what) != 0;
    case kString: return cursor.read_string(what, cursor.remaining());
    case kArray: return read_array(cursor, key);
    default:
      cursor.fail("metadata '" + key + "' has unknown value type " + std::to_string(type));
  }
}

void read_header(Cursor& cursor, GgufFile::Impl& impl, uint64_t& num_tensors, uint64_t& num_kv) {
  const uint32_t magic = cursor.read<uint32_t>("magic");
  if (magic != kMagic) cursor.fail("not a GGUF file (bad magic)");
  impl.version = cursor.read<uint32_t>("version");
  if (impl.version != 2 && impl.version != 3) {
    const uint32_t swapped = __builtin_bswap32(impl.version);
    if (swapped == 2 || swapped == 3) cursor.fail("big-endian GGUF files are not supported");
    cursor.fail("unsupported GGUF version " + std::to_string(impl.version) + " (supported: 2, 3)");
  }
  num_tensors = cursor.read<uint64_t>("tensor count");
  num_kv = cursor.read<uint64_t>("metadata count");
  // A key/value pair takes at least 13 bytes and a tensor info at least 28.
  if (num_kv > cursor.remaining() / 13) {
    cursor.fail("metadata count " + std::to_string(num_kv) + " is larger than the file can hold (truncated or corrupt file?)");
  }
  if (num_tensors > cursor.remaining() / 28) {
    cursor.fail("tensor count " + std::to_string(num_tensors) +
                " is larger than the file can hold (truncated or corrupt file?)");
  }
}

void read_metadata(Cursor& cursor, GgufFile::Impl& impl, uint64_t num_kv) {
  for (uint64_t i = 0; i < num_kv; ++i) {
    std::string key = cursor.read_string("metadata key #" + std::to_string(i), kMaxKeyBytes);
    const uint32_t type = cursor.read<uint32_t>("value type of '" + key + "'");
    GgufValue value = read_value(cursor, type, key);
    if (!impl.metadata.emplace(key, std::move(value)).second) {
      cursor.fail("metadata key '" + key + "' appears twice");
    }
  }
}

GgufTensorInfo read_tensor_info(Cursor& cursor, uint64_t index) {
  GgufTensorInfo info;
  info.name = cursor.read_string("name of tensor #" + std::to_string(index), kMaxKeyBytes);
  const std::string what = "tensor '" + info.name + "'";
  const uint32_t num_dims = cursor.read<uint32_t>("dimension count of " + what);
  if (num_dims == 0 || num_dims > kMaxDims) {
    cursor.fail(what + " has " + std::to_string(num_dims) + " dimensions (supported: 1 to 4)");
  }
  uint64_t num_elements = 1;
  for (uint32_t d = 0; d < num_dims; ++d) {
    const uint64_t dim = cursor.read<uint64_t>("shape of " + what);
    if (dim == 0 || dim > (uint64_t{1} << 40) || num_elements > (uint64_t{1} << 50) / dim) {
      cursor.fail(what + " has an absurd shape (dimension " + std::to_string(d) + " = " +
                  std::to_string(dim) + ")");
    }
    num_elements *= dim;
    info.ne.push_back(static_cast<int64_t>(dim));
  }
  info.ggml_type = cursor.read<uint32_t>("type of " + what);
  info.offset = cursor.read<uint64_t>("data offset of " + what);
  const GgmlTypeInfo* type = ggml_type_info(info.ggml_type);
  if (type == nullptr) {
    cursor.fail(what + " has unknown GGML type id " + std::to_string(info.ggml_type));
  }
  if (info.ne[0] % type->block_elements != 0) {
    cursor.fail(what + " has " + std::to_string(info.ne[0]) + " elements per row, not a multiple of " +
                type->name + "'s block size " + std::to_string(type->block_elements));
  }
  info.num_bytes = static_cast<size_t>(num_elements / type->block_elements) * type->block_bytes;
  return info;
}

uint32_t read_alignment(Cursor& cursor, const GgufFile::Impl& impl) {
  auto it = impl.metadata.find("general.alignment");
  if (it == impl.metadata.end()) return kDefaultAlignment;
  const uint64_t* value = std::get_if<uint64_t>(&it->second);
  if (value == nullptr || *value == 0 || (*value & (*value - 1)) != 0 || *value > (1u << 20)) {
    cursor.fail("general.alignment must be an unsigned power of two up to 2^20");
  }
  return static_cast<uint32_t>(*value);
}

// Every tensor's bytes lie inside the data section, start aligned, and no two
// tensors overlap.
void check_tensor_data(Cursor& cursor, const GgufFile::Impl& impl, uint32_t alignment,
                       size_t file_size) {
  const uint64_t data_size = impl.data_offset <= file_size ? file_size - impl.data_offset : 0;
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& info : impl.tensors) {
    if (info.offset % alignment != 0) {
      cursor.fail("tensor '" + info.name + "' data offset " + std::to_string(info.offset) +
                  " is not a multiple of the alignment " + std::to_string(alignment));
    }
    if (info.offset > data_size || info.num_bytes > data_size - info.offset) {
      cursor.fail("tensor '" + info.name + "' data [" + std::to_string(info.offset) + ", " +
                  std::to_string(info.offset + info.num_bytes) +
                  ") extends past the end of the file (data section holds " +
                  std::to_string(data_size) + " bytes; truncated file?)");
    }
    by_offset.push_back(&info);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto& previous = *by_offset[i - 1];
    if (previous.offset + previous.num_bytes > by_offset[i]->offset) {
      cursor.fail("tensors '" + previous.name + "' and '" + by_offset[i]->name +
                  "' overlap in the data section");
    }
  }
}

[[noreturn]] void fail_kind(const GgufFile& file, const std::string& key, const char* expected) {
  throw ModelLoadError(file.path() + ": metadata '" + key + "' is not " + expected);
}

}  // namespace

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->file = MappedFile::open(path);
  Cursor cursor(*impl->file);
  uint64_t num_tensors = 0, num_kv = 0;
  read_header(cursor, *impl, num_tensors, num_kv);
  read_metadata(cursor, *impl, num_kv);
  impl->tensors.reserve(num_tensors);
  for (uint64_t i = 0; i < num_tensors; ++i) {
    impl->tensors.push_back(read_tensor_info(cursor, i));
    if (!impl->tensor_index.emplace(impl->tensors.back().name, i).second) {
      cursor.fail("tensor '" + impl->tensors.back().name + "' appears twice");
    }
  }
  const uint32_t alignment = read_alignment(cursor, *impl);
  impl->data_offset = (cursor.position() + alignment - 1) / alignment * alignment;
  check_tensor_data(cursor, *impl, alignment, impl->file->size());
  auto file = std::shared_ptr<GgufFile>(new GgufFile());
  file->impl_ = std::move(impl);
  return file;
}

uint32_t GgufFile::version() const { return impl_->version; }
const std::string& GgufFile::path() const { return impl_->file->path(); }
const std::map<std::string, GgufValue>& GgufFile::metadata() const { return impl_->metadata; }
bool GgufFile::has(const std::string& key) const { return impl_->metadata.count(key) != 0; }

std::string GgufFile::get_string(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) throw ModelLoadError(path() + ": missing metadata '" + key + "'");
  if (const auto* value = std::get_if<std::string>(&it->second)) return *value;
  fail_kind(*this, key, "a string");
}

std::string GgufFile::get_string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

int64_t GgufFile::get_int(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) throw ModelLoadError(path() + ": missing metadata '" + key + "'");
  if (const auto* value = std::get_if<int64_t>(&it->second)) return *value;
  if (const auto* value = std::get_if<uint64_t>(&it->second)) {
    if (*value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(*value);
    }
  }
  fail_kind(*this, key, "an integer (in int64 range)");
}

int64_t GgufFile::get_int_or(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double GgufFile::get_float(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) throw ModelLoadError(path() + ": missing metadata '" + key + "'");
  if (const auto* value = std::get_if<double>(&it->second)) return *value;
  if (const auto* value = std::get_if<int64_t>(&it->second)) return static_cast<double>(*value);
  if (const auto* value = std::get_if<uint64_t>(&it->second)) return static_cast<double>(*value);
  fail_kind(*this, key, "a number");
}

double GgufFile::get_float_or(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool_or(const std::string& key, bool fallback) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) return fallback;
  if (const auto* value = std::get_if<bool>(&it->second)) return *value;
  fail_kind(*this, key, "a bool");
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) throw ModelLoadError(path() + ": missing metadata '" + key + "'");
  if (const auto* value = std::get_if<std::vector<std::string>>(&it->second)) return *value;
  // An empty array of another element type is still an empty string array.
  if (const auto* value = std::get_if<std::vector<int64_t>>(&it->second); value && value->empty()) {
    return {};
  }
  fail_kind(*this, key, "an array of strings");
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) return {};
  if (const auto* value = std::get_if<std::vector<int64_t>>(&it->second)) return *value;
  fail_kind(*this, key, "an array of integers");
}

std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) return {};
  if (const auto* value = std::get_if<std::vector<double>>(&it->second)) return *value;
  if (const auto* value = std::get_if<std::vector<int64_t>>(&it->second)) {
    return std::vector<double>(value->begin(), value->end());
  }
  fail_kind(*this, key, "an array of numbers");
}

const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& info) const {
  return impl_->file->data() + impl_->data_offset + info.offset;
}

size_t GgufFile::data_offset() const { return impl_->data_offset; }
size_t GgufFile::file_size() const { return impl_->file->size(); }

DType GgufFile::to_dtype(uint32_t ggml_type, const std::string& tensor_name) {
  switch (ggml_type) {
    case 0: return DType::F32;
    case 1: return DType::F16;
    case 2: return DType::Q4_0;
    case 3: return DType::Q4_1;
    case 6: return DType::Q5_0;
    case 7: return DType::Q5_1;
    case 8: return DType::Q8_0;
    case 10: return DType::Q2_K;
    case 11: return DType::Q3_K;
    case 12: return DType::Q4_K;
    case 13: return DType::Q5_K;
    case 14: return DType::Q6_K;
    case 20: return DType::IQ4_NL;
    case 30: return DType::BF16;
    default: break;
  }
  const GgmlTypeInfo* info = ggml_type_info(ggml_type);
  const std::string type_name =
      info ? std::string(info->name) : "unknown GGML type id " + std::to_string(ggml_type);
  throw ModelLoadError("tensor " + tensor_name + " has type " + type_name +
                       ", which kvserve does not support (supported: F32, F16, BF16, Q8_0, "
                       "Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
}

}  // namespace kvs
