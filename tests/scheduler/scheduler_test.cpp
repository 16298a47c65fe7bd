// The scheduler without a model (block size 4, tiny pools): chunked prefill,
// mixed steps, admission, oversize rejection, preemption victim and resume,
// skip-ahead, priority, cancellation. "Tokens" are produced by a fake model
// that appends num_tokens() + 1000.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/errors.h"
#include "kvcache/kv_cache_manager.h"
#include "scheduler/scheduler.h"

namespace kvs {
namespace {

struct Fixture {
  KvCacheManager kv;
  Scheduler scheduler;
  Fixture(int64_t num_blocks, SchedulerConfig config)
      : kv(KvCacheManagerConfig{num_blocks, 4, true, config.preserve_step_shape, {}}), scheduler(config, kv) {}

  // One step; returns (id, num_new_tokens) pairs and finishes what completes.
  std::vector<std::pair<uint64_t, int64_t>> step() {
    const SchedulerOutput out = scheduler.schedule();
    scheduler.on_step_computed(out);
    std::vector<std::pair<uint64_t, int64_t>> picked;
    for (const ScheduledSequence& e : out.scheduled) {
      picked.emplace_back(e.sequence->id, e.num_new_tokens);
      if (!e.sample) continue;
      Sequence& s = *e.sequence;
      if (scheduler.append_token(s, static_cast<int32_t>(s.num_tokens() + 1000)) != FinishReason::kNone) {
        finished.push_back(s.id);
        outputs[s.id] = std::vector<int32_t>(s.tokens.begin() + s.num_prompt_tokens, s.tokens.end());
        scheduler.finish(s.id);
      }
    }
    return picked;
  }
  std::vector<uint64_t> finished;
  std::map<uint64_t, std::vector<int32_t>> outputs;
};

SchedulerConfig config(int64_t budget, int64_t max_seqs = 8) {
  SchedulerConfig c;
  c.max_num_batched_tokens = budget;
  c.max_num_seqs = max_seqs;
  c.max_model_len = 64;
  c.watermark = 0.0;
  return c;
}

Request request(int32_t first, int64_t length, int64_t max_tokens, int32_t priority = 0) {
  Request r;
  r.prompt_token_ids.resize(static_cast<size_t>(length));
  std::iota(r.prompt_token_ids.begin(), r.prompt_token_ids.end(), first);
  r.max_tokens = max_tokens;
  r.priority = priority;
  return r;
}

using Picks = std::vector<std::pair<uint64_t, int64_t>>;

TEST(Scheduler, ChunksPrefillAndMixesItWithDecode) {
  Fixture f(16, config(8));
  f.scheduler.add(1, request(0, 3, 4));
  EXPECT_EQ(f.step(), (Picks{{1, 3}}));            // whole prompt, samples token 1
  f.scheduler.add(2, request(100, 20, 2));
  EXPECT_EQ(f.step(), (Picks{{1, 1}, {2, 7}}));    // a decode token + a 7-token chunk
  EXPECT_EQ(f.step(), (Picks{{1, 1}, {2, 7}}));
  EXPECT_EQ(f.step(), (Picks{{1, 1}, {2, 6}}));    // seq 2 samples; seq 1 reaches max_tokens
  EXPECT_EQ(f.finished, (std::vector<uint64_t>{1}));
  EXPECT_EQ(f.step(), (Picks{{2, 1}}));
  EXPECT_EQ(f.outputs[2], (std::vector<int32_t>{1020, 1021}));
  EXPECT_EQ(f.kv.num_used_blocks(), 0);
}

TEST(Scheduler, RejectsRequestsThatCanNeverFit) {
  Fixture f(4, config(8));  // 16 token slots
  try {
    f.scheduler.add(1, request(0, 40, 30));  // 70 > context 64
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("context of 64"), std::string::npos) << e.what();
  }
  try {
    f.scheduler.add(2, request(0, 10, 8));  // 17 cached tokens > 16 slots
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("the cache has 4"), std::string::npos) << e.what();
  }
  f.scheduler.add(3, request(0, 10, 7));  // exactly 16 cached tokens: accepted, runs
  EXPECT_THROW(f.scheduler.add(4, request(0, 0, 4)), InvalidArgument);
  EXPECT_THROW(f.scheduler.add(5, request(0, 3, 0)), InvalidArgument);
  while (f.scheduler.has_unfinished()) f.step();
  EXPECT_EQ(f.outputs[3].size(), 7u);
  EXPECT_EQ(f.kv.num_used_blocks(), 0);
}

