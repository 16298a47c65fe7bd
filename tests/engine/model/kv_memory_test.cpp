// KvStorage over a KvMemory (engine/model/kv_memory.h): where the bytes live
// is the memory's business; KvStorage hands it every layer's K and V of every
// shard and the slot copies in order. Also the slot mapping every backend
// shares (forward_batch.h).
#include <gtest/gtest.h>

#include <cstring>
#include <list>

#include "engine/errors.h"
#include "engine/model/forward_batch.h"
#include "engine/model/kv_storage.h"

namespace kvs {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 32;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_layers = 3;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  return c;
}

// Host memory that records what KvStorage asks of it.
class RecordingMemory final : public KvMemory {
 public:
  explicit RecordingMemory(int* copies_seen) : copies_seen_(copies_seen) {}
  void* allocate(size_t bytes) override {
    buffers_.emplace_back(bytes, 0);
    allocated_.push_back(bytes);
    return buffers_.back().data();
  }
  void copy_slots(const std::vector<void*>& tensors, size_t row_bytes,
                  const std::vector<std::pair<int64_t, int64_t>>& copies) override {
    host_->copy_slots(tensors, row_bytes, copies);
    *copies_seen_ += static_cast<int>(tensors.size());
  }
  void read(const void* tensor, size_t offset, size_t bytes, void* dst) override {
    host_->read(tensor, offset, bytes, dst);
    ++reads_;
  }
  void write(void* tensor, size_t offset, size_t bytes, const void* src) override {
    host_->write(tensor, offset, bytes, src);
    ++writes_;
  }
  bool on_device() const override { return true; }
  std::vector<size_t> allocated_;
  int reads_ = 0, writes_ = 0;

 private:
  std::unique_ptr<KvMemory> host_ = make_host_kv_memory();
  std::list<std::vector<uint8_t>> buffers_;
  int* copies_seen_;
};

TEST(KvMemoryTest, StorageAllocatesEveryLayerAndShardThroughItsMemory) {
  int copies = 0;
  auto memory = std::make_unique<RecordingMemory>(&copies);
  RecordingMemory* seen = memory.get();
  KvStorage kv(tiny_config(), /*num_blocks=*/4, /*block_size=*/2, kernels::KvDType::BF16, 1, std::move(memory));
  EXPECT_TRUE(kv.on_device());
  ASSERT_EQ(seen->allocated_.size(), 6u);  // 3 layers x K, V
  for (size_t bytes : seen->allocated_) EXPECT_EQ(bytes, 4u * 2u * 2u * 4u * 2u);  // blocks x size x heads x dim x bf16
  EXPECT_EQ(kv.bytes_per_token(), 2 * 3 * 2 * 4 * 2);
  EXPECT_EQ(KvStorage::bytes_per_block(tiny_config(), 2, kernels::KvDType::BF16),
            KvStorage::bytes_per_block(tiny_config(), 2, kernels::KvDType::F16));
  kv.copy_slots({{1, 0}});
  EXPECT_EQ(copies, 6);  // every K and V tensor
  EXPECT_THROW(kv.copy_slots({{0, 8}}), InvalidArgument);
}

TEST(KvMemoryTest, HostCopiesApplyInOrder) {
  KvStorage kv(tiny_config(), 2, 4, kernels::KvDType::F32);
  EXPECT_FALSE(kv.on_device());
  const int64_t row = 2 * 4;  // floats per slot
  for (int64_t layer = 0; layer < 3; ++layer) {
    auto* k = static_cast<float*>(kv.layer(layer).k);
    for (int64_t slot = 0; slot < 8; ++slot) std::fill(k + slot * row, k + (slot + 1) * row, static_cast<float>(slot));
  }
  // 5 -> 3, then 7 -> 5: slot 3 gets 5's old value, slot 5 gets 7's.
  kv.copy_slots({{5, 3}, {7, 5}});
  for (int64_t layer = 0; layer < 3; ++layer) {
    const auto* k = static_cast<const float*>(kv.layer(layer).k);
    EXPECT_EQ(k[3 * row], 5.0f);
    EXPECT_EQ(k[5 * row], 7.0f);
    EXPECT_EQ(k[7 * row], 7.0f);
  }
}

TEST(SlotMappingTest, CacheIndexNotPositionPicksTheSlot) {
  ForwardBatch batch;
  batch.add_sequence({1, 2, 3}, /*num_cached_tokens=*/2, /*block_table=*/{7, 3}, true);
  // A compacted sequence: positions run ahead of cache indices.
  batch.add_sequence({4}, 4, {5, 6, 1}, true, /*first_position=*/40);
  EXPECT_EQ(slot_mapping(batch, 4), (std::vector<int32_t>{7 * 4 + 2, 7 * 4 + 3, 3 * 4 + 0, 6 * 4 + 0}));
  ForwardBatch missing;
  missing.add_sequence({1}, 4, {2}, true);  // cache index 4 needs a second block
  EXPECT_THROW(slot_mapping(missing, 4), InvalidArgument);
}

// A block copied out and into another block moves every layer's K and V
// rows of that block, through the memory's read/write, and nothing else.
TEST(KvMemoryTest, BlockCopiesMoveEveryArrayOfOneBlock) {
  int copies = 0;
  auto memory = std::make_unique<RecordingMemory>(&copies);
  RecordingMemory* seen = memory.get();
  KvStorage kv(tiny_config(), /*num_blocks=*/4, /*block_size=*/2, kernels::KvDType::F32, 1, std::move(memory));
  const int64_t row = 2 * 4;  // heads x dim floats
  ASSERT_EQ(kv.row_bytes(), row * 4);
  ASSERT_EQ(kv.block_copy_bytes(), 3 * 2 * 2 * row * 4);  // layers x (K, V) x block_size rows
  // Fill every slot of every layer with a value naming (layer, K/V, slot, element).
  for (int64_t layer = 0; layer < 3; ++layer) {
    kernels::PagedKvLayer view = kv.layer(layer);
    for (int64_t slot = 0; slot < 8; ++slot) {
      for (int64_t e = 0; e < row; ++e) {
        static_cast<float*>(view.k)[slot * row + e] = static_cast<float>(layer * 10000 + slot * 100 + e);
        static_cast<float*>(view.v)[slot * row + e] = static_cast<float>(-(layer * 10000 + slot * 100 + e));
      }
    }
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(kv.block_copy_bytes()));
  kv.read_block(1, bytes.data());
  kv.write_block(3, bytes.data());
  EXPECT_EQ(seen->reads_, 6);
  EXPECT_EQ(seen->writes_, 6);
  for (int64_t layer = 0; layer < 3; ++layer) {
    kernels::PagedKvLayer view = kv.layer(layer);
    for (int64_t slot = 0; slot < 8; ++slot) {
      const int64_t source = slot >= 6 ? slot - 4 : slot;  // block 3 (slots 6, 7) now holds block 1's (2, 3)
      for (int64_t e = 0; e < row; ++e) {
        ASSERT_EQ(static_cast<float*>(view.k)[slot * row + e], static_cast<float>(layer * 10000 + source * 100 + e));
        ASSERT_EQ(static_cast<float*>(view.v)[slot * row + e], static_cast<float>(-(layer * 10000 + source * 100 + e)));
      }
    }
  }
  EXPECT_THROW(kv.read_block(4, bytes.data()), InvalidArgument);
  EXPECT_THROW(kv.write_block(-1, bytes.data()), InvalidArgument);
}

}  // namespace
}  // namespace kvs
