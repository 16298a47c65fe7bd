#include "server/http/tiered_task_queue.h"

#include <algorithm>

namespace kvs {
namespace {

thread_local bool t_overflow_thread = false;
constexpr size_t kMainThreadsAtStart = 512;  // more start on demand

}  // namespace

TieredTaskQueue::TieredTaskQueue(size_t main_threads, size_t overflow_threads) : main_threads_(main_threads) {
  for (size_t i = 0; i < overflow_threads; ++i) threads_.emplace_back([this] { work(true); });
  // Started now, so a burst of connections does not wait for thread starts.
  std::lock_guard<std::mutex> lock(mutex_);
  for (; main_started_ < std::min(main_threads, kMainThreadsAtStart); ++main_started_) {
    threads_.emplace_back([this] { work(false); });
  }
}

TieredTaskQueue::~TieredTaskQueue() { shutdown(); }

void TieredTaskQueue::enqueue(std::function<void()> fn) {
  bool main = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    main = main_claimed_ < main_threads_;
    if (main) {
      ++main_claimed_;
      main_jobs_.push_back(std::move(fn));
      if (main_jobs_.size() > main_idle_) {  // no idle thread left for it: start one
        ++main_started_;
        threads_.emplace_back([this] { work(false); });
        return;
      }
    } else {
      overflow_jobs_.push_back(std::move(fn));
    }
  }
  (main ? main_ready_ : overflow_ready_).notify_one();
}

void TieredTaskQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  main_ready_.notify_all();
  overflow_ready_.notify_all();
  // NOTE: no thread starts after shutdown_ is set (enqueue is not called
  // then), so threads_ no longer changes.
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

bool TieredTaskQueue::on_overflow_thread() { return t_overflow_thread; }

size_t TieredTaskQueue::main_busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return main_claimed_ - main_jobs_.size();
}

size_t TieredTaskQueue::overflow_waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return overflow_jobs_.size();
}

void TieredTaskQueue::work(bool overflow) {
  t_overflow_thread = overflow;
  std::deque<std::function<void()>>& jobs = overflow ? overflow_jobs_ : main_jobs_;
  std::condition_variable& ready = overflow ? overflow_ready_ : main_ready_;
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!overflow) ++main_idle_;
      ready.wait(lock, [&] { return shutdown_ || !jobs.empty(); });
      if (!overflow) --main_idle_;
      if (jobs.empty()) return;  // shut down with nothing left
      job = std::move(jobs.front());
      jobs.pop_front();
    }
    job();
    if (!overflow) {
      std::lock_guard<std::mutex> lock(mutex_);
      --main_claimed_;
    }
  }
}

}  // namespace kvs
