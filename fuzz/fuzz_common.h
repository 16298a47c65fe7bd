#pragma once
// Helpers shared by the harnesses (header-only; fuzz/ only).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

namespace kvs::fuzz {

// A harness-detected contract violation: print and abort, which libFuzzer
// reports as a crash and saves the input.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz contract violated: %s\n", what);
  std::abort();
}
#define KVS_FUZZ_CHECK(cond) \
  do {                       \
    if (!(cond)) ::kvs::fuzz::violated(#cond); \
  } while (0)

// The input as an anonymous in-memory file (memfd), for parsers that open a
// path: path() is "/proc/self/fd/N", a name fixed by this process, so no
// byte of the input ever names a file. One memfd per process, rewritten per
// input; the previous input's maps must be gone (they are: parsers' objects
// die at the end of each run).
class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size) {
    static const int fd = [] {
      const int f = ::memfd_create("kvs-fuzz-input", MFD_CLOEXEC);
      if (f < 0) violated("memfd_create failed");
      return f;
    }();
    if (::ftruncate(fd, 0) != 0) violated("ftruncate failed");
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) violated("pwrite failed");
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Splits `data` at the first NUL byte: (before, after). No NUL: (all, "").
inline std::pair<std::string, std::string> split_at_nul(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  if (nul == std::string_view::npos) return {std::string(all), std::string()};
  return {std::string(all.substr(0, nul)), std::string(all.substr(nul + 1))};
}

}  // namespace kvs::fuzz
