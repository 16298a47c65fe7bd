#include "server/serving/request_limits.h"

#include <algorithm>
#include <string>

#include "server/api/api_error.h"

namespace kvs {

void check_request_limits(const RequestLimits& limits, const GenerationOptions& options) {
  const auto bad = [](const char* param, const std::string& message) { throw ApiError(400, message, param); };
  if (options.n > limits.max_n) bad("n", "'n' must be between 1 and " + std::to_string(limits.max_n));
  if (limits.max_tokens > 0 && options.max_tokens && *options.max_tokens > limits.max_tokens) {
    bad("max_tokens", "'max_tokens' must be at most " + std::to_string(limits.max_tokens) + " on this server, not " +
                          std::to_string(*options.max_tokens));
  }
  if (static_cast<int64_t>(options.stop.size()) > limits.max_stop) {
    bad("stop", "at most " + std::to_string(limits.max_stop) + " stop strings are allowed, not " +
                    std::to_string(options.stop.size()));
  }
  for (const std::string& stop : options.stop) {
    if (static_cast<int64_t>(stop.size()) > limits.max_stop_bytes) {
      bad("stop", "each stop string may be at most " + std::to_string(limits.max_stop_bytes) + " bytes, not " +
                      std::to_string(stop.size()));
    }
  }
}

void check_choice_count(const RequestLimits& limits, int64_t num_prompts, int64_t n) {
  if (n < 1 || num_prompts > limits.max_n / n) {  // no overflow: n >= 1 from the parser
    throw ApiError(400,
                   "a request may ask for at most " + std::to_string(limits.max_n) + " choices in all (prompts x n), not " +
                       std::to_string(num_prompts) + " x " + std::to_string(n),
                   "prompt");
  }
}

int64_t effective_max_tokens(const RequestLimits& limits, const GenerationOptions& options, int64_t context_room) {
  if (options.max_tokens) return *options.max_tokens;
  return limits.max_tokens > 0 ? std::min(context_room, limits.max_tokens) : context_room;
}

}  // namespace kvs
