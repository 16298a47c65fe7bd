// The CUDA engine's packed step metadata and the padding of a decode step to
// its CUDA-graph bucket (engine/model/step_meta.h), on the CPU.
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "engine/model/step_meta.h"

namespace kvs {
namespace {

std::vector<int32_t> part(const std::vector<int32_t>& packed, int64_t begin, int64_t count) {
  return std::vector<int32_t>(packed.begin() + begin, packed.begin() + begin + count);
}

TEST(StepMetaTest, PacksEveryArrayEndToEnd) {
  ForwardBatch batch;
  batch.add_sequence({5, 6, 7}, 0, {3}, true);
  batch.add_sequence({8}, 4, {1, 2}, true);
  const std::vector<int32_t> slots = slot_mapping(batch, 4);
  const std::vector<int32_t> packed = pack_step_meta(batch, slots);
  const StepMetaLayout layout(4, 2, 4, 2);
  ASSERT_EQ(static_cast<int64_t>(packed.size()), layout.total);
  EXPECT_EQ(part(packed, layout.token_ids, 4), (std::vector<int32_t>{5, 6, 7, 8}));
  EXPECT_EQ(part(packed, layout.positions, 4), (std::vector<int32_t>{0, 1, 2, 4}));
  EXPECT_EQ(part(packed, layout.slots, 4), (std::vector<int32_t>{12, 13, 14, 8}));
  EXPECT_EQ(part(packed, layout.cu_query_lens, 3), (std::vector<int32_t>{0, 3, 4}));
  EXPECT_EQ(part(packed, layout.context_lens, 2), (std::vector<int32_t>{3, 5}));
  EXPECT_EQ(part(packed, layout.block_tables, 4), (std::vector<int32_t>{3, -1, 1, 2}));
  EXPECT_EQ(part(packed, layout.logits_rows, 2), (std::vector<int32_t>{2, 3}));
  EXPECT_FALSE(is_graph_decode_step(batch));
}

TEST(StepMetaTest, DecodeStepIsPaddedToItsBucket) {
  ForwardBatch batch;
  batch.add_sequence({11}, 9, {4, 6, 2}, true);
  batch.add_sequence({12}, 2, {7}, true);
  batch.add_sequence({13}, 0, {5}, true);
  ASSERT_TRUE(is_graph_decode_step(batch));
  const std::vector<int32_t> packed = pack_padded_decode_meta(batch, slot_mapping(batch, 4), /*bucket=*/4, /*width=*/5);
  const StepMetaLayout layout(4, 4, 4 * 5, 4);
  ASSERT_EQ(static_cast<int64_t>(packed.size()), layout.total);
  EXPECT_EQ(part(packed, layout.token_ids, 4), (std::vector<int32_t>{11, 12, 13, 0}));
  EXPECT_EQ(part(packed, layout.positions, 4), (std::vector<int32_t>{9, 2, 0, 0}));
  EXPECT_EQ(part(packed, layout.slots, 4), (std::vector<int32_t>{2 * 4 + 1, 7 * 4 + 2, 5 * 4 + 0, -1}));  // pad writes nothing
  EXPECT_EQ(part(packed, layout.cu_query_lens, 5), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(part(packed, layout.context_lens, 4), (std::vector<int32_t>{10, 3, 1, 1}));
  // Tables widened to 5 entries; -1 padding and the pad row read block 0.
  EXPECT_EQ(part(packed, layout.block_tables, 20),
            (std::vector<int32_t>{4, 6, 2, 0, 0, 7, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(part(packed, layout.logits_rows, 4), (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST(StepMetaTest, OnlyDecodeStepsThatFitAreGraphed) {
  ForwardBatch batch;
  batch.add_sequence({1}, 3, {0, 1, 2}, true);
  batch.add_sequence({2}, 3, {3}, true);
  const std::vector<int32_t> slots = slot_mapping(batch, 4);
  EXPECT_THROW(pack_padded_decode_meta(batch, slots, /*bucket=*/1, 4), InvalidArgument);  // too many sequences
  EXPECT_THROW(pack_padded_decode_meta(batch, slots, 2, /*width=*/2), InvalidArgument);   // tables too wide
  ForwardBatch no_logits;
  no_logits.add_sequence({1}, 3, {0}, false);
  EXPECT_FALSE(is_graph_decode_step(no_logits));
}

}  // namespace
}  // namespace kvs
