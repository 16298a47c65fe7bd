#include "engine/sampling/penalties.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"

namespace kvs::sampling {
namespace {

void check_ids(const std::vector<int32_t>& tokens, int64_t vocab_size, const char* which) {
  for (const int32_t id : tokens) {
    if (id < 0 || id >= vocab_size) {
      throw InvalidArgument(std::string("sampler: ") + which + " token id " + std::to_string(id) +
                            " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    }
  }
}

float apply_repetition(float logit, float penalty) {
  return logit > 0.0f ? logit / penalty : logit * penalty;
}

void apply_repetition_penalty(float* logits, int64_t vocab_size,
                              const std::vector<int32_t>& prompt_tokens,
                              const std::vector<int32_t>& output_tokens, float penalty,
                              std::vector<uint64_t>& seen_bits) {
  seen_bits.assign(static_cast<size_t>((vocab_size + 63) / 64), 0);
  for (const std::vector<int32_t>* tokens : {&prompt_tokens, &output_tokens}) {
    for (const int32_t id : *tokens) {
      uint64_t& word = seen_bits[static_cast<size_t>(id) / 64];
      const uint64_t bit = uint64_t{1} << (id % 64);
      if (word & bit) continue;
      word |= bit;
      logits[id] = apply_repetition(logits[id], penalty);
    }
  }
}

void apply_output_penalties(float* logits, const std::vector<int32_t>& output_tokens,
                            float frequency_penalty, float presence_penalty,
                            std::vector<int32_t>& sorted_output) {
  sorted_output.assign(output_tokens.begin(), output_tokens.end());
  std::sort(sorted_output.begin(), sorted_output.end());
  for (size_t begin = 0; begin < sorted_output.size();) {
    size_t end = begin + 1;
    while (end < sorted_output.size() && sorted_output[end] == sorted_output[begin]) ++end;
    float& logit = logits[sorted_output[begin]];
    logit -= frequency_penalty * static_cast<float>(end - begin);
    logit -= presence_penalty;
    begin = end;
  }
}

}  // namespace

void apply_penalties(float* logits, int64_t vocab_size, const std::vector<int32_t>& prompt_tokens,
                     const std::vector<int32_t>& output_tokens, const SamplingParams& params,
                     std::vector<uint64_t>& seen_bits, std::vector<int32_t>& sorted_output) {
  const bool repetition = params.repetition_penalty != 1.0f;
  const bool output_penalties = params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
  if (!repetition && !output_penalties) return;
  check_ids(output_tokens, vocab_size, "output");
  if (repetition) {
    check_ids(prompt_tokens, vocab_size, "prompt");
    apply_repetition_penalty(logits, vocab_size, prompt_tokens, output_tokens,
                             params.repetition_penalty, seen_bits);
  }
  if (output_penalties) {
    apply_output_penalties(logits, output_tokens, params.frequency_penalty, params.presence_penalty,
                           sorted_output);
  }
}

}  // namespace kvs::sampling
