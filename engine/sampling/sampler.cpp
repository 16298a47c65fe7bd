#include "engine/sampling/sampler.h"

#include <cmath>
#include <limits>
#include <string>

#include "engine/errors.h"
#include "engine/sampling/candidate_selection.h"
#include "engine/sampling/penalties.h"

namespace kvs {
namespace {

// NOTE: vLLM's _SAMPLING_EPS: below this temperature sampling is greedy.
constexpr float kGreedyTemperature = 1e-5f;

// Argmax, lowest id on ties; NaN never wins.
int32_t argmax(const float* logits, int64_t vocab_size) {
  int64_t best = -1;
  float best_logit = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < vocab_size; ++i) {
    if (logits[i] > best_logit) {
      best_logit = logits[i];
      best = i;
    }
  }
  if (best < 0) throw Error("sampler: every logit is -inf or NaN; nothing can be sampled");
  return static_cast<int32_t>(best);
}

// Divides by the temperature and turns NaN into -inf (never sampled).
void scale_logits(float* logits, int64_t vocab_size, float temperature) {
  const float inverse = 1.0f / temperature;
  for (int64_t i = 0; i < vocab_size; ++i) {
    const float scaled = logits[i] * inverse;
    logits[i] = std::isnan(scaled) ? -std::numeric_limits<float>::infinity() : scaled;
  }
}

// A double in [0, 1) from the top 53 bits: the same on every platform, unlike
// std::uniform_real_distribution.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

void check_id(int32_t id, int64_t vocab_size, const char* field) {
  if (id < 0 || id >= vocab_size) {
    throw InvalidArgument(std::string("sampler: ") + field + " token id " + std::to_string(id) +
                          " is outside the vocabulary");
  }
}

// logit_bias, then min_tokens' bans.
void apply_bias(float* logits, int64_t vocab_size, const SamplingParams& params, size_t num_output_tokens) {
  for (const auto& [id, bias] : params.logit_bias) {
    check_id(id, vocab_size, "logit_bias");
    logits[id] += bias;
  }
  if (static_cast<int64_t>(num_output_tokens) >= params.min_tokens) return;
  for (const int32_t id : params.min_tokens_suppressed) {
    check_id(id, vocab_size, "min_tokens");
    logits[id] = -std::numeric_limits<float>::infinity();
  }
}

}  // namespace

Sampler::Sampler(const SamplingParams& params, uint64_t fallback_seed)
    : params_(params),
      rng_(params.has_seed ? params.seed : fallback_seed),
      penalties_(std::make_unique<sampling::PenaltyState>()) {
  params_.validate();
}

Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;

bool Sampler::plain_greedy() const {
  return params_.temperature < kGreedyTemperature && params_.logit_bias.empty() &&
         (params_.min_tokens == 0 || params_.min_tokens_suppressed.empty()) && params_.repetition_penalty == 1.0f &&
         params_.frequency_penalty == 0.0f && params_.presence_penalty == 0.0f;
}

int32_t Sampler::prepare(float* logits, int64_t vocab_size, TokenSpan prompt_tokens, TokenSpan output_tokens) {
  if (vocab_size <= 0) throw InvalidArgument("sampler: vocab_size must be positive");
  apply_bias(logits, vocab_size, params_, output_tokens.size);
  penalties_->apply(logits, vocab_size, prompt_tokens, output_tokens, params_);
  if (params_.temperature < kGreedyTemperature) return argmax(logits, vocab_size);
  scale_logits(logits, vocab_size, params_.temperature);
  sampling::select_candidates(logits, vocab_size, params_.top_k, params_.top_p, params_.min_p,
                              candidate_ids_, candidate_weights_);
  return -1;
}

int32_t Sampler::draw(int32_t excluded) {
  double total = 0.0;
  for (size_t i = 0; i < candidate_ids_.size(); ++i) {
    if (candidate_ids_[i] != excluded) total += candidate_weights_[i];
  }
  const double target = uniform01(rng_) * total;
  double cumulative = 0.0;
  int32_t last = -1;
  for (size_t i = 0; i < candidate_ids_.size(); ++i) {
    if (candidate_ids_[i] == excluded) continue;
    cumulative += candidate_weights_[i];
    last = candidate_ids_[i];
    if (target < cumulative) return last;
  }
  return last;  // target rounded up to the total
}

int32_t Sampler::sample(float* logits, int64_t vocab_size, TokenSpan prompt_tokens, TokenSpan output_tokens) {
  const int32_t greedy = prepare(logits, vocab_size, prompt_tokens, output_tokens);
  return greedy >= 0 ? greedy : draw(-1);
}

int32_t Sampler::verify(float* logits, int64_t vocab_size, TokenSpan prompt_tokens, TokenSpan output_tokens,
                        int32_t draft, bool& accepted) {
  const int32_t greedy = prepare(logits, vocab_size, prompt_tokens, output_tokens);
  if (greedy >= 0) {
    accepted = greedy == draft;
    return greedy;
  }
  double total = 0.0, draft_weight = 0.0;
  for (size_t i = 0; i < candidate_ids_.size(); ++i) {
    total += candidate_weights_[i];
    if (candidate_ids_[i] == draft) draft_weight = candidate_weights_[i];
  }
  accepted = uniform01(rng_) * total < draft_weight;
  if (accepted) return draft;
  // NOTE: draft_weight == total makes acceptance certain, so something else remains here.
  return draw(draft);
}

}  // namespace kvs
