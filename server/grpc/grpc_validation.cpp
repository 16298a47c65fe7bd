#include "server/grpc/grpc_validation.h"

#include "engine/errors.h"
#include "server/api/api_error.h"

namespace kvs {
namespace {

using Request = kvserve::v1::GenerateRequest;
using Kind = grammar::ConstraintSpec::Kind;

void set_constraint(GenerationOptions& options, const char* param, grammar::ConstraintSpec spec) {
  options.constraint = std::move(spec);
  options.constraint_param = param;
}

void grpc_constraint(const Request& request, GenerationOptions& options) {
  const auto text = [](const std::string& value, const char* param) {
    if (value.empty()) throw ApiError(400, std::string(param) + " must not be empty", param);
    return value;
  };
  switch (request.constraint_case()) {
    case Request::kJsonSchema:
      set_constraint(options, "constraint.json_schema",
                     {Kind::kJsonSchema, text(request.json_schema(), "constraint.json_schema"), {}});
      break;
    case Request::kRegex:
      set_constraint(options, "constraint.regex", {Kind::kRegex, text(request.regex(), "constraint.regex"), {}});
      break;
    case Request::kChoice:
      if (request.choice().choices().empty()) throw ApiError(400, "constraint.choice must list at least one string", "constraint.choice");
      set_constraint(options, "constraint.choice",
                     {Kind::kChoice, "", {request.choice().choices().begin(), request.choice().choices().end()}});
      break;
    case Request::kGrammar:
      set_constraint(options, "constraint.grammar", {Kind::kGbnf, text(request.grammar(), "constraint.grammar"), {}});
      break;
    case Request::kJsonObject:
      if (request.json_object()) set_constraint(options, "constraint.json_object", {Kind::kJsonObject, "", {}});
      break;
    case Request::CONSTRAINT_NOT_SET:
      break;
  }
}

}  // namespace

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
  grpc_constraint(request, options);
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
