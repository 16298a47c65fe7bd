// DiskTier on real files in a fresh folder per test: byte-exact round trips
// across a restart, LRU within the byte bound, and every fault (corrupted,
// truncated, deleted, foreign files; a bound below one entry; an unwritable
// folder; two tiers sharing a folder) a miss or a warning, never wrong bytes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "engine/errors.h"
#include "kvcache/tiers/disk_tier.h"
#include "kvcache/tiers/tier_file_format.h"
#include "tests/kvcache/tier_test_util.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using test::tier_bytes;
using test::tier_info;

constexpr int64_t kBlockBytes = 4096;
constexpr int kNumTokens = 4;
const std::string kFingerprint = "ab12cd";
const int64_t kFileBytes = static_cast<int64_t>(tier_file_size(kFingerprint.size(), kNumTokens, kBlockBytes));

DiskTierOptions options_for(const std::string& dir, int64_t capacity_bytes, test::WarningLog* log = nullptr) {
  DiskTierOptions options;
  options.dir = dir;
  options.capacity_bytes = capacity_bytes;
  options.fingerprint = kFingerprint;
  if (log != nullptr) options.warn = log->sink();
  return options;
}

void write_block(DiskTier& tier, uint64_t hash, int32_t group = 0) {
  const auto bytes = tier_bytes(hash, kBlockBytes, group);
  tier.write_async(tier_info(hash, group), bytes.data(), kBlockBytes);
}

// Loads `hash`; a hit must give exactly its bytes, a miss must leave dst alone.
bool loads_exactly(DiskTier& tier, uint64_t hash, int32_t group = 0) {
  std::vector<uint8_t> dst(kBlockBytes, 0xEE);
  const bool hit = tier.load(tier_info(hash, group), dst.data(), kBlockBytes);
  if (hit) {
    EXPECT_EQ(dst, tier_bytes(hash, kBlockBytes, group)) << "hash " << hash;
  } else {
    EXPECT_EQ(dst, std::vector<uint8_t>(kBlockBytes, 0xEE)) << "a miss wrote into dst";
  }
  return hit;
}

std::string file_of(const DiskTier& tier, uint64_t hash, int32_t group = 0) {
  return tier.directory() + "/" + tier_file_name({hash, group});
}

