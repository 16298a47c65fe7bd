// The prefix cache's host and disk tiers on the real default model: a prompt
// whose blocks the pool evicted, or that an earlier engine (a restart) wrote
// to disk, is loaded instead of recomputed, with greedy output identical to
// an engine without tiers. Files corrupted, truncated or deleted, a disk
// bound smaller than one block, an unusable directory and two engines on one
// directory are each a miss or a warning, never different output.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "engine/loader/loaded_model.h"
#include "engine/loader/model_fingerprint.h"
#include "engine/model/kv_storage.h"
#include "scheduler/engine_client.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<LlamaModel> load_default() {
  return std::make_unique<LlamaModel>(load_model(test::default_model()), ModelOptions{});
}

LlamaModel& model() {
  static std::unique_ptr<LlamaModel> instance = load_default();
  return *instance;
}

const std::string& fingerprint() {
  static const std::string value = model_fingerprint(test::default_model());
  return value;
}

std::vector<int32_t> prompt(uint32_t seed, int64_t length) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, 49151);
  std::vector<int32_t> ids(static_cast<size_t>(length));
  for (int32_t& t : ids) t = token(rng);
  return ids;
}

struct Result {
  std::vector<int32_t> tokens;
  RequestStats stats;
};

Result run(EngineClient& engine, const std::vector<int32_t>& ids, int64_t max_tokens = 6) {
  Request request;
  request.prompt_token_ids = ids;
  request.max_tokens = max_tokens;
  RequestHandle handle = engine.submit(request);
  Result result;
  TokenEvent event;
  while (handle.next(event)) {
    if (event.token_id >= 0) result.tokens.push_back(event.token_id);
    if (event.finish_reason != FinishReason::kNone) result.stats = event.stats;
  }
  return result;
}

// Warnings the tiers gave, collected from any thread.
struct Warnings {
  std::mutex mutex;
  std::vector<std::string> messages;
  TierWarning sink() {
    return [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(message);
    };
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return messages.size();
  }
};

EngineConfig config(int64_t num_blocks, PrefixTierConfig tiers = {}) {
  EngineConfig c;
  c.cache.memory_bytes = num_blocks * KvStorage::bytes_per_block(model().config(), 16, kernels::KvDType::F16);
  c.scheduler.max_num_batched_tokens = 256;
  c.tiers = std::move(tiers);
  return c;
}

PrefixTierConfig disk_tier(const std::string& dir, int64_t bytes, Warnings* warnings = nullptr) {
  PrefixTierConfig tiers;
  tiers.disk_dir = dir;
  tiers.disk_bytes = bytes;
  tiers.model_fingerprint = fingerprint();
  if (warnings != nullptr) tiers.warn = warnings->sink();
  return tiers;
}

std::vector<fs::path> entry_files(const std::string& dir) {
  std::vector<fs::path> files;
  if (!fs::exists(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".kvb") files.push_back(entry.path());
  }
  return files;
}

// The prompt under test: 200 tokens = 12 full blocks + 8 tokens.
const std::vector<int32_t>& long_prompt() {
  static const std::vector<int32_t> ids = prompt(21, 200);
  return ids;
}

// Greedy output with no tiers at all.
const std::vector<int32_t>& reference() {
  static const std::vector<int32_t> tokens = [] {
    EngineClient engine(model(), config(64));
    return run(engine, long_prompt()).tokens;
  }();
  return tokens;
}

TEST(PrefixTiersEngine, HostTierServesAnEvictedPrefixWithIdenticalOutput) {
  const std::vector<int32_t> expected = reference();
  PrefixTierConfig tiers;
  tiers.host_bytes = int64_t{256} << 20;
  EngineClient engine(model(), config(24, tiers));  // 24 blocks: two 300-token prompts evict the first
  const Result first = run(engine, long_prompt());
  EXPECT_EQ(first.tokens, expected);
  EXPECT_EQ(first.stats.num_cached_prompt_tokens, 0);
  run(engine, prompt(22, 300));
  run(engine, prompt(23, 300));
  engine.wait_until_idle();
  EXPECT_GE(engine.metrics().host_tier.stores, 12);
  const Result again = run(engine, long_prompt());
  EXPECT_EQ(again.tokens, expected);
  EXPECT_EQ(again.stats.num_cached_prompt_tokens, 192);
  engine.wait_until_idle();
  const EngineMetrics m = engine.metrics();
  EXPECT_TRUE(m.host_tier_enabled);
  EXPECT_FALSE(m.disk_tier_enabled);
  EXPECT_GE(m.host_tier.hits, 12);
  EXPECT_GE(m.tier_loaded_tokens, 192);
  EXPECT_GT(m.host_tier.bytes, 0);
  EXPECT_EQ(m.kv_blocks_used, 0);
}

TEST(PrefixTiersEngine, DiskTierSurvivesARestart) {
  const std::vector<int32_t> expected = reference();
  const std::string dir = test::make_temp_dir("tiers-restart");
  {
    EngineClient engine(model(), config(64, disk_tier(dir, int64_t{1} << 30)));
    EXPECT_EQ(run(engine, long_prompt()).tokens, expected);
  }  // the engine's end finishes its queued writes
  EXPECT_EQ(entry_files(dir).size(), 12u);
  EngineClient restarted(model(), config(64, disk_tier(dir, int64_t{1} << 30)));
  const Result again = run(restarted, long_prompt());
  EXPECT_EQ(again.tokens, expected);
  EXPECT_EQ(again.stats.num_cached_prompt_tokens, 192);
  EXPECT_EQ(again.stats.num_computed_tokens, 8 + 5);  // the 8-token tail and 5 fed-back outputs
  restarted.wait_until_idle();
  const EngineMetrics m = restarted.metrics();
  EXPECT_EQ(m.disk_tier.hits, 12);
  EXPECT_GT(m.disk_tier.load_seconds, 0.0);
  EXPECT_EQ(m.disk_tier.stores, 0);  // everything was on disk already
}

