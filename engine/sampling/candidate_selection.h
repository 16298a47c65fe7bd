#pragma once
// Which tokens may be sampled (top-k, top-p, min-p) and with what weight.
#include <cstdint>
#include <vector>

namespace kvs::sampling {

// logits: [vocab_size], already penalised and divided by the temperature; no
// NaN (Sampler maps NaN to -inf). The filters run in this order:
//   top_k > 0 (and < vocab_size): the k largest logits (ties: lower id first);
//   top_p < 1: the shortest most-probable-first prefix of what is left whose
//     probability, renormalised over what is left, reaches top_p (so at least one);
//   min_p > 0: drops tokens whose probability is below min_p * the largest.
// Fills `ids` with the kept tokens and `weights` with exp(logit - max logit), in
// the same deterministic order: most probable first (ties: lower id first) when
// top-k or top-p is on, else ascending id. Tokens of weight 0 (logit -inf, or
// too small to represent) are never kept. Throws kvs::Error when every logit is
// -inf. Cost: O(vocab) plus O(k log k) for top-k, or for top-p without top-k
// one exp per token and a sort of the nucleus plus the tokens within 0.125 nats
// of its edge (a near-uniform row can make that most of the vocabulary).
void select_candidates(const float* logits, int64_t vocab_size, int32_t top_k, float top_p,
                       float min_p, std::vector<int32_t>& ids, std::vector<float>& weights);

}  // namespace kvs::sampling