int num_entry_files(const std::string& directory) {
  int count = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    count += parse_tier_file_name(entry.path().filename().string()).has_value() ? 1 : 0;
  }
  return count;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void set_age(const std::string& path, int seconds_ago) {
  timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds_ago;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(DiskTier, RoundTripsBytesAcrossARestart) {
  test::ScopedTempDir dir;
  {
    DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
    EXPECT_TRUE(tier.writable());
    EXPECT_EQ(tier.directory(), dir.path() + "/" + kFingerprint);
    write_block(tier, 1);
    write_block(tier, 2);
    write_block(tier, 2, 1);  // the same hash in another group is another file
    tier.flush();
    EXPECT_TRUE(tier.contains({1, 0}));
    EXPECT_TRUE(tier.contains({2, 1}));
    EXPECT_EQ(num_entry_files(tier.directory()), 3);
    EXPECT_TRUE(loads_exactly(tier, 1));
    EXPECT_TRUE(loads_exactly(tier, 2, 1));
    EXPECT_FALSE(loads_exactly(tier, 3));
    const TierCounters counters = tier.counters();
    EXPECT_EQ(counters.stores, 3);
    EXPECT_EQ(counters.entries, 3);
    EXPECT_EQ(counters.bytes, 3 * kFileBytes);
    EXPECT_EQ(counters.hits, 2);
    EXPECT_EQ(counters.misses, 1);
    EXPECT_EQ(counters.rejected, 0);
    EXPECT_GT(counters.load_seconds, 0.0);
  }
  // A restart finds every entry.
  DiskTier again(options_for(dir.path(), 100 * kFileBytes));
  EXPECT_EQ(again.counters().entries, 3);
  EXPECT_EQ(again.counters().bytes, 3 * kFileBytes);
  EXPECT_TRUE(again.contains({2, 0}));
  EXPECT_TRUE(loads_exactly(again, 1));
  EXPECT_TRUE(loads_exactly(again, 2));
  EXPECT_TRUE(loads_exactly(again, 2, 1));
}

TEST(DiskTier, SkipsKeysAlreadyWrittenQueuedOrFound) {
  test::ScopedTempDir dir;
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
  write_block(tier, 1);
  write_block(tier, 1);  // queued (or written) already
  tier.flush();
  write_block(tier, 1);  // written
  tier.flush();
  EXPECT_EQ(tier.counters().stores, 1);
  EXPECT_EQ(tier.counters().store_skipped, 2);
  // A second tier on the folder found it at start-up.
  DiskTier second(options_for(dir.path(), 100 * kFileBytes));
  write_block(second, 1);
  second.flush();
  EXPECT_EQ(second.counters().stores, 0);
  EXPECT_EQ(second.counters().store_skipped, 1);
  // One the first tier writes later is adopted by the second's writer, not rewritten.
  write_block(tier, 2);
  tier.flush();
  const auto before = fs::last_write_time(file_of(tier, 2));
  write_block(second, 2);
  second.flush();
  EXPECT_EQ(second.counters().stores, 0);
  EXPECT_EQ(second.counters().store_skipped, 2);
  EXPECT_TRUE(second.contains({2, 0}));
  EXPECT_EQ(fs::last_write_time(file_of(tier, 2)), before);
}

TEST(DiskTier, EvictsLeastRecentlyUsedFilesWithinTheBound) {
  test::ScopedTempDir dir;
  DiskTier tier(options_for(dir.path(), 3 * kFileBytes));
  for (uint64_t hash : {1, 2, 3}) write_block(tier, hash);
  tier.flush();
  EXPECT_TRUE(loads_exactly(tier, 1));  // 2 is now the least recently used
  write_block(tier, 4);
  tier.flush();
  EXPECT_FALSE(tier.contains({2, 0}));
  EXPECT_FALSE(fs::exists(file_of(tier, 2)));
  EXPECT_FALSE(loads_exactly(tier, 2));
  for (uint64_t hash : {1, 3, 4}) EXPECT_TRUE(loads_exactly(tier, hash)) << hash;
  const TierCounters counters = tier.counters();
  EXPECT_EQ(counters.evictions, 1);
  EXPECT_EQ(counters.entries, 3);
  EXPECT_EQ(counters.bytes, 3 * kFileBytes);
  EXPECT_EQ(num_entry_files(tier.directory()), 3);
}

TEST(DiskTier, RestartKeepsTheMostRecentlyUsedWithinASmallerBound) {
  test::ScopedTempDir dir;
  std::string directory;
  {
    DiskTier tier(options_for(dir.path(), 10 * kFileBytes));
    for (uint64_t hash : {1, 2, 3}) write_block(tier, hash);
    tier.flush();
    directory = tier.directory();
    set_age(file_of(tier, 1), 300);
    set_age(file_of(tier, 2), 200);
    set_age(file_of(tier, 3), 100);
    EXPECT_TRUE(loads_exactly(tier, 1));  // a hit makes the file recent again
  }
  DiskTier again(options_for(dir.path(), 2 * kFileBytes));
  EXPECT_EQ(again.counters().entries, 2);
  EXPECT_EQ(again.counters().bytes, 2 * kFileBytes);
  EXPECT_FALSE(again.contains({2, 0}));
  EXPECT_FALSE(fs::exists(directory + "/" + tier_file_name({2, 0})));
  EXPECT_TRUE(loads_exactly(again, 1));
  EXPECT_TRUE(loads_exactly(again, 3));
}

TEST(DiskTier, MismatchedTokensParentOrSizeAreMissesAndKeepTheFile) {
  test::ScopedTempDir dir;
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
  write_block(tier, 1);
  tier.flush();
  std::vector<uint8_t> dst(kBlockBytes + 1, 0xEE);
  TierEntryInfo tokens = tier_info(1);
  tokens.tokens[0] += 1;
  EXPECT_FALSE(tier.load(tokens, dst.data(), kBlockBytes));
  TierEntryInfo parent = tier_info(1);
  parent.parent_hash ^= 1;
  EXPECT_FALSE(tier.load(parent, dst.data(), kBlockBytes));
  EXPECT_FALSE(tier.load(tier_info(1), dst.data(), kBlockBytes + 1));
  EXPECT_FALSE(tier.load(tier_info(1, 0, kNumTokens + 1), dst.data(), kBlockBytes));
  EXPECT_EQ(dst, std::vector<uint8_t>(kBlockBytes + 1, 0xEE));
  EXPECT_EQ(tier.counters().misses, 4);
  EXPECT_EQ(tier.counters().rejected, 0);
  EXPECT_TRUE(loads_exactly(tier, 1));
}

// Each damage to a written file: the load misses, leaves dst alone, removes
// the file and counts it rejected; a fresh write then works again.
TEST(DiskTier, DamagedFilesAreRejectedMisses) {
  struct Damage {
    const char* name;
    std::function<void(const std::string& path, const DiskTier& tier)> apply;
  };
  const std::vector<Damage> damages = {
      {"payload byte", [](const std::string& path, const DiskTier&) {
         auto bytes = read_bytes(path);
         bytes[bytes.size() - 100] ^= 0x10;
         write_bytes(path, bytes);
       }},
      {"header byte (parent hash)", [](const std::string& path, const DiskTier&) {
         auto bytes = read_bytes(path);
         bytes[33] ^= 0x01;
         write_bytes(path, bytes);
       }},
      {"token byte", [](const std::string& path, const DiskTier&) {
         auto bytes = read_bytes(path);
         bytes[48 + kFingerprint.size()] ^= 0x01;
         write_bytes(path, bytes);
       }},
      {"truncated", [](const std::string& path, const DiskTier&) { fs::resize_file(path, kFileBytes / 2); }},
      {"truncated by the trailer", [](const std::string& path, const DiskTier&) {
         fs::resize_file(path, kFileBytes - 8);
       }},
      {"empty", [](const std::string& path, const DiskTier&) { fs::resize_file(path, 0); }},
      {"extended", [](const std::string& path, const DiskTier&) {
         auto bytes = read_bytes(path);
         bytes.push_back(0);
         write_bytes(path, bytes);
       }},
      {"garbage of the right size", [](const std::string& path, const DiskTier&) {
         write_bytes(path, tier_bytes(77, static_cast<size_t>(kFileBytes)));
       }},
      {"another key's file", [](const std::string& path, const DiskTier& tier) {
         fs::copy_file(file_of(tier, 2), path, fs::copy_options::overwrite_existing);
       }},
      {"another fingerprint's file", [](const std::string& path, const DiskTier&) {
         const auto bytes = tier_bytes(1, kBlockBytes);
         write_bytes(path, encode_tier_file("ab12ce", tier_info(1), bytes.data(), kBlockBytes));
       }},
      {"a folder", [](const std::string& path, const DiskTier&) {
         fs::remove(path);
         fs::create_directory(path);
       }},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.name);
    test::ScopedTempDir dir;
    DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
    write_block(tier, 1);
    write_block(tier, 2);
    tier.flush();
    const std::string path = file_of(tier, 1);
    damage.apply(path, tier);
    EXPECT_FALSE(loads_exactly(tier, 1));
    const TierCounters counters = tier.counters();
    EXPECT_EQ(counters.misses, 1);
    const bool is_folder = std::string(damage.name) == "a folder";
    EXPECT_EQ(counters.rejected, is_folder ? 0 : 1);
    if (!is_folder) {
      EXPECT_FALSE(fs::exists(path));
      EXPECT_FALSE(tier.contains({1, 0}));
      EXPECT_EQ(counters.entries, 1);
      EXPECT_EQ(counters.bytes, kFileBytes);
      write_block(tier, 1);
      tier.flush();
      EXPECT_TRUE(loads_exactly(tier, 1));
    }
    EXPECT_TRUE(loads_exactly(tier, 2));
  }
}

