#pragma once
// Single-sequence generation: prefill the prompt (in chunks), then decode
// token by token. The CLI's path until the serving engine loop exists; it
// uses its own KV storage with one block table.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/model/forward_model.h"
#include "engine/model/llama_model.h"
#include "engine/sampling/sampler.h"

namespace kvs {

struct GenerateOptions {
  int64_t max_tokens = 16;
  SamplingParams sampling;
  std::vector<int32_t> stop_token_ids;  // generation ends after emitting one of these
  int64_t prefill_chunk = 512;          // prompt tokens per forward step
  int64_t block_size = 16;
  kernels::KvDType kv_dtype = kernels::KvDType::F16;
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated tokens (the stop token included if one was hit)
  std::string finish_reason;    // "stop" | "length"
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;  // everything after the first generated token
};

// Runs prompt + up to max_tokens generated tokens (capped by the model's
// context length; prompt + 1 must fit or InvalidArgument is thrown).
// on_token is called with each generated token; returning false stops early
// (finish_reason "stop"). Uses the sampler's seed when one is set.
GenerateResult generate(ForwardModel& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                        const std::function<bool(int32_t)>& on_token = {});

// Logits for every prompt position ([prompt.size(), vocab]) in one prefill;
// for comparisons with reference implementations.
std::vector<float> prompt_logits(ForwardModel& model, const std::vector<int32_t>& prompt, int64_t block_size = 16,
                                 kernels::KvDType kv_dtype = kernels::KvDType::F16);

}  // namespace kvs
