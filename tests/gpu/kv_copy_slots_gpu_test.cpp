// CUDA KV slot copy (kernels/cuda/kv_copy_slots.h) against the CPU reference
// (kernels/cpu/kv_copy_slots_reference.h), byte for byte: compaction chains,
// random lists with every kind of conflict, odd and unaligned rows (byte
// path), 16-byte rows (vector path), many tensors, pairs outside the cache
// (skipped on the device), and the fully parallel path on lists
// kv_copies_independent accepts. Skips without a GPU (the argument checks run
// everywhere).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/kv_copy_slots_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/kv_copy_slots.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;

// Runs `copies` on num_tensors random tensors (each starting `misalign` bytes
// into its own allocation slice) on the device and on the host; compares.
// `host_copies`: the list the reference runs (the device list minus pairs
// outside the cache).
void check(const std::vector<int64_t>& copies, const std::vector<int64_t>& host_copies, int64_t num_tensors,
           int64_t num_slots, int64_t row_bytes, int64_t misalign, bool independent) {
  const int64_t tensor_bytes = num_slots * row_bytes, pitch = (tensor_bytes + misalign + 255) / 256 * 256;
  std::mt19937 rng(static_cast<uint32_t>(row_bytes * 31 + num_tensors));
  std::vector<uint8_t> host(static_cast<size_t>(num_tensors * pitch));
  for (uint8_t& b : host) b = static_cast<uint8_t>(rng());
  DeviceBuffer d_data(host), d_copies(copies);
  std::vector<void*> device_pointers, host_pointers;
  for (int64_t t = 0; t < num_tensors; ++t) {
    device_pointers.push_back(d_data.as<uint8_t>() + t * pitch + misalign);
    host_pointers.push_back(host.data() + t * pitch + misalign);
  }
  DeviceBuffer d_pointers(device_pointers);
  const int64_t num_copies = static_cast<int64_t>(copies.size() / 2);
  const Status status =
      independent ? cuda::kv_copy_slots_independent(d_pointers.as<void*>(), num_tensors, num_slots, row_bytes,
                                                    d_copies.as<int64_t>(), num_copies, nullptr)
                  : cuda::kv_copy_slots(d_pointers.as<void*>(), num_tensors, num_slots, row_bytes,
                                        d_copies.as<int64_t>(), num_copies, nullptr);
  ASSERT_TRUE(status.ok()) << status.message;
  test::gpu::sync_ok();
  ASSERT_TRUE(kv_copy_slots_reference(host_pointers.data(), num_tensors, num_slots, row_bytes, host_copies.data(),
                                      static_cast<int64_t>(host_copies.size() / 2))
                  .ok());
  const auto got = d_data.download<uint8_t>(host.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], host[i]) << "tensor " << i / pitch << " byte " << i % pitch << " row_bytes " << row_bytes
                               << " misalign " << misalign << (independent ? " (independent)" : "");
  }
}

std::vector<int64_t> random_copies(int64_t n, int64_t num_slots, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> slot(0, num_slots - 1);
  std::vector<int64_t> copies;
  for (int64_t c = 0; c < n; ++c) copies.push_back(slot(rng)), copies.push_back(slot(rng));
  return copies;
}

TEST(CudaKvCopySlotsTest, CompactionChainsInOrder) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const std::vector<int64_t> chain = {5, 3, 7, 5, 3, 9, 9, 0, 0, 0, 11, 7};
  for (const int64_t row_bytes : {1, 6, 16, 48, 2048, 4096 + 16}) {
    for (const int64_t misalign : {0, 2}) check(chain, chain, 5, 12, row_bytes, misalign, false);
  }
}

TEST(CudaKvCopySlotsTest, RandomConflictingListsManyTensors) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t row_bytes : {2, 48, 512, 2048}) {
    const auto copies = random_copies(500, 37, static_cast<uint32_t>(row_bytes));
    check(copies, copies, 64, 37, row_bytes, 0, false);
  }
}

TEST(CudaKvCopySlotsTest, SkipsPairsOutsideTheCache) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const std::vector<int64_t> copies = {1, 2, 9, 0, 2, 4, -1, 3, 4, 8, 3, 1};
  const std::vector<int64_t> valid = {1, 2, 2, 4, 4, 8, 3, 1};
  check(copies, valid, 3, 9, 32, 0, false);
}

TEST(CudaKvCopySlotsTest, IndependentListsInParallel) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  // A compaction of the second half of 2048 slots onto the first half.
  std::vector<int64_t> copies;
  for (int64_t i = 0; i < 1024; ++i) copies.push_back(1024 + i), copies.push_back(i);
  ASSERT_TRUE(kv_copies_independent(copies.data(), 1024));
  for (const int64_t row_bytes : {6, 64, 2048, 8192 + 16}) {
    for (const int64_t misalign : {0, 4}) check(copies, copies, 3, 2048, row_bytes, misalign, true);
  }
  // Short lists from random draws the check accepts.
  int accepted = 0;
  for (uint32_t seed = 0; seed < 50; ++seed) {
    const auto few = random_copies(6, 1000, seed);
    if (!kv_copies_independent(few.data(), 6)) continue;
    ++accepted;
    check(few, few, 4, 1000, 48, 0, true);
  }
  EXPECT_GT(accepted, 10);
}

// Launcher argument checks: no device needed (rejected before any CUDA call).
TEST(CudaKvCopySlotsTest, RejectsBadArguments) {
  int64_t copies[2] = {0, 1};
  void* tensors[1] = {copies};
  EXPECT_EQ(cuda::kv_copy_slots(nullptr, 1, 4, 16, copies, 1, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::kv_copy_slots(tensors, 1, 4, 16, nullptr, 1, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::kv_copy_slots(tensors, 1, 4, 0, copies, 1, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_EQ(cuda::kv_copy_slots_independent(tensors, -1, 4, 16, copies, 1, nullptr).code, StatusCode::InvalidArgument);
  EXPECT_TRUE(cuda::kv_copy_slots(tensors, 1, 4, 16, copies, 0, nullptr).ok());
  EXPECT_TRUE(cuda::kv_copy_slots_independent(tensors, 0, 4, 16, copies, 1, nullptr).ok());
}

}  // namespace
}  // namespace kvs::kernels