TEST(DiskTier, DeletedFileIsAMiss) {
  test::ScopedTempDir dir;
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
  write_block(tier, 1);
  tier.flush();
  ASSERT_TRUE(fs::remove(file_of(tier, 1)));
  EXPECT_FALSE(loads_exactly(tier, 1));
  TierCounters counters = tier.counters();
  EXPECT_EQ(counters.misses, 1);
  EXPECT_EQ(counters.rejected, 0);
  EXPECT_EQ(counters.entries, 0);
  EXPECT_EQ(counters.bytes, 0);
  EXPECT_FALSE(tier.contains({1, 0}));
  write_block(tier, 1);  // written again
  tier.flush();
  EXPECT_EQ(tier.counters().stores, 2);
  EXPECT_TRUE(loads_exactly(tier, 1));
}

TEST(DiskTier, FilesOfAnotherFingerprintAreNeverRead) {
  test::ScopedTempDir dir;
  DiskTierOptions other = options_for(dir.path(), 100 * kFileBytes);
  other.fingerprint = "ffff";
  {
    DiskTier tier(other);
    write_block(tier, 1);
  }
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
  EXPECT_EQ(tier.counters().entries, 0);
  EXPECT_FALSE(loads_exactly(tier, 1));
  EXPECT_EQ(tier.counters().rejected, 0);
  EXPECT_TRUE(fs::exists(dir.path() + "/ffff/" + tier_file_name({1, 0})));
}

