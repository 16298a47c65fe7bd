#include "server/serving/serving_context.h"

#include <string>

#include "server/api/api_error.h"

namespace kvs {

AdmissionSlot::AdmissionSlot(ServingContext& context, int64_t sequences) : context_(context), sequences_(sequences) {
  // Counted before the draining check, so a drain that sees num_active == 0
  // never misses a request admitted meanwhile.
  context_.num_active.fetch_add(1);
  const int64_t before = context_.num_active_sequences.fetch_add(sequences_);
  const int64_t budget = context_.max_active_sequences;
  const auto refuse = [this](int status, const std::string& message, const std::string& param, const std::string& code) {
    context_.num_active.fetch_sub(1);
    context_.num_active_sequences.fetch_sub(sequences_);
    throw ApiError(status, message, param, code);
  };
  if (context_.draining.load()) refuse(503, "the server is shutting down", "", "server_draining");
  if (sequences_ > budget) {
    refuse(400,
           "the request asks for " + std::to_string(sequences_) + " sequences (prompts x n); the server runs and "
               "queues at most " + std::to_string(budget) + " at once",
           "n", "");
  }
  if (before + sequences_ > budget) {
    refuse(429, "the server is at capacity (" + std::to_string(budget) + " sequences running or queued); retry later",
           "", "queue_full");
  }
}

AdmissionSlot::~AdmissionSlot() {
  context_.num_active.fetch_sub(1);
  context_.num_active_sequences.fetch_sub(sequences_);
}

}  // namespace kvs
