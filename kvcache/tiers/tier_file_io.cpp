#include "kvcache/tiers/tier_file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace kvs {
namespace {

constexpr const char* kTempPrefix = ".tmp-";
constexpr const char* kTempSuffix = ".kvb.tmp";

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

std::string tier_temp_path(const std::string& directory) {
  static std::atomic<uint64_t> counter{0};
  return directory + "/" + kTempPrefix + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1, std::memory_order_relaxed)) + kTempSuffix;
}

bool is_tier_temp_name(const std::string& name) { return name.rfind(kTempPrefix, 0) == 0; }

int write_file_atomically(const std::string& path, const std::vector<uint8_t>& data) {
  const std::string temp = tier_temp_path(folder_of(path));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  size_t done = 0;
  int error = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  // NOTE: close reports delayed write errors (NFS, quotas).
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) ::unlink(temp.c_str());
  return error;
}

FileRead read_whole_file(const std::string& path, int64_t max_bytes, bool touch) {
  FileRead read;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    read.error = errno;
    return read;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    read.error = errno;
    ::close(fd);
    return read;
  }
  read.device = info.st_dev;
  read.inode = info.st_ino;
  if (info.st_size > max_bytes) {
    read.too_large = true;
    ::close(fd);
    return read;
  }
  read.bytes.resize(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < read.bytes.size()) {
    const ssize_t n = ::pread(fd, read.bytes.data() + done, read.bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      read.error = errno;
      break;
    }
    if (n == 0) break;  // shrank since fstat: what was read is parsed (and fails)
    done += static_cast<size_t>(n);
  }
  read.bytes.resize(done);
  if (read.error == 0 && touch) ::futimens(fd, nullptr);
  ::close(fd);
  return read;
}

void remove_if_same_file(const std::string& path, const FileRead& read) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && info.st_dev == read.device && info.st_ino == read.inode) {
    ::unlink(path.c_str());
  }
}

}  // namespace kvs
