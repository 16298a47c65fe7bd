#include "client/driver/load_driver.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include "client/driver/progress.h"

namespace kvs::client {
namespace {

using Clock = std::chrono::steady_clock;

// Gaps between arrivals: gamma(shape = burstiness, scale = 1 / (rate * burstiness)),
// so the mean gap is 1 / rate and burstiness 1 is exponential (Poisson).
class ArrivalClock {
 public:
  ArrivalClock(double rate, double burstiness, uint64_t seed)
      : rate_(rate), rng_(seed ^ 0x9e3779b97f4a7c15ULL),
        gamma_(burstiness, std::isinf(rate) ? 1.0 : 1.0 / (rate * burstiness)) {}
  double next() {  // offset of the next arrival, seconds
    const double now = next_;
    if (!std::isinf(rate_)) next_ += gamma_(rng_);
    return now;
  }

 private:
  double rate_;
  std::mt19937_64 rng_;
  std::gamma_distribution<double> gamma_;
  double next_ = 0;
};

class Run {
 public:
  Run(const LoadPlan& plan, const std::vector<RequestSpec>& specs, const BackendFactory& factory)
      : plan_(plan), specs_(specs), factory_(factory), start_(Clock::now()) {}

  RunResult execute(const std::atomic<bool>& interrupt) {
    if (plan_.request_rate == 0) {
      for (int64_t i = 0; i < std::max<int64_t>(1, plan_.concurrency); ++i) spawn_worker();
      dispatcher_done_ = true;  // workers take indices themselves
    } else {
      // NOTE: a few idle workers up front, so the first arrivals do not wait
      // for a thread to start.
      const int64_t cap = plan_.concurrency > 0 ? plan_.concurrency : kDefaultMaxWorkers;
      for (int64_t i = 0; i < std::min<int64_t>(cap, kInitialOpenLoopWorkers); ++i) spawn_worker();
      dispatcher_ = std::thread([this] { dispatch(); });
    }
    ProgressBar bar(plan_.show_progress, plan_.label, plan_.num_requests, plan_.duration_s);
    bool interrupted = false;
    while (!(dispatcher_done_ && num_active_workers_ == 0)) {
      if (interrupt && !interrupted) {
        interrupted = true;
        stop();
      }
      bar.draw(num_done_, num_failed_, num_in_flight_, seconds_since_start());
      std::unique_lock<std::mutex> lock(mutex_);
      finished_cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    if (dispatcher_.joinable()) dispatcher_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      workers.swap(workers_);
    }
    for (std::thread& t : workers) t.join();
    bar.draw(num_done_, num_failed_, 0, seconds_since_start());
    bar.finish();
    RunResult result;
    result.interrupted = interrupted;
    result.records = std::move(records_);
    double first = std::numeric_limits<double>::infinity(), last = 0;
    for (const RequestRecord& r : result.records) {
      first = std::min(first, r.start_ms);
      last = std::max(last, r.start_ms + r.e2e_ms);
    }
    result.duration_s = result.records.empty() ? 0 : (last - first) / 1000.0;
    return result;
  }

 private:
  double seconds_since_start() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  bool out_of_time() const { return plan_.duration_s > 0 && seconds_since_start() >= plan_.duration_s; }

  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
    for (Backend* backend : backends_) backend->cancel();
    job_cv_.notify_all();
  }

  // Closed loop: the next index, or -1 when the run is over.
  int64_t next_closed_index() {
    if (stopped_ || out_of_time()) return -1;
    const int64_t index = next_index_++;
    if (plan_.num_requests > 0 && index >= plan_.num_requests) return -1;
    return index;
  }

  // Open loop: waits for a queued index; -1 when the dispatcher is done and the queue empty.
  int64_t next_queued_index() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++num_idle_workers_;
    job_cv_.wait(lock, [this] { return stopped_ || !jobs_.empty() || dispatcher_done_; });
    --num_idle_workers_;
    if (stopped_ || jobs_.empty()) return -1;
    const int64_t index = jobs_.front();
    jobs_.pop_front();
    return index;
  }

  void dispatch() {
    ArrivalClock arrivals(plan_.request_rate, plan_.burstiness, plan_.seed);
    const int64_t max_workers = plan_.concurrency > 0 ? plan_.concurrency : kDefaultMaxWorkers;
    for (int64_t index = 0; plan_.num_requests == 0 || index < plan_.num_requests; ++index) {
      const double at = arrivals.next();
      if (plan_.duration_s > 0 && at >= plan_.duration_s) break;
      std::unique_lock<std::mutex> lock(mutex_);
      const auto when = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
      if (job_cv_.wait_until(lock, when, [this] { return stopped_.load(); })) break;
      jobs_.push_back(index);
      if (num_idle_workers_ < static_cast<int64_t>(jobs_.size()) &&
          static_cast<int64_t>(workers_.size()) < max_workers) {
        spawn_worker_locked();
      }
      job_cv_.notify_one();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    dispatcher_done_ = true;
    job_cv_.notify_all();
    finished_cv_.notify_all();
  }

  void spawn_worker() {
    std::lock_guard<std::mutex> lock(mutex_);
    spawn_worker_locked();
  }
  void spawn_worker_locked() {
    ++num_active_workers_;
    workers_.emplace_back([this] { work(); });
  }

  void work() {
    std::unique_ptr<Backend> backend = factory_();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      backends_.push_back(backend.get());
      if (stopped_) backend->cancel();
    }
    const bool closed = plan_.request_rate == 0;
    std::vector<RequestRecord> mine;
    for (;;) {
      const int64_t index = closed ? next_closed_index() : next_queued_index();
      if (index < 0) break;
      RequestRecord record;
      record.index = index;
      record.start_ms = seconds_since_start() * 1000.0;
      ++num_in_flight_;
      backend->send(specs_[static_cast<size_t>(index) % specs_.size()], record);
      --num_in_flight_;
      if (record.error_kind != "cancelled") {
        ++num_done_;
        if (!record.success) ++num_failed_;
      }
      mine.push_back(std::move(record));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    backends_.erase(std::find(backends_.begin(), backends_.end(), backend.get()));
    for (RequestRecord& r : mine) records_.push_back(std::move(r));
    --num_active_workers_;
    finished_cv_.notify_all();
  }

  const LoadPlan& plan_;
  const std::vector<RequestSpec>& specs_;
  const BackendFactory& factory_;
  const Clock::time_point start_;
  std::mutex mutex_;  // guards everything below that is not atomic
  std::condition_variable job_cv_, finished_cv_;
  std::deque<int64_t> jobs_;
  std::vector<std::thread> workers_;
  std::thread dispatcher_;
  std::vector<Backend*> backends_;
  std::vector<RequestRecord> records_;
  int64_t num_idle_workers_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> dispatcher_done_{false};
  std::atomic<int64_t> num_active_workers_{0};
  std::atomic<int64_t> next_index_{0};
  std::atomic<int64_t> num_done_{0}, num_failed_{0}, num_in_flight_{0};
};

}  // namespace

std::vector<double> arrival_times(double request_rate, double burstiness, int64_t count, uint64_t seed) {
  ArrivalClock clock(request_rate, burstiness, seed);
  std::vector<double> times;
  for (int64_t i = 0; i < count; ++i) times.push_back(clock.next());
  return times;
}

RunResult run_load(const LoadPlan& plan, const std::vector<RequestSpec>& specs, const BackendFactory& factory,
                   const std::atomic<bool>& interrupt) {
  Run run(plan, specs, factory);
  return run.execute(interrupt);
}

}  // namespace kvs::client
