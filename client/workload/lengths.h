// Length sampling for synthetic workloads. Not thread-safe (owns no state; the
// caller's std::mt19937_64 is the state).
#pragma once

#include <cstdint>
#include <random>

#include "client/options.h"

namespace kvs::client {

// A length around `mean`: fixed -> mean; uniform -> U[mean*(1-range), mean*(1+range)];
// normal -> N(mean, (range*mean)^2). Always >= 1.
int64_t sample_length(LengthDistribution distribution, int64_t mean, double range, std::mt19937_64& rng);

// Text of about `num_tokens` tokens: common English words, each one BPE token
// with its leading space in Llama/GPT-style vocabularies, so a server's token
// count is close to `num_tokens` (its usage reports the exact count).
std::string random_words(int64_t num_tokens, std::mt19937_64& rng);

// Rough token estimate for text we did not generate (about 4 characters a token).
int64_t estimate_tokens(const std::string& text);

}  // namespace kvs::client
