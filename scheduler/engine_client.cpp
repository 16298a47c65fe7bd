#include "scheduler/engine_client.h"

#include <chrono>
#include <unordered_map>
#include <vector>

#include "engine/errors.h"

namespace kvs {

struct EngineShared {
  std::mutex mutex;
  std::condition_variable wake;  // the loop: new work, a cancel, or stop
  std::condition_variable idle;  // wait_until_idle()
  std::vector<std::pair<uint64_t, Request>> inbox;
  std::vector<uint64_t> cancels;
  std::unordered_map<uint64_t, std::shared_ptr<RequestHandle::Stream>> streams;  // unfinished requests
  uint64_t next_id = 1;
  bool stop = false;
  bool abort_all = false;  // abort_all() was called: cancel everything at the next boundary
  bool busy = false;  // the loop holds unfinished requests
  EngineMetrics metrics;
};

namespace {

void push_event(RequestHandle::Stream& stream, const TokenEvent& event) {
  {
    std::lock_guard<std::mutex> lock(stream.mutex);
    stream.events.push_back(event);
    if (event.finish_reason != FinishReason::kNone) stream.finished = true;
  }
  stream.ready.notify_all();
}

}  // namespace

bool RequestHandle::next(TokenEvent& event) {
  std::unique_lock<std::mutex> lock(stream_->mutex);
  stream_->ready.wait(lock, [&] { return !stream_->events.empty() || stream_->ended; });
  if (stream_->events.empty()) return false;
  event = std::move(stream_->events.front());
  stream_->events.pop_front();
  if (event.finish_reason != FinishReason::kNone) stream_->ended = true;
  return true;
}

std::optional<TokenEvent> RequestHandle::next_for(double timeout_seconds) {
  std::unique_lock<std::mutex> lock(stream_->mutex);
  const bool ready = stream_->ready.wait_for(lock, std::chrono::duration<double>(timeout_seconds),
                                             [&] { return !stream_->events.empty() || stream_->ended; });
  if (!ready || stream_->events.empty()) return std::nullopt;
  TokenEvent event = std::move(stream_->events.front());
  stream_->events.pop_front();
  if (event.finish_reason != FinishReason::kNone) stream_->ended = true;
  return event;
}

void RequestHandle::cancel() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->cancels.push_back(id_);
  }
  shared_->wake.notify_all();
}

EngineClient::EngineClient(ForwardModel& model, const EngineConfig& config)
    : config_(resolve_engine_config(config, model.config())),
      shared_(std::make_shared<EngineShared>()) {
  // The sink runs on the loop thread; the streams map is guarded by shared_->mutex.
  std::shared_ptr<EngineShared> shared = shared_;
  core_ = std::make_unique<EngineCore>(model, config_, [shared](uint64_t id, const TokenEvent& event) {
    std::shared_ptr<RequestHandle::Stream> stream;
    {
      std::lock_guard<std::mutex> lock(shared->mutex);
      const auto it = shared->streams.find(id);
      if (it == shared->streams.end()) return;
      stream = it->second;
      if (event.finish_reason != FinishReason::kNone) shared->streams.erase(it);
    }
    push_event(*stream, event);
  });
  num_blocks_ = core_->kv_cache().num_blocks();
  max_cached_tokens_ = core_->kv_cache().max_tokens_held(config_.scheduler.max_num_batched_tokens);
  shared_->metrics = core_->metrics();
  thread_ = std::thread([this] { run(); });
}

EngineClient::~EngineClient() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stop = true;
  }
  shared_->wake.notify_all();
  thread_.join();
}

RequestHandle EngineClient::submit(const Request& request) {
  // EngineCore::validate: the one place a request is checked; here in the
  // caller's thread, so a bad request fails at once and nothing is queued.
  core_->validate(request);
  auto stream = std::make_shared<RequestHandle::Stream>();
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->stop) throw Error("the engine is shutting down");
    id = shared_->next_id++;
    shared_->inbox.emplace_back(id, request);
    shared_->streams.emplace(id, stream);
    shared_->busy = true;
  }
  shared_->wake.notify_all();
  return RequestHandle(id, std::move(stream), shared_);
}

void EngineClient::cancel(uint64_t request_id) {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->cancels.push_back(request_id);
  }
  shared_->wake.notify_all();
}

void EngineClient::abort_all() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->abort_all = true;
  }
  shared_->wake.notify_all();
}

EngineMetrics EngineClient::metrics() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->metrics;
}

void EngineClient::wait_until_idle() {
  std::unique_lock<std::mutex> lock(shared_->mutex);
  shared_->idle.wait(lock, [&] { return !shared_->busy && shared_->inbox.empty(); });
}

void EngineClient::drain_inbox(EngineCore& core) {
  std::vector<std::pair<uint64_t, Request>> inbox;
  std::vector<uint64_t> cancels;
  bool abort_all = false;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    inbox.swap(shared_->inbox);
    cancels.swap(shared_->cancels);
    std::swap(abort_all, shared_->abort_all);
  }
  for (auto& [id, request] : inbox) {
    try {
      core.add(id, request);
    } catch (const std::exception& e) {
      TokenEvent event;
      event.finish_reason = FinishReason::kError;
      event.error = e.what();
      std::shared_ptr<RequestHandle::Stream> stream;
      {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        stream = shared_->streams[id];
        shared_->streams.erase(id);
      }
      push_event(*stream, event);
    }
  }
  for (uint64_t id : cancels) core.cancel(id);  // at the step boundary
  if (abort_all) core.abort_all();
}

void EngineClient::run() {
  EngineCore& core = *core_;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(shared_->mutex);
      shared_->wake.wait(lock, [&] {
        return shared_->stop || !shared_->inbox.empty() || !shared_->cancels.empty() || shared_->abort_all ||
               core.has_unfinished();
      });
      if (shared_->stop) break;
    }
    try {
      drain_inbox(core);
      core.step();  // fails only its own requests when it fails
    } catch (...) {
      // NOTE: only allocation failures get here (step and add catch the
      // rest); ending every request keeps the loop and the pool consistent.
      try {
        core.abort_all();
      } catch (...) {
      }
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->metrics = core.metrics();
    shared_->busy = core.has_unfinished() || !shared_->inbox.empty();
    if (!shared_->busy) shared_->idle.notify_all();
  }
  // Shutting down: end every unfinished request, queued or running.
  drain_inbox(core);
  std::vector<uint64_t> unfinished;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    for (const auto& entry : shared_->streams) unfinished.push_back(entry.first);
  }
  for (uint64_t id : unfinished) core.cancel(id);
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->metrics = core.metrics();
  shared_->busy = false;
  shared_->idle.notify_all();
}

}  // namespace kvs