TEST(DiskTier, BoundSmallerThanOneEntryWritesNothingAndWarnsOnce) {
  test::ScopedTempDir dir;
  test::WarningLog log;
  DiskTier tier(options_for(dir.path(), kFileBytes - 1, &log));
  EXPECT_TRUE(tier.writable());
  write_block(tier, 1);
  write_block(tier, 2);
  tier.flush();
  EXPECT_EQ(num_entry_files(tier.directory()), 0);
  EXPECT_EQ(tier.counters().store_skipped, 2);
  EXPECT_EQ(tier.counters().stores, 0);
  ASSERT_EQ(log.messages().size(), 1u);
  EXPECT_NE(log.messages()[0].find("larger than the capacity"), std::string::npos) << log.messages()[0];
  EXPECT_FALSE(loads_exactly(tier, 1));
  // Exactly one entry fits.
  DiskTier fits(options_for(dir.path(), kFileBytes, &log));
  write_block(fits, 1);
  write_block(fits, 2);
  fits.flush();
  EXPECT_EQ(num_entry_files(fits.directory()), 1);
  EXPECT_EQ(fits.counters().evictions, 1);
  EXPECT_TRUE(loads_exactly(fits, 2));
}

// Unwritable folders: a warning, writable() false, writes skipped, loads miss;
// never a crash or an exception.
TEST(DiskTier, UnusableFolderWarnsAndServesOn) {
  test::ScopedTempDir dir;
  write_bytes(dir.path() + "/file", {1, 2, 3});
  for (const std::string& path : {dir.path() + "/file/sub", std::string("/proc/kvs-tier-test")}) {
    SCOPED_TRACE(path);
    test::WarningLog log;
    DiskTier tier(options_for(path, 100 * kFileBytes, &log));
    EXPECT_FALSE(tier.writable());
    ASSERT_EQ(log.messages().size(), 1u);
    EXPECT_NE(log.messages()[0].find("disk tier"), std::string::npos);
    write_block(tier, 1);
    tier.flush();
    EXPECT_EQ(tier.counters().store_skipped, 1);
    EXPECT_FALSE(loads_exactly(tier, 1));
    EXPECT_EQ(tier.counters().misses, 1);
    EXPECT_EQ(log.messages().size(), 1u);
  }
}

