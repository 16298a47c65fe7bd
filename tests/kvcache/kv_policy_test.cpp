// The compression policies on synthetic positions and scores: the exact set
// of cache entries each keeps.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/errors.h"
#include "kvcache/kv_policy.h"
#include "kvcache/policies/keyformer_policy.h"
#include "kvcache/policies/snapkv_policy.h"
#include "kvcache/policies/streaming_policy.h"

namespace kvs {
namespace {

struct Case {
  std::vector<int32_t> positions;
  std::vector<double> scores;
  KvPolicyInput input(int64_t budget, int64_t prompt, int64_t block_size = 4) const {
    KvPolicyInput in;
    in.positions = &positions;
    in.scores = &scores;
    in.budget_tokens = budget;
    in.num_computed_tokens = static_cast<int64_t>(positions.size());
    in.num_prompt_tokens = prompt;
    in.block_size = block_size;
    return in;
  }
};

Case in_order(int n, std::vector<double> scores = {}) {
  Case c;
  c.positions.resize(static_cast<size_t>(n));
  std::iota(c.positions.begin(), c.positions.end(), 0);
  c.scores = scores.empty() ? std::vector<double>(static_cast<size_t>(n), 0.0) : scores;
  return c;
}

std::vector<int64_t> keep(KvPolicyKind kind, const KvPolicyInput& input) {
  const KvDecision decision = make_kv_policy(kind)->decide(input);
  EXPECT_TRUE(decision.compact);
  return decision.keep;
}

TEST(KvPolicySpecTest, ParsesNamesAndBudgets) {
  EXPECT_EQ(parse_kv_policy("h2o"), KvPolicyKind::kH2O);
  EXPECT_EQ(parse_kv_policy("residual"), KvPolicyKind::kResidual);
  EXPECT_THROW(parse_kv_policy("lru"), InvalidArgument);
  EXPECT_EQ((KvPolicySpec{KvPolicyKind::kH2O, 0.25}.budget_tokens(10)), 3);  // ceil
  EXPECT_EQ((KvPolicySpec{KvPolicyKind::kH2O, 0.01}.budget_tokens(10)), 1);  // at least one
  EXPECT_EQ((KvPolicySpec{KvPolicyKind::kH2O, 64}.budget_tokens(10)), 64);
  EXPECT_THROW((KvPolicySpec{KvPolicyKind::kH2O, 0}.validate()), InvalidArgument);
  EXPECT_THROW((KvPolicySpec{KvPolicyKind::kH2O, 2.5}.validate()), InvalidArgument);
  EXPECT_THROW((KvPolicySpec{KvPolicyKind::kH2O, 1.0 / 0.0}.validate()), InvalidArgument);
  EXPECT_NO_THROW((KvPolicySpec{KvPolicyKind::kNone, 0}.validate()));
}

TEST(KvPolicyTest, NoneKeepsEverything) {
  const Case c = in_order(50);
  const KvDecision d = make_kv_policy(KvPolicyKind::kNone)->decide(c.input(4, 10));
  EXPECT_FALSE(d.compact);
  EXPECT_EQ(d.drop_blocks_end, d.drop_blocks_begin);
}

TEST(KvPolicyTest, UnderBudgetNothingChanges) {
  const Case c = in_order(8);
  for (KvPolicyKind kind : {KvPolicyKind::kStreaming, KvPolicyKind::kH2O, KvPolicyKind::kKeyformer}) {
    EXPECT_FALSE(make_kv_policy(kind)->decide(c.input(8, 8)).compact) << kv_policy_name(kind);
  }
}

TEST(KvPolicyTest, StreamingKeepsSinksAndRecentWindow) {
  const Case c = in_order(20);
  EXPECT_EQ(keep(KvPolicyKind::kStreaming, c.input(10, 12)), (std::vector<int64_t>{0, 1, 2, 3, 14, 15, 16, 17, 18, 19}));
  // A budget no larger than the sinks keeps only recent tokens.
  EXPECT_EQ(keep(KvPolicyKind::kStreaming, c.input(3, 12)), (std::vector<int64_t>{17, 18, 19}));
}

TEST(KvPolicyTest, StreamingFollowsPositionsNotCacheOrder) {
  // After a compaction entries are out of order: sinks are the smallest positions.
  Case c;
  c.positions = {0, 1, 2, 3, 30, 31, 32, 20, 21, 22};
  c.scores.assign(c.positions.size(), 0.0);
  EXPECT_EQ(keep(KvPolicyKind::kStreaming, c.input(7, 5)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(KvPolicyTest, H2OKeepsHeavyHittersAndRecentHalf) {
  // 12 entries, budget 6: recent 3 (positions 9, 10, 11) + the 3 heaviest of the rest.
  const Case c = in_order(12, {0.5, 9.0, 0.1, 3.0, 0.2, 7.0, 0.3, 0.4, 5.0, 100, 100, 100});
  EXPECT_EQ(keep(KvPolicyKind::kH2O, c.input(6, 12)), (std::vector<int64_t>{1, 5, 8, 9, 10, 11}));
  // Ties go to the later position.
  const Case tie = in_order(6, {1, 1, 1, 1, 0, 0});
  EXPECT_EQ(keep(KvPolicyKind::kH2O, tie.input(4, 6)), (std::vector<int64_t>{2, 3, 4, 5}));
}

TEST(KvPolicyTest, H2OAsksForAttentionMassOfEveryRow) {
  const Case c = in_order(4);
  const ScoreRequest request = make_kv_policy(KvPolicyKind::kH2O)->score_request(c.input(2, 4), 0, 10);
  EXPECT_EQ(request.from_position, 0);
  EXPECT_EQ(request.tau, 0.0f);
}

TEST(KvPolicyTest, SnapKVVotesOnceAtTheEndOfThePrompt) {
  const int n = 40;  // window = the last 16 prompt tokens (24..39)
  std::vector<double> votes(n, 0.0);
  votes[2] = 5.0;   // pooled over 7 positions: 0..5 all see 5.0
  votes[12] = 4.0;  // 9..15
  votes[20] = 9.0;  // 17..23
  const Case c = in_order(n, votes);
  // Budget 20: window (16) + 4 best pooled: 17..23 score 9, the later four win ties: 20, 21, 22, 23.
  std::vector<int64_t> expected = {20, 21, 22, 23};
  for (int64_t p = 24; p < 40; ++p) expected.push_back(p);
  EXPECT_EQ(keep(KvPolicyKind::kSnapKV, c.input(20, n)), expected);
  // Budget 26: 10 besides the window: 17..23 (7, score 9), then 3, 4, 5 (pooled 5 beats 4; later first).
  expected = {3, 4, 5, 17, 18, 19, 20, 21, 22, 23};
  for (int64_t p = 24; p < 40; ++p) expected.push_back(p);
  EXPECT_EQ(keep(KvPolicyKind::kSnapKV, c.input(26, n)), expected);
  // Only at the prompt's end: during decoding it keeps everything.
  KvPolicyInput decoding = c.input(20, n - 5);
  EXPECT_FALSE(make_kv_policy(KvPolicyKind::kSnapKV)->decide(decoding).compact);
  // Votes come from the observation window's rows only, and only during the prompt.
  KvPolicyInput prefill = c.input(20, 100);
  EXPECT_EQ(make_kv_policy(KvPolicyKind::kSnapKV)->score_request(prefill, 0, 8).from_position, 100 - SnapKVPolicy::kWindow);
  EXPECT_EQ(make_kv_policy(KvPolicyKind::kSnapKV)->score_request(c.input(20, n), 0, 8).from_position, -1);
}

TEST(KvPolicyTest, KeyformerKeepsKeyTokensAndRecentWindow) {
  // Budget 10: recent ceil(0.3 * 10) = 3 (positions 17..19) + 7 best scores of the rest.
  std::vector<double> scores(20, 0.0);
  for (int p : {0, 2, 4, 6, 8, 10, 12, 14}) scores[p] = 1.0 + p;  // 14 the best ... 0 the worst
  const Case c = in_order(20, scores);
  EXPECT_EQ(keep(KvPolicyKind::kKeyformer, c.input(10, 20)), (std::vector<int64_t>{2, 4, 6, 8, 10, 12, 14, 17, 18, 19}));
}

TEST(KvPolicyTest, KeyformerAnnealsTemperature) {
  const Case c = in_order(4);
  const auto policy = make_kv_policy(KvPolicyKind::kKeyformer);
  EXPECT_FLOAT_EQ(policy->score_request(c.input(2, 4), 0, 11).tau, KeyformerPolicy::kTauInit);
  EXPECT_FLOAT_EQ(policy->score_request(c.input(2, 4), 5, 11).tau, 1.5f);
  EXPECT_FLOAT_EQ(policy->score_request(c.input(2, 4), 10, 11).tau, KeyformerPolicy::kTauEnd);
}

TEST(KvPolicyTest, ResidualReleasesFullBlocksBeforeTheBudget) {
  // 30 tokens, block size 4, budget 10: tokens 20..29 stay, blocks 0..4 (tokens 0..19) go.
  const Case c = in_order(30);
  KvDecision d = make_kv_policy(KvPolicyKind::kResidual)->decide(c.input(10, 30));
  EXPECT_FALSE(d.compact);
  EXPECT_EQ(d.drop_blocks_begin, 0);
  EXPECT_EQ(d.drop_blocks_end, 5);
  // Budget 11: tokens 19..29 stay, so block 4 (16..19) stays too.
  d = make_kv_policy(KvPolicyKind::kResidual)->decide(c.input(11, 30));
  EXPECT_EQ(d.drop_blocks_end, 4);
  // Tokens from a prefix hit (no checkpoints) stay: checkpoints begin at 9 -> first droppable block 3.
  KvPolicyInput hit = c.input(10, 30);
  hit.first_checkpointed = 9;
  d = make_kv_policy(KvPolicyKind::kResidual)->decide(hit);
  EXPECT_EQ(d.drop_blocks_begin, 3);
  EXPECT_EQ(d.drop_blocks_end, 5);
}

}  // namespace
}  // namespace kvs
