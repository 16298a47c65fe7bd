#include "kvcache/tiers/disk_tier.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <list>
#include <new>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/errors.h"
#include "kvcache/tiers/tier_file_format.h"
#include "kvcache/tiers/tier_file_io.h"

namespace kvs {
namespace {

// NOTE: another server sharing the folder may be writing a temporary file
// right now; only one this old is left over from a crash.
constexpr int64_t kStaleTempSeconds = 3600;
// A block's file is far smaller; a larger file under an entry's name is not one.
constexpr int64_t kMaxEntryFileBytes = int64_t{1} << 31;

void validate(const DiskTierOptions& options) {
  if (options.dir.empty()) throw InvalidArgument("disk tier: empty directory");
  if (options.capacity_bytes <= 0) throw InvalidArgument("disk tier: capacity must be > 0 bytes");
  if (options.max_pending_bytes < 0) throw InvalidArgument("disk tier: max_pending_bytes must be >= 0");
  const std::string& fingerprint = options.fingerprint;
  const bool hex = std::all_of(fingerprint.begin(), fingerprint.end(),
                               [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (fingerprint.empty() || fingerprint.size() > kMaxFingerprintBytes || !hex) {
    throw InvalidArgument("disk tier: the fingerprint must be 1.." + std::to_string(kMaxFingerprintBytes) +
                          " characters of [0-9a-f], got '" + fingerprint + "'");
  }
}

}  // namespace

struct DiskTier::State {
  struct File {
    int64_t bytes = 0;
    std::list<TierKey>::iterator lru_position;
  };
  struct PendingWrite {
    TierEntryInfo info;
    std::vector<uint8_t> bytes;
  };

  DiskTierOptions options;
  std::string directory;  // <dir>/<fingerprint>

  mutable std::mutex mutex;
  std::condition_variable work_ready;  // writer: queue non-empty or stopping
  std::condition_variable work_done;   // flush: num_done advanced
  std::unordered_map<TierKey, File, TierKeyHash> files;
  std::list<TierKey> lru;  // front: least recently used
  std::deque<PendingWrite> queue;
  std::unordered_set<TierKey, TierKeyHash> queued;  // queued or being written
  int64_t pending_bytes = 0;
  uint64_t num_queued = 0, num_done = 0;
  bool writable = true;
  bool stopping = false;
  bool warned_too_large = false;
  TierCounters counters;
  std::thread writer;

  std::string path_of(const TierKey& key) const { return directory + "/" + tier_file_name(key); }
  void warn(const std::string& message) const {
    if (options.warn) options.warn("disk tier " + directory + ": " + message);
  }

  // Index updates; mutex held.
  void add_file(const TierKey& key, int64_t bytes) {
    auto found = files.find(key);
    if (found != files.end()) {
      counters.bytes += bytes - found->second.bytes;
      found->second.bytes = bytes;
      lru.splice(lru.end(), lru, found->second.lru_position);
      return;
    }
    lru.push_back(key);
    files.emplace(key, File{bytes, std::prev(lru.end())});
    counters.bytes += bytes;
    ++counters.entries;
  }
  void drop_file(const TierKey& key) {
    const auto found = files.find(key);
    if (found == files.end()) return;
    counters.bytes -= found->second.bytes;
    --counters.entries;
    lru.erase(found->second.lru_position);
    files.erase(found);
  }
  // Drops least recently used files from the index until the bound holds;
  // returns their paths (the caller removes them, without the lock).
  std::vector<std::string> evict_over_capacity() {
    std::vector<std::string> victims;
    while (counters.bytes > options.capacity_bytes && !lru.empty()) {
      const TierKey key = lru.front();
      victims.push_back(path_of(key));
      drop_file(key);
      ++counters.evictions;
    }
    return victims;
  }

  bool open_directory();
  void scan_directory();
  void run_writer();
  // The writer's I/O for one entry (no lock held): adopts an existing file
  // (returns its size, sets *adopted) or writes one. Returns the file's size,
  // or -1 with *error set.
  int64_t write_entry(const PendingWrite& write, bool* adopted, int* error) const;
};

bool DiskTier::State::open_directory() {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    warn("cannot create the directory (" + error.message() + "); the disk tier is off");
    return false;
  }
  // NOTE: a probe file, since access(W_OK) is wrong for root and for
  // read-only mounts alike.
  const std::string probe = tier_temp_path(directory) + ".probe";
  const int probe_error = write_file_atomically(probe, {});
  ::unlink(probe.c_str());
  if (probe_error != 0) {
    warn(std::string("cannot write to the directory (") + std::strerror(probe_error) +
         "); serving goes on without writing to the disk tier");
    return false;
  }
  return true;
}

void DiskTier::State::scan_directory() {
  struct Found {
    TierKey key;
    int64_t bytes;
    timespec modified;
  };
  std::vector<Found> found;
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error), end;
  const time_t now = ::time(nullptr);
  for (; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    struct stat info {};
    if (::stat(it->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    if (is_tier_temp_name(name)) {
      if (now - info.st_mtime > kStaleTempSeconds) ::unlink(it->path().c_str());
      continue;
    }
    if (const auto key = parse_tier_file_name(name)) found.push_back({*key, info.st_size, info.st_mtim});
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::make_pair(a.modified.tv_sec, a.modified.tv_nsec) < std::make_pair(b.modified.tv_sec, b.modified.tv_nsec);
  });
  for (const Found& file : found) add_file(file.key, file.bytes);
  // NOTE: evictions at start-up are not counted: they are the bound of an
  // earlier run (or another server's) applied to this one.
  const int64_t evictions = counters.evictions;
  for (const std::string& path : evict_over_capacity()) ::unlink(path.c_str());
  counters.evictions = evictions;
}

int64_t DiskTier::State::write_entry(const PendingWrite& write, bool* adopted, int* error) const {
  const std::string path = path_of(write.info.key);
  struct stat info {};
  // NOTE: another server sharing the folder may have written it already.
  if (::stat(path.c_str(), &info) == 0) {
    *adopted = true;
    return info.st_size;
  }
  std::vector<uint8_t> file;
  try {
    file = encode_tier_file(options.fingerprint, write.info, write.bytes.data(),
                            static_cast<int64_t>(write.bytes.size()));
  } catch (const std::bad_alloc&) {
    *error = ENOMEM;
    return -1;
  }
  *error = write_file_atomically(path, file);
  return *error == 0 ? static_cast<int64_t>(file.size()) : -1;
}

void DiskTier::State::run_writer() {
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    work_ready.wait(lock, [&] { return stopping || !queue.empty(); });
    if (queue.empty()) return;  // stopping, and every queued write is done
    PendingWrite write = std::move(queue.front());
    queue.pop_front();
    const bool write_now = writable;
    lock.unlock();

    bool adopted = false;
    int error = 0;
    const int64_t file_bytes = write_now ? write_entry(write, &adopted, &error) : -1;

    lock.lock();
    std::vector<std::string> victims;
    std::string warning;
    if (!write_now) {
      ++counters.store_skipped;  // writes were turned off while it waited
    } else if (error != 0) {
      ++counters.store_errors;
      writable = false;
      warning = "writing " + tier_file_name(write.info.key) + " failed (" + std::strerror(error) +
                "); serving goes on without writing to the disk tier";
    } else {
      add_file(write.info.key, file_bytes);
      ++(adopted ? counters.store_skipped : counters.stores);
      victims = evict_over_capacity();
    }
    pending_bytes -= static_cast<int64_t>(write.bytes.size());
    queued.erase(write.info.key);
    lock.unlock();
    for (const std::string& path : victims) ::unlink(path.c_str());
    if (!warning.empty()) warn(warning);
    lock.lock();
    ++num_done;
    work_done.notify_all();
  }
}

DiskTier::DiskTier(DiskTierOptions options) : state_(std::make_unique<State>()) {
  validate(options);
  State& state = *state_;
  state.options = std::move(options);
  state.directory = state.options.dir + "/" + state.options.fingerprint;
  state.writable = state.open_directory();
  state.scan_directory();
  if (state.writable) state.writer = std::thread([&state] { state.run_writer(); });
}

DiskTier::~DiskTier() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work_ready.notify_all();
  if (state_->writer.joinable()) state_->writer.join();
}