TEST(Scheduler, PreemptsLowestPriorityThenMostRecentAndResumesIdentically) {
  // 6 blocks of 4. Three sequences of 4-token prompts each grow past their first block.
  Fixture f(6, config(16));
  f.scheduler.add(1, request(0, 4, 12, /*priority=*/0));
  f.scheduler.add(2, request(100, 4, 12, /*priority=*/1));
  f.scheduler.add(3, request(200, 4, 12, /*priority=*/0));
  f.step();  // all three admitted: 3 blocks
  EXPECT_EQ(f.scheduler.num_running(), 3);
  f.step();  // each needs a 2nd block: 6 used
  EXPECT_EQ(f.kv.num_used_blocks(), 6);
  EXPECT_EQ(f.scheduler.num_preemptions(), 0);
  for (int i = 0; i < 3; ++i) f.step();  // positions 5..7 fit in the 2nd blocks
  // Next step needs third blocks: seq 2 (priority 1) is the victim; its two
  // blocks give 1 and 3 their third ones.
  f.step();
  EXPECT_EQ(f.scheduler.num_preemptions(), 1);
  EXPECT_EQ(f.scheduler.find(2)->state, SequenceState::kPreempted);
  EXPECT_EQ(f.scheduler.find(2)->num_computed_tokens, 0);
  EXPECT_EQ(f.kv.num_used_blocks(), 6);
  // At position 12 both need a fourth block: seq 3 (same priority, newer than 1) goes.
  while (f.scheduler.num_preemptions() < 2) f.step();
  EXPECT_EQ(f.scheduler.find(1)->num_computed_tokens, 13);  // position 12 computed in that step
  EXPECT_EQ(f.scheduler.find(3)->state, SequenceState::kPreempted);
  EXPECT_EQ(f.scheduler.find(1)->state, SequenceState::kRunning);
  while (f.scheduler.has_unfinished()) f.step();
  EXPECT_EQ(f.finished.front(), 1u);
  // Every sequence produced what it would alone (the fake model's tokens depend only on the sequence).
  for (uint64_t id : {1, 2, 3}) {
    std::vector<int32_t> expected;
    for (int64_t n = 4; n < 16; ++n) expected.push_back(static_cast<int32_t>(n + 1000));
    EXPECT_EQ(f.outputs[id], expected) << id;
  }
  EXPECT_EQ(f.kv.num_used_blocks(), 0);
}

TEST(Scheduler, ResumeAfterPreemptionReusesItsCachedBlocks) {
  Fixture f(6, config(32));
  f.scheduler.add(1, request(0, 9, 8));
  f.scheduler.add(2, request(500, 9, 8));
  while (f.scheduler.num_preemptions() == 0) f.step();
  Sequence* victim = f.scheduler.find(2);
  ASSERT_NE(victim, nullptr);
  EXPECT_EQ(victim->num_computed_tokens, 0);
  f.step();  // seq 1 continues; seq 2 waits (no blocks)
  while (f.scheduler.find(1) != nullptr) f.step();
  f.step();  // seq 2 readmitted: its full blocks come back from the prefix cache
  EXPECT_GT(f.kv.num_prefix_hit_tokens(), 0);
  while (f.scheduler.has_unfinished()) f.step();
  EXPECT_EQ(f.outputs[2].size(), 8u);
  EXPECT_EQ(f.kv.num_used_blocks(), 0);
}

