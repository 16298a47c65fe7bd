#pragma once
// What every front end shares while serving: the model, the engine, metrics,
// keys, the request limits, and the admission state (in-flight count,
// draining flag, open streams per key).
//
// Ownership: refers to the bundle and engine owned by `kvserve serve`, which
// outlive every front end. Thread-safety: everything here may be used from any
// thread (atomics; the referenced objects are thread-safe or immutable;
// `limits` is set before serving starts and read-only after).
#include <atomic>
#include <optional>
#include <cstdint>
#include <string>

#include "engine/chat/chat_template.h"
#include "scheduler/engine_client.h"
#include "server/cli/model_bundle.h"
#include "server/serving/api_keys.h"
#include "server/serving/request_limits.h"
#include "server/serving/stream_slots.h"
#include "server/metrics/server_metrics.h"

namespace kvs {

struct ServingContext {
  ModelBundle& bundle;
  EngineClient& engine;
  ServerMetrics& metrics;
  ApiKeys keys;
  std::string model_name;
  // The model's chat template; empty when it has none we recognise (then
  // chat requests get a 400 with `chat_error`, completions still work).
  std::optional<ChatTemplate> chat;
  std::string chat_error;
  int64_t max_active_requests = 0;  // running + queued API requests accepted at once; then 429
  int64_t max_tokens_capacity = 0;  // min(context, KV pool) in tokens
  std::atomic<int64_t> num_active{0};
  std::atomic<bool> draining{false};
  RequestLimits limits{};
  StreamCounts streams{};  // open streams per key bucket (see StreamSlot)
};

// Holds one slot of the admission budget for as long as it lives.
class AdmissionSlot {
 public:
  // Throws ApiError 503 while draining, 429 when the budget is spent.
  explicit AdmissionSlot(ServingContext& context);
  ~AdmissionSlot() { context_.num_active.fetch_sub(1); }
  AdmissionSlot(const AdmissionSlot&) = delete;
  AdmissionSlot& operator=(const AdmissionSlot&) = delete;

 private:
  ServingContext& context_;
};

}  // namespace kvs