// Makes a folder unwritable for this process while it lives: chmod 0555,
// and where that does not stop writes (root), the immutable attribute.
class ReadOnlyFolder {
 public:
  explicit ReadOnlyFolder(std::string path) : path_(std::move(path)) {
    if (::chmod(path_.c_str(), 0555) == 0 && !can_create()) {
      ok_ = true;
      return;
    }
    const int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int flags = 0;
    if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
      flags |= FS_IMMUTABLE_FL;
      immutable_ = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    }
    if (fd >= 0) ::close(fd);
    ok_ = immutable_ && !can_create();
  }
  ~ReadOnlyFolder() {
    if (immutable_) {
      const int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      int flags = 0;
      if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags &= ~FS_IMMUTABLE_FL;
        ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
      }
      if (fd >= 0) ::close(fd);
    }
    ::chmod(path_.c_str(), 0755);
  }
  ReadOnlyFolder(const ReadOnlyFolder&) = delete;
  ReadOnlyFolder& operator=(const ReadOnlyFolder&) = delete;
  bool ok() const { return ok_; }

 private:
  bool can_create() const {
    const std::string probe = path_ + "/probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    ::close(fd);
    ::unlink(probe.c_str());
    return true;
  }
  std::string path_;
  bool immutable_ = false;
  bool ok_ = false;
};

TEST(DiskTier, ReadOnlyFolderKeepsLoadingWhatIsThere) {
  test::ScopedTempDir dir;
  std::string directory;
  {
    DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
    write_block(tier, 1);
    write_block(tier, 3);
    tier.flush();
    directory = tier.directory();
  }
  ReadOnlyFolder read_only(directory);
  if (!read_only.ok()) {
    GTEST_SKIP() << "neither chmod 0555 nor the immutable attribute stops writes here; the unwritable "
                    "case is UnusableFolderWarnsAndServesOn and WriteErrorTurnsWritesOff";
  }
  test::WarningLog log;
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes, &log));
  EXPECT_FALSE(tier.writable());
  EXPECT_EQ(log.messages().size(), 1u);
  EXPECT_TRUE(tier.contains({1, 0}));
  EXPECT_TRUE(loads_exactly(tier, 1));
  write_block(tier, 2);
  tier.flush();
  EXPECT_FALSE(loads_exactly(tier, 2));
  EXPECT_EQ(tier.counters().store_skipped, 1);
  // A corrupt file that cannot be removed: still a miss, counted rejected.
  const std::string path = directory + "/" + tier_file_name({3, 0});
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const uint8_t byte = 0x5a;
  ASSERT_EQ(::pwrite(fd, &byte, 1, kFileBytes - 20), 1);
  ::close(fd);
  EXPECT_FALSE(loads_exactly(tier, 3));
  EXPECT_EQ(tier.counters().rejected, 1);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(log.messages().size(), 1u);
}

