#pragma once
// Repetition, presence and frequency penalties on one row of logits, kept
// incrementally for one sequence.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/sampling/sampler.h"

namespace kvs::sampling {

// What the penalties need to know about a sequence, brought up to date with
// each call instead of recomputed: the distinct ids seen in prompt or output
// (repetition) and the count of each output id (frequency, presence).
//
// apply() applies, in this order (vLLM's):
//   repetition (CTRL): every distinct id in the prompt or output gets
//     logit / repetition_penalty when logit > 0, else logit * repetition_penalty;
//   frequency + presence (OpenAI): every id seen c > 0 times in the output gets
//     logit -= frequency_penalty * c, then logit -= presence_penalty.
// Neutral penalties (1, 0, 0) cost nothing and keep no state.
//
// Incremental: a call whose prompt equals the last call's and whose output
// extends it absorbs only the new output tokens (the check is a comparison of
// the ids, far cheaper than the penalties' own work, so any caller is
// correct); anything else starts over. Cost per call: O(prompt + output)
// integer comparisons, plus O(new tokens) to absorb them and O(distinct ids
// seen) to apply. Throws InvalidArgument for an id outside [0, vocab_size)
// among the tokens a penalty reads (and then forgets its state).
// Not thread-safe: one per sequence (Sampler owns it).
class PenaltyState {
 public:
  void apply(float* logits, int64_t vocab_size, TokenSpan prompt, TokenSpan output, const SamplingParams& params);

 private:
  void reset(int64_t vocab_size);
  void absorb(int32_t id, int64_t vocab_size, bool output, const char* which);

  int64_t vocab_size_ = 0;
  std::vector<int32_t> prompt_, output_;          // what has been absorbed, for the extension check
  std::vector<uint64_t> seen_bits_;               // repetition: one bit per vocabulary id
  std::vector<int32_t> seen_ids_;                 // repetition: the distinct ids, in first-seen order
  std::unordered_map<int32_t, int32_t> counts_;   // frequency / presence: output id -> occurrences
};

}  // namespace kvs::sampling
