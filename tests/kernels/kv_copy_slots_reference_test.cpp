// The CPU reference of the KV slot copy (kernels/cpu/kv_copy_slots_reference.h)
// against a direct model of in-order copies (which slot's original row each
// slot holds), and the independence check (kernels/kv_copy_slots.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/kv_copy_slots_reference.h"

namespace kvs::kernels {
namespace {

// Byte b of the original row `slot` of tensor t.
uint8_t original_byte(int64_t t, int64_t slot, int64_t b) { return static_cast<uint8_t>(t * 131 + slot * 17 + b * 7 + 1); }

struct Tensors {
  std::vector<std::vector<uint8_t>> data;
  std::vector<void*> pointers;
  Tensors(int64_t num_tensors, int64_t num_slots, int64_t row_bytes) {
    data.resize(static_cast<size_t>(num_tensors));
    for (int64_t t = 0; t < num_tensors; ++t) {
      data[t].resize(static_cast<size_t>(num_slots * row_bytes));
      for (int64_t i = 0; i < num_slots * row_bytes; ++i) data[t][i] = original_byte(t, i / row_bytes, i % row_bytes);
      pointers.push_back(data[t].data());
    }
  }
};

// After the copies in order, slot i holds the original row source[i].
std::vector<int64_t> sources_after(const std::vector<int64_t>& copies, int64_t num_slots) {
  std::vector<int64_t> source(static_cast<size_t>(num_slots));
  for (int64_t i = 0; i < num_slots; ++i) source[i] = i;
  for (size_t c = 0; c < copies.size() / 2; ++c) source[copies[2 * c + 1]] = source[copies[2 * c]];
  return source;
}

void expect_copied(const std::vector<int64_t>& copies, int64_t num_tensors, int64_t num_slots, int64_t row_bytes) {
  Tensors tensors(num_tensors, num_slots, row_bytes);
  ASSERT_TRUE(kv_copy_slots_reference(tensors.pointers.data(), num_tensors, num_slots, row_bytes, copies.data(),
                                      static_cast<int64_t>(copies.size() / 2))
                  .ok());
  const std::vector<int64_t> source = sources_after(copies, num_slots);
  for (int64_t t = 0; t < num_tensors; ++t) {
    for (int64_t i = 0; i < num_slots * row_bytes; ++i) {
      ASSERT_EQ(tensors.data[t][i], original_byte(t, source[i / row_bytes], i % row_bytes))
          << "tensor " << t << " slot " << i / row_bytes << " byte " << i % row_bytes;
    }
  }
}

TEST(KvCopySlotsReferenceTest, CompactionChainsGiveTheSequentialResult) {
  // 5 -> 3 then 7 -> 5 (the second reads nothing the first wrote, but writes
  // what it read); 3 -> 9 reads what 5 -> 3 wrote; a self copy.
  expect_copied({5, 3, 7, 5, 3, 9, 0, 0}, 3, 10, 6);
}

TEST(KvCopySlotsReferenceTest, RandomListsOfOddRows) {
  std::mt19937 rng(7);
  for (const int64_t row_bytes : {1, 6, 48, 2048}) {
    std::uniform_int_distribution<int64_t> slot(0, 16);
    std::vector<int64_t> copies;
    for (int c = 0; c < 200; ++c) copies.push_back(slot(rng)), copies.push_back(slot(rng));
    expect_copied(copies, 2, 17, row_bytes);
  }
}

TEST(KvCopySlotsReferenceTest, RejectsSlotsOutsideTheCacheAndCopiesNothing) {
  Tensors tensors(2, 4, 8);
  const auto before = tensors.data;
  for (const std::vector<int64_t>& copies : {std::vector<int64_t>{1, 2, 4, 0}, {1, 2, 0, -1}}) {
    EXPECT_EQ(kv_copy_slots_reference(tensors.pointers.data(), 2, 4, 8, copies.data(), 2).code,
              StatusCode::InvalidArgument);
    EXPECT_EQ(tensors.data, before);
  }
  EXPECT_TRUE(kv_copy_slots_reference(tensors.pointers.data(), 2, 4, 8, nullptr, 0).ok());
  EXPECT_EQ(kv_copy_slots_reference(tensors.pointers.data(), 2, 4, 0, nullptr, 0).code, StatusCode::InvalidArgument);
}

TEST(KvCopySlotsReferenceTest, IndependenceCheck) {
  auto independent = [](const std::vector<int64_t>& copies) {
    return kv_copies_independent(copies.data(), static_cast<int64_t>(copies.size() / 2));
  };
  EXPECT_TRUE(independent({}));
  EXPECT_TRUE(independent({5, 3, 7, 4, 9, 8}));    // disjoint
  EXPECT_TRUE(independent({5, 3, 5, 4}));          // one source, two targets
  EXPECT_TRUE(independent({2, 2, 5, 3}));          // a self copy
  EXPECT_FALSE(independent({5, 3, 7, 5}));         // writes a slot an earlier copy reads
  EXPECT_FALSE(independent({5, 3, 3, 9}));         // reads a slot an earlier copy writes
  EXPECT_FALSE(independent({5, 3, 7, 3}));         // two writes to one slot
  EXPECT_FALSE(independent({2, 2, 5, 2}));         // a self copy overwritten
  // Every list the check accepts gives the in-order result in any order:
  // here, reversed.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> slot(0, 40);
  int accepted = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<int64_t> copies;
    for (int c = 0; c < 4; ++c) copies.push_back(slot(rng)), copies.push_back(slot(rng));
    if (!independent(copies)) continue;
    ++accepted;
    std::vector<int64_t> reversed;
    for (int c = 3; c >= 0; --c) reversed.push_back(copies[2 * c]), reversed.push_back(copies[2 * c + 1]);
    EXPECT_EQ(sources_after(copies, 41), sources_after(reversed, 41));
  }
  EXPECT_GT(accepted, 50);
}

}  // namespace
}  // namespace kvs::kernels
