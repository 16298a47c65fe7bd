#include "server/grpc/grpc_validation.h"

#include "engine/errors.h"
#include "server/api/api_error.h"

namespace kvs {

GenerationOptions grpc_generation_options(const kvserve::v1::GenerateRequest& request) {
  GenerationOptions options;
  if (request.max_tokens() > 0) options.max_tokens = request.max_tokens();
  const kvserve::v1::SamplingParams& s = request.sampling();
  options.sampling.temperature = s.temperature();
  options.sampling.top_p = s.top_p() == 0.0f ? 1.0f : s.top_p();
  options.sampling.top_k = s.top_k();
  options.sampling.min_p = s.min_p();
  options.sampling.repetition_penalty = s.repetition_penalty() == 0.0f ? 1.0f : s.repetition_penalty();
  options.sampling.presence_penalty = s.presence_penalty();
  options.sampling.frequency_penalty = s.frequency_penalty();
  if (s.has_seed()) options.sampling.has_seed = true, options.sampling.seed = s.seed();
  try {
    options.sampling.validate();
  } catch (const InvalidArgument& e) {
    throw ApiError(400, e.what());
  }
  options.stop.assign(request.stop().begin(), request.stop().end());
  for (const std::string& stop : options.stop) {
    if (stop.empty()) throw ApiError(400, "stop strings must not be empty");
  }
  options.stop_token_ids.assign(request.stop_token_ids().begin(), request.stop_token_ids().end());
  options.ignore_eos = request.ignore_eos();
  options.logprobs = request.logprobs();
  if (!request.kv_policy().empty()) {
    try {
      options.kv_policy = parse_kv_policy(request.kv_policy());
    } catch (const InvalidArgument& e) {
      throw ApiError(400, std::string("kv_policy: ") + e.what(), "kvserve.kv_policy");
    }
  }
  if (request.kv_budget() != 0.0) options.kv_budget = request.kv_budget();
  return options;
}

std::vector<int32_t> grpc_prompt_token_ids(const kvserve::v1::GenerateRequest& request) {
  std::vector<int32_t> prompt;
  for (int32_t id : request.token_ids().ids()) {
    if (id < 0) throw ApiError(400, "negative token id");
    prompt.push_back(id);
  }
  return prompt;
}

}  // namespace kvs
