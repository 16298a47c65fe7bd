// TieredTaskQueue: the main tier takes a connection only while one of its
// threads is free (it never queues); every other connection runs on the
// overflow tier at once, even while every main thread is blocked.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>

#include "server/http/tiered_task_queue.h"

namespace kvs {
namespace {

constexpr auto kTimeout = std::chrono::seconds(10);

// A gate jobs block on until it opens.
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

TEST(TieredTaskQueueTest, BusyMainTierSendsConnectionsToTheOverflowTier) {
  TieredTaskQueue queue(2, 1);
  Gate gate;
  std::promise<bool> main_a, main_b, overflow, after;
  queue.enqueue([&] { main_a.set_value(TieredTaskQueue::on_overflow_thread()); gate.wait(); });
  queue.enqueue([&] { main_b.set_value(TieredTaskQueue::on_overflow_thread()); gate.wait(); });
  auto a = main_a.get_future(), b = main_b.get_future();
  ASSERT_EQ(a.wait_for(kTimeout), std::future_status::ready);
  ASSERT_EQ(b.wait_for(kTimeout), std::future_status::ready);
  EXPECT_FALSE(a.get());
  EXPECT_FALSE(b.get());
  EXPECT_EQ(queue.main_busy(), 2u);

  // Both main threads are held: the next connection runs now, on the overflow tier.
  queue.enqueue([&] { overflow.set_value(TieredTaskQueue::on_overflow_thread()); });
  auto o = overflow.get_future();
  ASSERT_EQ(o.wait_for(kTimeout), std::future_status::ready);
  EXPECT_TRUE(o.get());

  gate.open();
  // Once main threads are free again, connections go back to the main tier.
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (queue.main_busy() != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ(queue.main_busy(), 0u);
  queue.enqueue([&] { after.set_value(TieredTaskQueue::on_overflow_thread()); });
  auto f = after.get_future();
  ASSERT_EQ(f.wait_for(kTimeout), std::future_status::ready);
  EXPECT_FALSE(f.get());
  EXPECT_EQ(queue.overflow_waiting(), 0u);
}

TEST(TieredTaskQueueTest, ShutdownRunsWhatIsQueued) {
  int ran = 0;
  std::mutex mutex;
  {
    TieredTaskQueue queue(1, 1);
    for (int i = 0; i < 20; ++i) {
      queue.enqueue([&] {
        std::lock_guard<std::mutex> lock(mutex);
        ++ran;
      });
    }
    queue.shutdown();
  }
  EXPECT_EQ(ran, 20);
}

}  // namespace
}  // namespace kvs