// Writes the prompt's 12 blocks to `dir`, then damages every file with `damage`.
void check_damaged_files_are_misses(const std::function<void(const fs::path&)>& damage) {
  const std::vector<int32_t> expected = reference();
  const std::string dir = test::make_temp_dir("tiers-damaged");
  {
    EngineClient engine(model(), config(64, disk_tier(dir, int64_t{1} << 30)));
    run(engine, long_prompt());
  }
  const std::vector<fs::path> files = entry_files(dir);
  ASSERT_EQ(files.size(), 12u);
  for (const fs::path& file : files) damage(file);
  EngineClient engine(model(), config(64, disk_tier(dir, int64_t{1} << 30)));
  const Result again = run(engine, long_prompt());
  EXPECT_EQ(again.tokens, expected);
  EXPECT_EQ(again.stats.num_cached_prompt_tokens, 0);
  engine.wait_until_idle();
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.disk_tier.hits, 0);
  EXPECT_GE(m.disk_tier.misses, 1);
}

TEST(PrefixTiersEngine, CorruptedFilesAreMisses) {
  check_damaged_files_are_misses([](const fs::path& file) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
    f.put('\x5a');
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2 + 1));
    f.put('\xa5');
  });
}

TEST(PrefixTiersEngine, TruncatedFilesAreMisses) {
  check_damaged_files_are_misses([](const fs::path& file) { fs::resize_file(file, fs::file_size(file) - 7); });
}

TEST(PrefixTiersEngine, FilesDeletedWhileServingAreMisses) {
  const std::vector<int32_t> expected = reference();
  const std::string dir = test::make_temp_dir("tiers-deleted");
  EngineClient engine(model(), config(24, disk_tier(dir, int64_t{1} << 30)));
  EXPECT_EQ(run(engine, long_prompt()).tokens, expected);
  run(engine, prompt(22, 300));  // evict the prompt's blocks from the pool
  run(engine, prompt(23, 300));
  engine.wait_until_idle();
  for (const fs::path& file : entry_files(dir)) fs::remove(file);  // behind the tier's back
  const Result again = run(engine, long_prompt());
  EXPECT_EQ(again.tokens, expected);
  EXPECT_EQ(again.stats.num_cached_prompt_tokens, 0);
}

TEST(PrefixTiersEngine, ADiskBoundSmallerThanOneBlockWarnsAndStoresNothing) {
  const std::vector<int32_t> expected = reference();
  const std::string dir = test::make_temp_dir("tiers-small");
  Warnings warnings;
  {
    EngineClient engine(model(), config(64, disk_tier(dir, 4096, &warnings)));
    EXPECT_EQ(run(engine, long_prompt()).tokens, expected);
    engine.wait_until_idle();
    EXPECT_EQ(engine.metrics().disk_tier.stores, 0);
  }
  EXPECT_TRUE(entry_files(dir).empty());
  EXPECT_GE(warnings.count(), 1u);
}

TEST(PrefixTiersEngine, AnUnusableDirectoryWarnsAndServingGoesOn) {
  const std::vector<int32_t> expected = reference();
  // A directory below a regular file cannot be created, root or not.
  const std::string file = test::make_temp_dir("tiers-unusable") + "/a-file";
  std::ofstream(file) << "not a directory";
  Warnings warnings;
  EngineClient engine(model(), config(64, disk_tier(file + "/cache", int64_t{1} << 30, &warnings)));
  EXPECT_EQ(run(engine, long_prompt()).tokens, expected);
  EXPECT_EQ(run(engine, long_prompt()).tokens, expected);
  EXPECT_GE(warnings.count(), 1u);
}

TEST(PrefixTiersEngine, TwoEnginesShareOneDirectory) {
  const std::vector<int32_t> expected = reference();
  const std::string dir = test::make_temp_dir("tiers-shared");
  std::unique_ptr<LlamaModel> second_model = load_default();  // each engine thread owns its model
  {
    EngineClient a(model(), config(64, disk_tier(dir, int64_t{1} << 30)));
    EngineClient b(*second_model, config(64, disk_tier(dir, int64_t{1} << 30)));
    // Both compute and write the same blocks at once.
    Result from_a, from_b;
    std::thread ta([&] { from_a = run(a, long_prompt()); });
    std::thread tb([&] { from_b = run(b, long_prompt()); });
    ta.join();
    tb.join();
    EXPECT_EQ(from_a.tokens, expected);
    EXPECT_EQ(from_b.tokens, expected);
  }  // both finish their writes
  EXPECT_EQ(entry_files(dir).size(), 12u);
  EngineClient c(model(), config(64, disk_tier(dir, int64_t{1} << 30)));
  const Result third = run(c, long_prompt());
  EXPECT_EQ(third.tokens, expected);
  EXPECT_EQ(third.stats.num_cached_prompt_tokens, 192);
}

}  // namespace
}  // namespace kvs
