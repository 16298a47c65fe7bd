#include "server/serving/choice_builder.h"

#include <string>

#include "server/api/api_error.h"
#include "server/serving/kv_policy_request.h"

namespace kvs {

void add_choices(const ServingContext& context, const GenerationOptions& options, const std::vector<int32_t>& prompt,
                 std::vector<ChoiceSpec>& choices, std::shared_ptr<const grammar::CompiledGrammar> grammar) {
  const int64_t prompt_len = static_cast<int64_t>(prompt.size());
  const int64_t capacity = context.max_tokens_capacity;
  if (prompt_len >= capacity) {
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(capacity) + " tokens; the prompt has " +
                       std::to_string(prompt_len) + " tokens.",
                   "prompt", "context_length_exceeded");
  }
  const int64_t max_tokens = effective_max_tokens(context.limits, options, capacity - prompt_len);
  if (prompt_len + max_tokens > capacity) {
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(capacity) + " tokens; you requested " +
                       std::to_string(prompt_len + max_tokens) + " tokens (" + std::to_string(prompt_len) +
                       " in the prompt, " + std::to_string(max_tokens) + " for the completion).",
                   "max_tokens", "context_length_exceeded");
  }
  const int64_t vocab = context.bundle.tokenizer->vocab_size();
  for (int32_t id : prompt) {
    if (id >= vocab) throw ApiError(400, "prompt token id " + std::to_string(id) + " is outside the vocabulary", "prompt");
  }
  for (const auto& [id, bias] : options.sampling.logit_bias) {
    if (id >= vocab) {
      throw ApiError(400, "logit_bias token id " + std::to_string(id) + " is outside the vocabulary (" +
                              std::to_string(vocab) + " tokens)", "logit_bias");
    }
  }
  const std::optional<KvPolicySpec> kv_policy =
      resolve_kv_policy(options.kv_policy, options.kv_budget, context.engine.config().kv_policy);
  for (int64_t j = 0; j < options.n; ++j) {
    ChoiceSpec spec;
    spec.request.prompt_token_ids = prompt;
    spec.request.max_tokens = max_tokens;
    spec.request.sampling = options.sampling;
    if (options.sampling.has_seed) spec.request.sampling.seed = options.sampling.seed + static_cast<uint64_t>(j);
    spec.request.stop_token_ids = options.stop_token_ids;
    spec.request.priority = options.priority;
    spec.request.kv_policy = kv_policy;
    spec.request.grammar = grammar;
    if (!options.ignore_eos) {
      for (int32_t id : context.bundle.stop_token_ids()) spec.request.stop_token_ids.push_back(id);
    }
    spec.stop = options.stop;
    spec.include_stop_str = options.include_stop_str_in_output;
    spec.min_tokens = options.sampling.min_tokens;
    spec.counts_prompt = j == 0;
    spec.want_logprobs = options.logprobs;
    spec.request.num_logprobs = options.logprobs ? static_cast<int32_t>(options.top_logprobs) : -1;
    choices.push_back(std::move(spec));
  }
}

std::shared_ptr<const grammar::CompiledGrammar> request_grammar(const ServingContext& context,
                                                               const GenerationOptions& options) {
  if (!options.constraint) return nullptr;
  if (!context.grammars) throw ApiError(400, "output constraints are not available on this server", options.constraint_param);
  return compile_constraint(*context.grammars, *options.constraint, options.constraint_param);
}

}  // namespace kvs
