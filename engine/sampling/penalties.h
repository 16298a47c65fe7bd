#pragma once
// Repetition, presence and frequency penalties on one row of logits.
#include <cstdint>
#include <vector>

#include "engine/sampling/sampler.h"

namespace kvs::sampling {

// Applies, in this order (vLLM's):
//   repetition (CTRL): every distinct id in prompt_tokens or output_tokens gets
//     logit / repetition_penalty when logit > 0, else logit * repetition_penalty;
//   frequency + presence (OpenAI): every id seen c > 0 times in output_tokens gets
//     logit -= frequency_penalty * c, then logit -= presence_penalty.
// Neutral penalties (1, 0, 0) cost nothing. Throws InvalidArgument for an id
// outside [0, vocab_size) among the tokens a penalty reads. seen_bits /
// sorted_output are scratch reused across calls (any contents on entry).
// Cost: O(vocab / 64 + prompt + output) for repetition, O(output log output)
// for presence/frequency.
void apply_penalties(float* logits, int64_t vocab_size, const std::vector<int32_t>& prompt_tokens,
                     const std::vector<int32_t>& output_tokens, const SamplingParams& params,
                     std::vector<uint64_t>& seen_bits, std::vector<int32_t>& sorted_output);

}  // namespace kvs::sampling
