#pragma once
// The POSIX file operations the disk tier (kvcache/tiers/disk_tier.h) needs,
// each reporting an errno instead of throwing. Thread-safe (no shared state
// but a process-wide counter for temporary names).
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kvs {

// A temporary-file name in `directory`, unique within this process and
// across processes (pid + counter): "<directory>/.tmp-<pid>-<n>.kvb.tmp".
std::string tier_temp_path(const std::string& directory);
// Whether a file name (no folder) is a temporary file of a tier: it starts
// with ".tmp-" (tier_temp_path's names and the start-up probe's).
bool is_tier_temp_name(const std::string& name);

// Writes data to a fresh temporary file in the folder of `path`, then renames
// it to `path` (atomic for readers). Returns 0 or the errno of the failing
// call; on failure the temporary file is removed.
int write_file_atomically(const std::string& path, const std::vector<uint8_t>& data);

struct FileRead {
  int error = 0;                 // 0, or the errno of open/fstat/read (ENOENT: no such file)
  bool too_large = false;        // larger than max_bytes (not read)
  std::vector<uint8_t> bytes;    // the whole file when error == 0 and !too_large
  dev_t device = 0;              // identity of the file read (for remove_if_same_file)
  ino_t inode = 0;
};
// Reads the whole file at `path` (at most max_bytes). When touch is set and
// the read succeeds, its modification time becomes now (errors ignored).
FileRead read_whole_file(const std::string& path, int64_t max_bytes, bool touch);
// Removes `path` if it still names the file that `read` read (not one
// renamed into its place since). Errors ignored.
void remove_if_same_file(const std::string& path, const FileRead& read);

}  // namespace kvs
