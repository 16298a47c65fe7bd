#pragma once
// Prompt-lookup drafting for speculative decoding: proposes the tokens that
// followed the most recent earlier occurrence of the sequence's last n tokens.
#include <cstdint>
#include <vector>

namespace kvs {

// Tries n = max_ngram down to min_ngram (both >= 1): finds the latest start
// j < tokens.size() - n with tokens[j, j + n) == the last n tokens, and
// returns up to num_draft tokens following it (tokens[j + n, ...), never past
// the end of `tokens`). Empty when no n matches or num_draft <= 0. Pure;
// O(tokens.size() * max_ngram) per call.
std::vector<int32_t> propose_ngram_draft(const std::vector<int32_t>& tokens, int64_t max_ngram, int64_t min_ngram,
                                         int64_t num_draft);

}  // namespace kvs
