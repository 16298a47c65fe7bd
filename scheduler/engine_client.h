#pragma once
// The thread-safe front door of the engine: submit requests from any thread,
// read their tokens as they are generated, cancel them.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "scheduler/engine_core.h"

namespace kvs {

struct EngineShared;  // the client's queues, shared with handles (engine_client.cpp)

// A request's stream of TokenEvents. Copyable (copies share the stream);
// safe to use from any one thread at a time, and it may outlive the client
// (an unfinished request then ends with kCancelled).
class RequestHandle {
 public:
  uint64_t id() const { return id_; }
  // Blocks until the next event; false once the final event has been returned.
  bool next(TokenEvent& event);
  // Like next() but gives up after `timeout_seconds` (returns std::nullopt then
  // and also after the end of the stream).
  std::optional<TokenEvent> next_for(double timeout_seconds);
  // Asks the engine to stop this request at its next step boundary (its final
  // event then has kCancelled unless it already finished). Idempotent.
  void cancel();

  struct Stream {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<TokenEvent> events;
    bool finished = false;  // the final event is queued (or was returned)
    bool ended = false;     // the final event was returned to the reader
  };

 private:
  friend class EngineClient;
  RequestHandle(uint64_t id, std::shared_ptr<Stream> stream, std::shared_ptr<EngineShared> shared)
      : id_(id), stream_(std::move(stream)), shared_(std::move(shared)) {}
  uint64_t id_ = 0;
  std::shared_ptr<Stream> stream_;
  std::shared_ptr<EngineShared> shared_;
};

// Ownership: starts and owns the engine loop thread, which owns the
// EngineCore (KV storage, scheduler); uses `model`, which must outlive the
// client and must not be used by anyone else meanwhile. Thread-safety: every
// method may be called from any thread. The destructor cancels what is
// unfinished and joins the loop. A failing step fails only its own requests
// (kError, see EngineCore::step); the loop keeps serving.
class EngineClient {
 public:
  EngineClient(ForwardModel& model, const EngineConfig& config);
  ~EngineClient();
  EngineClient(const EngineClient&) = delete;
  EngineClient& operator=(const EngineClient&) = delete;

  // Queues a request. Throws InvalidArgument right away when it can never run
  // (empty prompt, bad sampling params, prompt + max_tokens past the context
  // or larger than the whole KV pool, token ids outside the vocabulary, a KV
  // policy this model or engine does not support).
  RequestHandle submit(const Request& request);
  void cancel(uint64_t request_id);
  // Ends every request submitted so far, queued or running, at the next step
  // boundary: each gets its final kCancelled event (the drain deadline).
  void abort_all();
  // Counters as of the end of the last step (or the last queue change).
  EngineMetrics metrics() const;
  // Blocks until no request is unfinished and the loop has published its counters.
  void wait_until_idle();
  int64_t num_kv_blocks() const { return num_blocks_; }
  // The longest sequence (tokens) the KV pool holds when it runs alone
  // (KvCacheManager::max_tokens_held: window layers hold only their window).
  int64_t max_cached_tokens() const { return max_cached_tokens_; }
  const EngineConfig& config() const { return config_; }

 private:
  void run();
  void drain_inbox(EngineCore& core);

  EngineConfig config_;
  int64_t num_blocks_ = 0;
  int64_t max_cached_tokens_ = 0;
  std::shared_ptr<EngineShared> shared_;
  std::unique_ptr<EngineCore> core_;  // used only by thread_ once it started
  std::thread thread_;
};

}  // namespace kvs