void DiskTier::write_async(const TierEntryInfo& info, const uint8_t* bytes, int64_t num_bytes) {
  if (num_bytes < 0 || (num_bytes > 0 && bytes == nullptr)) throw InvalidArgument("disk tier: bad entry bytes");
  if (info.tokens.size() > kMaxTierTokens) throw InvalidArgument("disk tier: too many tokens in an entry");
  State& state = *state_;
  const uint64_t file_bytes =
      tier_file_size(state.options.fingerprint.size(), info.tokens.size(), static_cast<uint64_t>(num_bytes));
  const bool too_large = file_bytes > static_cast<uint64_t>(state.options.capacity_bytes);
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    if (!state.writable || too_large || state.files.count(info.key) != 0 || state.queued.count(info.key) != 0 ||
        state.pending_bytes + num_bytes > state.options.max_pending_bytes) {
      ++state.counters.store_skipped;
      if (!too_large || !state.writable || state.warned_too_large) return;
      state.warned_too_large = true;
    } else {
      // Reserved: a concurrent write_async of the key skips it from here on.
      state.queued.insert(info.key);
      state.pending_bytes += num_bytes;
    }
  }
  if (too_large) {
    state.warn("an entry of " + std::to_string(file_bytes) + " bytes is larger than the capacity of " +
               std::to_string(state.options.capacity_bytes) + " bytes; no entry is written");
    return;
  }
  // NOTE: the copy is made outside the lock, so loads and metrics on other
  // threads never wait for it.
  State::PendingWrite write{info, std::vector<uint8_t>(bytes, bytes + num_bytes)};
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.queue.push_back(std::move(write));
    ++state.num_queued;
  }
  state.work_ready.notify_one();
}

