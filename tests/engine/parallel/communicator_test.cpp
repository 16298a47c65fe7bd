// The in-process communicator: collective results, rank-order determinism
// whatever the thread timing, and abort / reset.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "engine/errors.h"
#include "engine/parallel/cpu_communicator.h"

namespace kvs {
namespace {

// Runs body(rank, communicator) on one thread per rank and joins them.
void run_ranks(std::vector<std::unique_ptr<Communicator>>& ranks,
               const std::function<void(int, Communicator&)>& body) {
  std::vector<std::thread> threads;
  for (size_t r = 0; r < ranks.size(); ++r) {
    threads.emplace_back([&, r] { body(static_cast<int>(r), *ranks[r]); });
  }
  for (std::thread& t : threads) t.join();
}

std::vector<float> random_values(int seed, int64_t count) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> normal(0.0f, 100.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& v : values) v = normal(rng);
  return values;
}

TEST(CpuCommunicator, AllReduceSumsInRankOrderBitIdenticallyOnEveryRank) {
  for (int n : {1, 2, 3, 4}) {
    auto ranks = CpuCommunicator::create_group(n);
    const int64_t count = 1000;
    // Expected: rank 0's values + rank 1's + ... in that order (floats, so the
    // order is visible in the low bits).
    std::vector<float> expected = random_values(0, count);
    for (int r = 1; r < n; ++r) {
      const std::vector<float> v = random_values(r, count);
      for (int64_t i = 0; i < count; ++i) expected[static_cast<size_t>(i)] += v[static_cast<size_t>(i)];
    }
    std::vector<std::vector<float>> results(static_cast<size_t>(n));
    for (int repeat = 0; repeat < 20; ++repeat) {
      run_ranks(ranks, [&](int rank, Communicator& c) {
        EXPECT_EQ(c.rank(), rank);
        EXPECT_EQ(c.size(), n);
        // Stagger the ranks differently every round so arrival order varies.
        std::this_thread::sleep_for(std::chrono::microseconds(((rank + repeat) % n) * 200));
        std::vector<float> data = random_values(rank, count);
        c.all_reduce_sum(data.data(), count);
        results[static_cast<size_t>(rank)] = data;
      });
      for (int r = 0; r < n; ++r) {
        ASSERT_EQ(0, std::memcmp(results[static_cast<size_t>(r)].data(), expected.data(), count * sizeof(float)))
            << "n=" << n << " rank " << r << " round " << repeat;
      }
    }
  }
}

TEST(CpuCommunicator, AllGatherConcatenatesInRankOrderAndBroadcastCopiesTheRoot) {
  const int n = 3;
  auto ranks = CpuCommunicator::create_group(n);
  std::vector<std::vector<float>> gathered(n), broadcast(n);
  run_ranks(ranks, [&](int rank, Communicator& c) {
    const std::vector<float> send = {static_cast<float>(rank), static_cast<float>(10 * rank)};
    std::vector<float> recv(static_cast<size_t>(2 * n));
    c.all_gather(send.data(), 2, recv.data());
    gathered[static_cast<size_t>(rank)] = recv;
    std::vector<float> data = {static_cast<float>(rank + 1), -1.0f};
    c.broadcast(data.data(), 2, /*root=*/2);
    broadcast[static_cast<size_t>(rank)] = data;
    c.barrier();
  });
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(gathered[static_cast<size_t>(r)], (std::vector<float>{0, 0, 1, 10, 2, 20}));
    EXPECT_EQ(broadcast[static_cast<size_t>(r)], (std::vector<float>{3, -1}));
  }
}

TEST(CpuCommunicator, AbortWakesBlockedPeersAndResetMakesTheGroupUsable) {
  const int n = 3;
  auto ranks = CpuCommunicator::create_group(n);
  std::vector<std::string> errors(n);
  run_ranks(ranks, [&](int rank, Communicator& c) {
    try {
      if (rank == 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // peers are waiting by now
        c.abort("rank 1 failed");
        return;
      }
      float x = 1.0f;
      c.all_reduce_sum(&x, 1);
    } catch (const Error& e) {
      errors[static_cast<size_t>(rank)] = e.what();
    }
  });
  EXPECT_NE(errors[0].find("rank 1 failed"), std::string::npos) << errors[0];
  EXPECT_NE(errors[2].find("rank 1 failed"), std::string::npos) << errors[2];
  for (auto& r : ranks) r->reset();
  std::vector<float> sums(n);
  run_ranks(ranks, [&](int rank, Communicator& c) {
    float x = static_cast<float>(rank + 1);
    c.all_reduce_sum(&x, 1);
    sums[static_cast<size_t>(rank)] = x;
  });
  EXPECT_EQ(sums, (std::vector<float>{6, 6, 6}));
}

TEST(CpuCommunicator, RejectsBadGroupsAndRoots) {
  EXPECT_THROW(CpuCommunicator::create_group(0), InvalidArgument);
  auto single = CpuCommunicator::create_group(1);
  float x = 2.0f;
  single[0]->all_reduce_sum(&x, 1);  // a group of one returns its own values
  EXPECT_EQ(x, 2.0f);
  EXPECT_THROW(single[0]->broadcast(&x, 1, 1), InvalidArgument);
}

}  // namespace
}  // namespace kvs
