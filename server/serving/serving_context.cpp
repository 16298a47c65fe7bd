#include "server/serving/serving_context.h"

#include "server/api/api_error.h"

namespace kvs {

AdmissionSlot::AdmissionSlot(ServingContext& context) : context_(context) {
  const int64_t before = context_.num_active.fetch_add(1);
  if (context_.draining.load()) {
    context_.num_active.fetch_sub(1);
    throw ApiError(503, "the server is shutting down", "", "server_draining");
  }
  if (before >= context_.max_active_requests) {
    context_.num_active.fetch_sub(1);
    throw ApiError(429, "too many requests in flight; retry later", "", "queue_full");
  }
}

}  // namespace kvs
