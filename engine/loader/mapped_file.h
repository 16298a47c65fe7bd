#pragma once
// A read-only memory map of a whole file.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace kvs {

// Ownership: owns the mapping; unmapped when the last shared_ptr goes.
// Thread-safety: immutable; the bytes may be read from any thread.
class MappedFile {
 public:
  // Throws ModelLoadError naming the path if it cannot be opened, is not a
  // regular file, or cannot be mapped. An empty file maps to size() == 0.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace kvs
