#pragma once
// Turns one row of logits into the next token.
#include <cstdint>
#include <random>
#include <vector>

namespace kvs {

// OpenAI / vLLM semantics. temperature == 0 means greedy (argmax, ties go to
// the lowest id). top_k <= 0 disables top-k; top_p == 1 and min_p == 0 disable
// those. repetition_penalty (>0, 1 = off) applies to every token seen in prompt
// or output (CTRL-style: positive logits divided, negative multiplied);
// presence/frequency penalties (OpenAI, -2..2) apply to tokens of the output
// so far. validate() throws InvalidArgument naming the bad field.
struct SamplingParams {
  float temperature = 0.0f;
  float top_p = 1.0f;
  int32_t top_k = 0;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  bool has_seed = false;
  uint64_t seed = 0;

  void validate() const;
};

// Per-sequence sampler state (the RNG). Same params + same seed + same logits
// -> same tokens. Not thread-safe; one per sequence.
class Sampler {
 public:
  // When params.has_seed is false the RNG is seeded from `fallback_seed`.
  Sampler(const SamplingParams& params, uint64_t fallback_seed);
  // logits: [vocab_size] floats, modified in place (penalties, temperature).
  // prompt_tokens / output_tokens: the sequence so far, for the penalties.
  int32_t sample(float* logits, int64_t vocab_size, const std::vector<int32_t>& prompt_tokens,
                 const std::vector<int32_t>& output_tokens);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace kvs
