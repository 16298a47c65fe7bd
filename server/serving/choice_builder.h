#pragma once
// One prompt + generation options -> the engine choices of one API request.
// Shared by the HTTP and gRPC front ends.
#include <cstdint>
#include <memory>
#include <vector>

#include "server/api/openai_types.h"
#include "server/generation/generation_run.h"
#include "server/serving/serving_context.h"

namespace kvs {

// Appends options.n choices for `prompt` (choice j gets seed + j when a seed
// is set). max_tokens unset = up to the context, capped at
// context.limits.max_tokens when that is set. Throws ApiError 400 (code
// "context_length_exceeded") when the prompt or prompt + max_tokens does not
// fit, a token id is outside the vocabulary, or the request's KV policy is bad
// (see resolve_kv_policy). `grammar` (shared by every choice; null = free
// text) is the request's compiled output constraint (request_grammar).
void add_choices(const ServingContext& context, const GenerationOptions& options, const std::vector<int32_t>& prompt,
                 std::vector<ChoiceSpec>& choices,
                 std::shared_ptr<const grammar::CompiledGrammar> grammar = nullptr);

// The compiled grammar of options.constraint (nullptr when unset): 400 naming
// options.constraint_param when it does not compile (compile_constraint).
std::shared_ptr<const grammar::CompiledGrammar> request_grammar(const ServingContext& context,
                                                               const GenerationOptions& options);

}  // namespace kvs
