#pragma once
// Validation of gRPC requests (proto/kvserve.proto) into typed options: the
// part of the gRPC front end that reads untrusted fields, kept apart from the
// service so it can be tested and fuzzed (fuzz/grpc_request_fuzzer.cpp)
// without a server.
#include <cstdint>
#include <vector>

#include "proto/kvserve.pb.h"
#include "server/api/openai_types.h"

namespace kvs {

// GenerateRequest -> GenerationOptions: max_tokens (0 = unset), sampling
// (0 top_p / repetition_penalty mean 1), stop strings (none empty),
// stop_token_ids, ignore_eos, logprobs, kv_policy / kv_budget, the output
// constraint (options.constraint, param "constraint.<field>"; compiled by the
// service, not here). Throws ApiError(400) naming the bad field.
GenerationOptions grpc_generation_options(const kvserve::v1::GenerateRequest& request);

// The prompt's token ids when the request carries token_ids (the text form is
// tokenized by the caller). Throws ApiError(400) on a negative id.
std::vector<int32_t> grpc_prompt_token_ids(const kvserve::v1::GenerateRequest& request);

}  // namespace kvs
