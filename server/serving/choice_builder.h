#pragma once
// One prompt + generation options -> the engine choices of one API request.
// Shared by the HTTP and gRPC front ends.
#include <cstdint>
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
// (see resolve_kv_policy).
void add_choices(const ServingContext& context, const GenerationOptions& options, const std::vector<int32_t>& prompt,
                 std::vector<ChoiceSpec>& choices);

}  // namespace kvs
