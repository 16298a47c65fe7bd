#pragma once
// cpp-httplib's connection queue in two tiers, so that no connection ever
// waits unseen behind generation traffic.
//
// httplib hands every accepted connection to TaskQueue::enqueue, and the
// connection then holds the thread that runs it for its whole life
// (keep-alive included). The main tier has `main_threads` threads and never
// queues: a connection goes there only while one of them is free. Every other
// connection goes to the small overflow tier, whose threads answer probes
// (/health, /ready, /metrics, /v1/models) and refuse generation with an
// immediate 429 (HttpServer checks on_overflow_thread()), so its work per
// connection is short and its queue drains fast.
//
// The overflow tier's threads and up to 512 of the main tier's start at once;
// further main-tier threads start on demand (a job with no idle thread to
// take it starts one) up to `main_threads`, and stay.
//
// Ownership: owns its threads; shutdown() (or the destructor) runs what is
// queued and joins them. Thread-safety: enqueue/shutdown/counters may be
// called from any thread.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace kvs {

class TieredTaskQueue : public httplib::TaskQueue {
 public:
  TieredTaskQueue(size_t main_threads, size_t overflow_threads);
  ~TieredTaskQueue() override;
  TieredTaskQueue(const TieredTaskQueue&) = delete;
  TieredTaskQueue& operator=(const TieredTaskQueue&) = delete;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  // True on a thread of the overflow tier (of any TieredTaskQueue).
  static bool on_overflow_thread();
  // Connections of the main tier running now.
  size_t main_busy() const;
  // Connections waiting for an overflow thread now.
  size_t overflow_waiting() const;

 private:
  void work(bool overflow);

  const size_t main_threads_;
  mutable std::mutex mutex_;
  std::condition_variable main_ready_, overflow_ready_;
  std::deque<std::function<void()>> main_jobs_, overflow_jobs_;
  size_t main_claimed_ = 0;  // main-tier connections queued or running (<= main_threads_)
  size_t main_started_ = 0;  // main-tier threads started
  size_t main_idle_ = 0;     // main-tier threads waiting for a job
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace kvs
