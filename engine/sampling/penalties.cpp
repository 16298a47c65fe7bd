#include "engine/sampling/penalties.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"

namespace kvs::sampling {
namespace {

float apply_repetition(float logit, float penalty) { return logit > 0.0f ? logit / penalty : logit * penalty; }

bool same_ids(const std::vector<int32_t>& absorbed, const int32_t* ids, size_t n) {
  return n >= absorbed.size() && std::equal(absorbed.begin(), absorbed.end(), ids);
}

}  // namespace

void PenaltyState::reset(int64_t vocab_size) {
  vocab_size_ = vocab_size;
  prompt_.clear();
  output_.clear();
  seen_bits_.assign(static_cast<size_t>((vocab_size + 63) / 64), 0);
  seen_ids_.clear();
  counts_.clear();
}

void PenaltyState::absorb(int32_t id, int64_t vocab_size, bool output, const char* which) {
  if (id < 0 || id >= vocab_size) {
    vocab_size_ = 0;  // start over next time
    throw InvalidArgument(std::string("sampler: ") + which + " token id " + std::to_string(id) +
                          " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
  }
  uint64_t& word = seen_bits_[static_cast<size_t>(id) / 64];
  const uint64_t bit = uint64_t{1} << (id % 64);
  if ((word & bit) == 0) {
    word |= bit;
    seen_ids_.push_back(id);
  }
  if (output) ++counts_[id];
}

void PenaltyState::apply(float* logits, int64_t vocab_size, TokenSpan prompt, TokenSpan output,
                         const SamplingParams& params) {
  const bool repetition = params.repetition_penalty != 1.0f;
  const bool output_penalties = params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
  if (!repetition && !output_penalties) return;
  // NOTE: the prompt is absorbed even when only the output penalties are on
  // (its ids are checked the same way); repetition reads seen_ids_.
  if (vocab_size != vocab_size_ || prompt.size != prompt_.size() ||
      !same_ids(prompt_, prompt.data, prompt.size) || !same_ids(output_, output.data, output.size)) {
    reset(vocab_size);
    for (size_t i = 0; i < prompt.size; ++i) absorb(prompt.data[i], vocab_size, false, "prompt");
    prompt_.assign(prompt.data, prompt.data + prompt.size);
  }
  for (size_t i = output_.size(); i < output.size; ++i) {
    absorb(output.data[i], vocab_size, true, "output");
    output_.push_back(output.data[i]);
  }
  if (repetition) {
    for (const int32_t id : seen_ids_) logits[id] = apply_repetition(logits[id], params.repetition_penalty);
  }
  if (output_penalties) {
    for (const auto& [id, count] : counts_) {
      float& logit = logits[id];
      logit -= params.frequency_penalty * static_cast<float>(count);
      logit -= params.presence_penalty;
    }
  }
}

}  // namespace kvs::sampling