TEST(Scheduler, ShortRequestsPassALongOneThatDoesNotFitYet) {
  Fixture f(6, config(64));
  f.scheduler.add(1, request(0, 14, 8));    // 4 blocks, runs
  f.step();
  f.scheduler.add(2, request(100, 20, 1));  // needs 5 blocks: does not fit now
  f.scheduler.add(3, request(200, 3, 2));   // 1 block: fits
  const Picks picks = f.step();
  EXPECT_EQ(picks, (Picks{{1, 1}, {3, 3}}));
  EXPECT_EQ(f.scheduler.find(2)->state, SequenceState::kWaiting);
  while (f.scheduler.has_unfinished()) f.step();
  EXPECT_EQ(f.finished, (std::vector<uint64_t>{3, 1, 2}));
}

TEST(Scheduler, PriorityFirstAndAgingLetsTheOldestThrough) {
  SchedulerConfig c = config(64, /*max_seqs=*/1);
  Fixture f(16, c);
  f.scheduler.add(1, request(0, 3, 1, /*priority=*/5));
  f.scheduler.add(2, request(10, 3, 1, /*priority=*/0));
  EXPECT_EQ(f.step(), (Picks{{2, 3}}));
  EXPECT_EQ(f.step(), (Picks{{1, 3}}));

  c.aging_steps = 2;
  Fixture h(16, c);
  h.scheduler.add(1, request(0, 3, 6, /*priority=*/0));  // occupies the only seat for 6 steps
  h.step();
  h.scheduler.add(2, request(10, 3, 1, /*priority=*/2));
  for (int i = 0; i < 5; ++i) h.step();
  h.scheduler.add(3, request(20, 3, 1, /*priority=*/0));  // newer, better base priority
  // Request 1 finished; after 6 steps of waiting request 2's priority aged from 2 to -1: it goes before 3.
  EXPECT_EQ(h.step(), (Picks{{2, 3}}));
  EXPECT_EQ(h.step(), (Picks{{3, 3}}));
}

TEST(Scheduler, CancellationFreesBlocksAtOnce) {
  Fixture f(8, config(16));
  f.scheduler.add(1, request(0, 10, 8));
  f.scheduler.add(2, request(50, 6, 8));
  f.step();
  EXPECT_EQ(f.kv.num_used_blocks(), 5);
  f.scheduler.finish(1);  // what EngineCore::cancel does at the step boundary
  EXPECT_EQ(f.kv.num_used_blocks(), 2);
  EXPECT_EQ(f.scheduler.find(1), nullptr);
  f.scheduler.finish(2);
  EXPECT_EQ(f.kv.num_used_blocks(), 0);
  EXPECT_FALSE(f.scheduler.has_unfinished());
}

TEST(Scheduler, WatermarkHoldsBackAdmissionButNotTheOnlyRequest) {
  SchedulerConfig c = config(64);
  c.watermark = 0.5;  // keep 4 of 8 blocks free when admitting next to running ones
  Fixture f(8, c);
  f.scheduler.add(1, request(0, 20, 4));  // 5 blocks while nothing runs: admitted
  f.step();
  f.scheduler.add(2, request(100, 4, 1));  // would leave 2 < 4 free
  EXPECT_EQ(f.step(), (Picks{{1, 1}}));
  EXPECT_EQ(f.scheduler.num_waiting(), 1);
}

TEST(Scheduler, StepShapeModeNeverRunsOneTokenPromptChunks) {
  SchedulerConfig c = config(5);
  c.preserve_step_shape = true;
  Fixture f(16, c);
  f.scheduler.add(1, request(0, 6, 2));
  EXPECT_EQ(f.step(), (Picks{{1, 4}}));  // 5 would leave a 1-token tail
  EXPECT_EQ(f.step(), (Picks{{1, 2}}));
}

}  // namespace
}  // namespace kvs