TEST(DiskTier, WriteErrorTurnsWritesOffWithOneWarning) {
  test::ScopedTempDir dir;
  test::WarningLog log;
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes, &log));
  write_block(tier, 1);
  tier.flush();
  ASSERT_TRUE(tier.writable());
  // The folder is replaced by a regular file: every write fails (ENOTDIR).
  fs::remove_all(tier.directory());
  write_bytes(tier.directory(), {0});
  write_block(tier, 2);
  write_block(tier, 3);
  tier.flush();
  EXPECT_FALSE(tier.writable());
  ASSERT_EQ(log.messages().size(), 1u) << log.messages()[0];
  EXPECT_NE(log.messages()[0].find("failed"), std::string::npos) << log.messages()[0];
  const TierCounters counters = tier.counters();
  EXPECT_EQ(counters.store_errors, 1);
  EXPECT_EQ(counters.stores, 1);
  EXPECT_EQ(counters.store_skipped, 1);  // 3 waited behind the failure, or came after it
  write_block(tier, 4);
  tier.flush();
  EXPECT_EQ(tier.counters().store_skipped, 2);
  EXPECT_FALSE(loads_exactly(tier, 1));
  EXPECT_FALSE(loads_exactly(tier, 2));
  EXPECT_EQ(log.messages().size(), 1u);
  // Loads go on while writes are off: a file that is there is read.
  fs::remove(tier.directory());
  fs::create_directory(tier.directory());
  const auto bytes = tier_bytes(1, kBlockBytes);
  write_bytes(file_of(tier, 1), encode_tier_file(kFingerprint, tier_info(1), bytes.data(), kBlockBytes));
  EXPECT_TRUE(loads_exactly(tier, 1));
  EXPECT_FALSE(tier.writable());
}

TEST(DiskTier, FlushWaitsForEveryQueuedWrite) {
  test::ScopedTempDir dir;
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
  for (uint64_t hash = 0; hash < 20; ++hash) write_block(tier, hash);
  tier.flush();
  EXPECT_EQ(tier.counters().stores, 20);
  EXPECT_EQ(num_entry_files(tier.directory()), 20);
  tier.flush();  // nothing queued: returns at once
}

TEST(DiskTier, DestructorFinishesQueuedWrites) {
  test::ScopedTempDir dir;
  {
    DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
    for (uint64_t hash = 0; hash < 20; ++hash) write_block(tier, hash);
  }
  EXPECT_EQ(num_entry_files(dir.path() + "/" + kFingerprint), 20);
}

TEST(DiskTier, WritesPastMaxPendingBytesAreDropped) {
  test::ScopedTempDir dir;
  DiskTierOptions options = options_for(dir.path(), 100 * kFileBytes);
  options.max_pending_bytes = kBlockBytes - 1;
  {
    DiskTier tier(options);
    write_block(tier, 1);
    tier.flush();
    EXPECT_EQ(tier.counters().store_skipped, 1);
    EXPECT_EQ(num_entry_files(tier.directory()), 0);
  }
  options.max_pending_bytes = kBlockBytes;  // one at a time
  DiskTier tier(options);
  write_block(tier, 1);
  tier.flush();
  write_block(tier, 2);
  tier.flush();
  EXPECT_EQ(tier.counters().stores, 2);
  EXPECT_TRUE(loads_exactly(tier, 2));
}

TEST(DiskTier, StaleTemporaryFilesAreRemovedFreshOnesKept) {
  test::ScopedTempDir dir;
  const std::string directory = dir.path() + "/" + kFingerprint;
  fs::create_directories(directory);
  const std::string stale = directory + "/.tmp-123-4.kvb.tmp";
  const std::string fresh = directory + "/.tmp-123-5.kvb.tmp";
  const std::string other = directory + "/notes.txt";
  for (const auto& path : {stale, fresh, other}) write_bytes(path, {1});
  set_age(stale, 2 * 3600);
  set_age(other, 2 * 3600);
  DiskTier tier(options_for(dir.path(), 100 * kFileBytes));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));  // another server may be writing it
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(tier.counters().entries, 0);
}

TEST(DiskTier, RejectsBadOptions) {
  test::ScopedTempDir dir;
  EXPECT_THROW(DiskTier{options_for("", 100)}, InvalidArgument);
  EXPECT_THROW(DiskTier{options_for(dir.path(), 0)}, InvalidArgument);
  for (const char* fingerprint : {"", "AB", "a/b", "../x", "g1"}) {
    DiskTierOptions options = options_for(dir.path(), 100);
    options.fingerprint = fingerprint;
    EXPECT_THROW(DiskTier{options}, InvalidArgument) << fingerprint;
  }
}