bool DiskTier::load(const TierEntryInfo& expected, uint8_t* dst, int64_t num_bytes) {
  if (num_bytes < 0 || (num_bytes > 0 && dst == nullptr)) throw InvalidArgument("disk tier: bad destination");
  State& state = *state_;
  const auto start = std::chrono::steady_clock::now();
  const std::string path = state.path_of(expected.key);
  const FileRead read = read_whole_file(path, kMaxEntryFileBytes, /*touch=*/true);
  enum class Outcome { kHit, kMiss, kMissing, kRejected } outcome = Outcome::kMiss;
  if (read.error == ENOENT) {
    outcome = Outcome::kMissing;  // never written, evicted, or removed by another server
  } else if (read.too_large) {
    outcome = Outcome::kRejected;
  } else if (read.error == 0) {
    const auto file = parse_tier_file(read.bytes.data(), read.bytes.size());
    if (!file || file->fingerprint != state.options.fingerprint || !(file->info.key == expected.key)) {
      outcome = Outcome::kRejected;  // torn, truncated, corrupted, foreign or misnamed
    } else if (tier_file_matches(*file, expected, num_bytes)) {
      if (num_bytes > 0) std::memcpy(dst, file->payload, static_cast<size_t>(num_bytes));
      outcome = Outcome::kHit;
    }
    // NOTE: a sound file for other tokens, parent or size (a hash collision,
    // or another layout asked under this fingerprint) is a miss and stays.
  }
  if (outcome == Outcome::kRejected) remove_if_same_file(path, read);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard<std::mutex> lock(state.mutex);
  state.counters.load_seconds += seconds;
  switch (outcome) {
    case Outcome::kHit: {
      ++state.counters.hits;
      const auto found = state.files.find(expected.key);
      if (found != state.files.end()) state.lru.splice(state.lru.end(), state.lru, found->second.lru_position);
      return true;
    }
    case Outcome::kRejected:
      ++state.counters.rejected;
      [[fallthrough]];
    case Outcome::kMissing:
      state.drop_file(expected.key);
      [[fallthrough]];
    case Outcome::kMiss:
      ++state.counters.misses;
      return false;
  }
  return false;
}

bool DiskTier::contains(const TierKey& key) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->files.count(key) != 0;
}

void DiskTier::flush() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  const uint64_t target = state_->num_queued;
  state_->work_done.wait(lock, [&] { return state_->num_done >= target; });
}

bool DiskTier::writable() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->writable;
}

TierCounters DiskTier::counters() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->counters;
}

const std::string& DiskTier::directory() const { return state_->directory; }

}  // namespace kvs
