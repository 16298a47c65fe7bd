#pragma once
// What every front end shares while serving: the model, the engine, metrics,
// keys, the request limits, and the admission state (in-flight requests and
// sequences, draining flag, open streams per key).
//
// Ownership: refers to the bundle and engine owned by `kvserve serve`, which
// outlive every front end. Thread-safety: everything here may be used from any
// thread (atomics; the referenced objects are thread-safe or immutable;
// `limits` is set before serving starts and read-only after).
#include <atomic>
#include <optional>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/chat/chat_template.h"
#include "scheduler/engine_client.h"
#include "server/cli/model_bundle.h"
#include "server/serving/api_keys.h"
#include "server/serving/grammar_compiler.h"
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
  // Sequences (prompts x n) running or queued at once, over all requests
  // (--max-num-seqs + --max-queue); beyond it a request gets 429.
  int64_t max_active_sequences = 0;
  int64_t max_tokens_capacity = 0;  // min(context, KV pool) in tokens
  std::atomic<int64_t> num_active{0};            // admitted requests in flight
  std::atomic<int64_t> num_active_sequences{0};  // their sequences (what max_active_sequences bounds)
  std::atomic<bool> draining{false};
  RequestLimits limits{};
  StreamCounts streams{};  // open streams per key bucket (see StreamSlot)
  // Output constraints (issue 23): the model's vocabulary and the cache of
  // compiled grammars; set before serving starts (null: constraints are a 400).
  std::shared_ptr<GrammarCompiler> grammars;
};

// Holds one request's `sequences` slots of the admission budget (and counts
// the request in num_active) for as long as it lives.
class AdmissionSlot {
 public:
  // Throws ApiError 503 while draining, 400 (param "n") when `sequences`
  // alone exceeds the whole budget, 429 when the budget has not that many
  // sequences left.
  explicit AdmissionSlot(ServingContext& context, int64_t sequences = 1);
  ~AdmissionSlot();
  AdmissionSlot(const AdmissionSlot&) = delete;
  AdmissionSlot& operator=(const AdmissionSlot&) = delete;

 private:
  ServingContext& context_;
  int64_t sequences_;
};

}  // namespace kvs