// Two tiers on one folder (two servers sharing it) write the same and
// different keys from threads while others load from both and a third
// thread corrupts and deletes files: every load misses or gives exactly the
// right bytes. The bounds are small, so each tier also deletes the other's files.
TEST(DiskTier, TwoTiersSharingAFolderNeverGiveWrongBytes) {
  test::ScopedTempDir dir;
  test::WarningLog log;
  DiskTier first(options_for(dir.path(), 12 * kFileBytes, &log));
  DiskTier second(options_for(dir.path(), 12 * kFileBytes, &log));
  constexpr uint64_t kNumKeys = 32;
  std::atomic<bool> done{false};
  std::atomic<int64_t> num_hits{0}, num_wrong{0};
  auto writer = [&](DiskTier& tier, uint64_t seed) {
    std::mt19937_64 random(seed);
    for (int i = 0; i < 400; ++i) {
      write_block(tier, random() % kNumKeys);
      if (i % 50 == 0) tier.flush();
    }
    tier.flush();
  };
  auto loader = [&](DiskTier& tier, uint64_t seed) {
    std::mt19937_64 random(seed);
    std::vector<uint8_t> dst(kBlockBytes);
    while (!done.load()) {
      const uint64_t hash = random() % kNumKeys;
      std::fill(dst.begin(), dst.end(), 0xEE);
      if (tier.load(tier_info(hash), dst.data(), kBlockBytes)) {
        ++num_hits;
        if (dst != tier_bytes(hash, kBlockBytes)) ++num_wrong;
      } else if (dst != std::vector<uint8_t>(kBlockBytes, 0xEE)) {
        ++num_wrong;
      }
    }
  };
  auto vandal = [&]() {
    std::mt19937_64 random(99);
    while (!done.load()) {
      const std::string path = first.directory() + "/" + tier_file_name({random() % kNumKeys, 0});
      std::error_code error;
      if (random() % 2 == 0) {
        fs::remove(path, error);
      } else if (fs::exists(path, error)) {
        auto bytes = read_bytes(path);
        if (!bytes.empty()) {
          bytes[random() % bytes.size()] ^= 0x40;
          write_bytes(path, bytes);  // in place: readers may see it torn too
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  std::vector<std::thread> loaders;
  loaders.emplace_back(loader, std::ref(first), 1);
  loaders.emplace_back(loader, std::ref(second), 2);
  std::thread vandal_thread(vandal);
  std::thread write_first(writer, std::ref(first), 3);
  std::thread write_second(writer, std::ref(second), 4);
  write_first.join();
  write_second.join();
  done = true;
  for (auto& thread : loaders) thread.join();
  vandal_thread.join();
  EXPECT_EQ(num_wrong.load(), 0);
  EXPECT_EQ(log.messages().size(), 0u);
  EXPECT_TRUE(first.writable());
  EXPECT_TRUE(second.writable());
  // Whatever is left on disk is either sound or refused; after a fresh write
  // of every key, each tier gives every key's bytes.
  for (uint64_t hash = 0; hash < kNumKeys; ++hash) loads_exactly(first, hash);
  for (uint64_t hash = 0; hash < 8; ++hash) {
    write_block(first, hash);
    first.flush();
    EXPECT_TRUE(loads_exactly(first, hash)) << hash;
    EXPECT_TRUE(loads_exactly(second, hash)) << hash;
  }
  std::printf("sharing: %lld hits, first %s, second %s\n", static_cast<long long>(num_hits.load()),
              ("stores " + std::to_string(first.counters().stores) + " rejected " +
               std::to_string(first.counters().rejected) + " evictions " + std::to_string(first.counters().evictions))
                  .c_str(),
              ("stores " + std::to_string(second.counters().stores) + " rejected " +
               std::to_string(second.counters().rejected))
                  .c_str());
  EXPECT_GT(num_hits.load(), 0);
}

}  // namespace
}  // namespace kvs
