#pragma once
// Turns one row of logits into the next token.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <utility>
#include <vector>

namespace kvs {

// A read-only run of token ids, not owned (a view into a sequence's tokens or
// a std::vector, which converts implicitly).
struct TokenSpan {
  const int32_t* data = nullptr;
  size_t size = 0;
  TokenSpan() = default;
  TokenSpan(const int32_t* ids, size_t n) : data(ids), size(n) {}
  TokenSpan(const std::vector<int32_t>& ids) : data(ids.data()), size(ids.size()) {}  // NOLINT: implicit by design
  // A braced list, for a call's duration only (the list dies with the full expression).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"  // by design: the view lives as long as the call
#endif
  TokenSpan(std::initializer_list<int32_t> ids) : data(ids.begin()), size(ids.size()) {}  // NOLINT
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
};

namespace sampling {
class PenaltyState;
}

// OpenAI / vLLM semantics. temperature == 0 means greedy (argmax, ties go to
// the lowest id). top_k <= 0 disables top-k; top_p == 1 and min_p == 0 disable
// those. repetition_penalty (>0, 1 = off) applies to every token seen in prompt
// or output (CTRL-style: positive logits divided, negative multiplied);
// presence/frequency penalties (OpenAI, -2..2) apply to tokens of the output
// so far. logit_bias (OpenAI) adds a bias in [-100, 100] to a token's raw logit
// before anything else; +100 all but forces the token, -100 all but bans it.
// min_tokens (vLLM): while fewer than min_tokens tokens have been output, the
// min_tokens_suppressed ids (EngineCore fills them with the request's stop /
// EOS ids) get -inf, so the sequence cannot end early. Ids must be in the
// vocabulary (sample() throws InvalidArgument otherwise).
// validate() throws InvalidArgument naming the bad field.
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
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> bias, each in [-100, 100]
  int64_t min_tokens = 0;                             // >= 0
  std::vector<int32_t> min_tokens_suppressed;         // ids banned until min_tokens are output

  void validate() const;
};

// Per-sequence sampler state (the RNG). Same params + same seed + same logits
// -> same tokens. Not thread-safe; one per sequence.
//
// Order of operations (vLLM's, with top-k before top-p as in Hugging Face):
// logit_bias and min_tokens -> penalties -> temperature -> top-k -> top-p (over the top-k, renormalised) ->
// min-p (tokens below min_p * the top probability dropped) -> one draw from the
// kept tokens' renormalised probabilities. NOTE: temperature < 1e-5 is greedy,
// as in vLLM (_SAMPLING_EPS); dividing by it would overflow.
class Sampler {
 public:
  // When params.has_seed is false the RNG is seeded from `fallback_seed`.
  // Throws InvalidArgument if params.validate() does.
  Sampler(const SamplingParams& params, uint64_t fallback_seed);
  // logits: [vocab_size] floats, modified in place (penalties, temperature;
  // NaN becomes -inf). prompt_tokens / output_tokens: the sequence so far, for
  // the penalties; an id outside [0, vocab_size) throws InvalidArgument. Throws
  // kvs::Error when no logit is above -inf. Cost: O(vocab + tokens) plus
  // O(k log k) for top-k, or a sort of the top-p nucleus (and its edge).
  // The penalties' bookkeeping is incremental (sampling::PenaltyState): a
  // call whose prompt is the last call's and whose output extends it only
  // absorbs the new tokens.
  int32_t sample(float* logits, int64_t vocab_size, TokenSpan prompt_tokens, TokenSpan output_tokens);
  // Speculative decoding's check of a point-mass draft (rejection sampling
  // with q = one-hot(draft)): the same transforms as sample(), then the draft
  // is accepted with probability p(draft) under the final distribution
  // (greedy: when it is the argmax); on rejection the token is drawn from p
  // with the draft removed, renormalised (max(0, p - q)). So the returned
  // token is distributed exactly as sample()'s. Arguments as sample();
  // `accepted` says whether the returned token is the draft.
  int32_t verify(float* logits, int64_t vocab_size, TokenSpan prompt_tokens, TokenSpan output_tokens, int32_t draft,
                 bool& accepted);
  const SamplingParams& params() const { return params_; }
  // Whether sample() / verify() reduce to the argmax of the raw logits:
  // greedy, with no logit_bias, no min_tokens ban and neutral penalties. The
  // engine then takes the argmax of the model's row in place, without the
  // copy sample() needs to modify it (the same token).
  bool plain_greedy() const;
  ~Sampler();
  Sampler(Sampler&&) noexcept;

 private:
  // bias, penalties; then greedy: the argmax (returned), else temperature
  // and the candidate filters into candidate_ids_ / candidate_weights_ (-1 returned).
  int32_t prepare(float* logits, int64_t vocab_size, TokenSpan prompt_tokens, TokenSpan output_tokens);
  // One draw from the candidates, skipping `excluded` (-1: none).
  int32_t draw(int32_t excluded);

  SamplingParams params_;
  std::mt19937_64 rng_;
  // Scratch reused across calls so sampling a token allocates nothing once warm.
  std::unique_ptr<sampling::PenaltyState> penalties_;  // this sequence's penalty bookkeeping
  std::vector<int32_t> candidate_ids_;
  std::vector<float> candidate_weights_;
};

}  // namespace kvs
