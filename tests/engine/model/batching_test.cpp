// The packed, padding-free batch: several sequences in one step give the
// same logits as each sequence alone, whatever the block layout.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "engine/errors.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/llama_model.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

std::shared_ptr<const LoadedModel> tiny_llama() {
  return load_model(test::fixtures_dir() + "/models/tiny-llama");
}

TEST(BatchingTest, MixedBatchMatchesSequencesRunAlone) {
  LlamaModel model(tiny_llama(), ModelOptions{});
  const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {42}, {7, 7, 7, 100, 200}};
  std::vector<std::vector<float>> alone;
  for (const auto& p : prompts) {
    const std::vector<float> all = prompt_logits(model, p, 4);
    alone.emplace_back(all.end() - model.config().vocab_size, all.end());
  }
  // One batch; blocks interleaved across sequences (block size 4).
  KvStorage kv(model.config(), 16, 4);
  ForwardBatch batch;
  batch.add_sequence(prompts[0], 0, {9, 2, 14}, true);
  batch.add_sequence(prompts[1], 0, {5}, true);
  batch.add_sequence(prompts[2], 0, {0, 11}, true);
  const std::vector<float> logits = model.forward(batch, kv);
  const int64_t vocab = model.config().vocab_size;
  for (size_t s = 0; s < prompts.size(); ++s) {
    for (int64_t i = 0; i < vocab; ++i) {
      ASSERT_NEAR(logits[s * vocab + i], alone[s][i], 1e-4f) << "sequence " << s;
    }
  }
}

TEST(BatchingTest, DecodeStepsInOneBatchMatchSeparateSteps) {
  LlamaModel model(tiny_llama(), ModelOptions{});
  KvStorage kv(model.config(), 8, 4);
  ForwardBatch prefill;
  prefill.add_sequence({3, 1, 4, 1, 5}, 0, {0, 1}, true);
  prefill.add_sequence({9, 2, 6}, 0, {2}, true);
  model.forward(prefill, kv);
  ForwardBatch decode;  // one new token each, plus a third sequence prefilling
  decode.add_sequence({9}, 5, {0, 1}, true);
  decode.add_sequence({5}, 3, {2}, true);
  decode.add_sequence({8, 8, 8}, 0, {3}, true);
  const std::vector<float> batched = model.forward(decode, kv);
  const std::vector<float> alone = prompt_logits(model, {3, 1, 4, 1, 5, 9});
  const int64_t vocab = model.config().vocab_size;
  for (int64_t i = 0; i < vocab; ++i) ASSERT_NEAR(batched[i], alone[5 * vocab + i], 1e-4f);
}

// KV-cache groups (sliding-window layers): every group's tables are padded
// to one width, and each group maps new tokens to its own blocks' slots.
TEST(BatchingTest, GroupTablesArePaddedTogetherAndMapSlotsPerGroup) {
  ForwardBatch batch;
  batch.add_sequence_groups({7}, 0, {{2}, {3}}, true);
  batch.add_sequence_groups({1, 2, 3}, 4, {{0, 1}, {-1, 5}}, true);  // group 1 released its first block
  EXPECT_EQ(batch.num_kv_groups(), 2);
  EXPECT_EQ(batch.max_blocks_per_seq, 2);
  EXPECT_EQ(batch.block_tables, (std::vector<int32_t>{2, -1, 0, 1}));
  EXPECT_EQ(batch.tables_of_group(1), (std::vector<int32_t>{3, -1, -1, 5}));
  EXPECT_EQ(slot_mapping(batch, 4, 0), (std::vector<int32_t>{8, 4, 5, 6}));
  EXPECT_EQ(slot_mapping(batch, 4, 1), (std::vector<int32_t>{12, 20, 21, 22}));
  EXPECT_THROW(batch.add_sequence({4}, 0, {6}, true), InvalidArgument);  // one group of two
  // A model whose cache has one group refuses a batch of two.
  LlamaModel model(tiny_llama(), ModelOptions{});
  KvStorage kv(model.config(), 8, 4);
  EXPECT_THROW(model.forward(batch, kv), InvalidArgument);
}

TEST(BatchingTest, RejectsBadInput) {
  LlamaModel model(tiny_llama(), ModelOptions{});
  KvStorage kv(model.config(), 2, 4);
  ForwardBatch out_of_vocab;
  out_of_vocab.add_sequence({static_cast<int32_t>(model.config().vocab_size)}, 0, {0}, true);
  EXPECT_THROW(model.forward(out_of_vocab, kv), InvalidArgument);
  ForwardBatch no_block;
  no_block.add_sequence({1, 2, 3, 4, 5}, 0, {0}, true);  // 5 tokens need 2 blocks of 4
  EXPECT_THROW(model.forward(no_block, kv), InvalidArgument);
  GenerateOptions options;
  EXPECT_THROW(generate(model, {}, options), InvalidArgument);
  options.sampling.temperature = -1.0f;
  EXPECT_THROW(generate(model, {1}, options), InvalidArgument);
}

}  // namespace
}  // namespace kvs
