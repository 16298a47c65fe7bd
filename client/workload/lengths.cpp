#include "client/workload/lengths.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace kvs::client {
namespace {

// Frequent words that are single tokens (with the leading space) in common
// byte-level BPE vocabularies.
constexpr const char* kWords[] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
    "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they",
    "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more",
    "when", "will", "would", "who", "so", "no", "time", "people", "water", "year", "day", "world",
    "house", "school", "city", "music", "family", "river", "light", "book", "story", "game", "road",
    "green", "small", "large", "old", "new", "good", "great", "long", "little", "right", "high",
    "open", "study", "food", "place", "work", "life", "line", "part", "name", "hand", "state", "word"};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

}  // namespace

int64_t sample_length(LengthDistribution distribution, int64_t mean, double range, std::mt19937_64& rng) {
  double value = static_cast<double>(mean);
  if (distribution == LengthDistribution::kUniform && range > 0) {
    std::uniform_real_distribution<double> u(mean * (1 - range), mean * (1 + range));
    value = u(rng);
  } else if (distribution == LengthDistribution::kNormal && range > 0) {
    std::normal_distribution<double> n(static_cast<double>(mean), range * mean);
    value = n(rng);
  }
  return std::max<int64_t>(1, std::llround(value));
}

std::string random_words(int64_t num_tokens, std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> pick(0, kNumWords - 1);
  std::string text;
  text.reserve(static_cast<size_t>(num_tokens) * 6);
  for (int64_t i = 0; i < num_tokens; ++i) {
    if (i > 0) text += ' ';
    text += kWords[pick(rng)];
  }
  return text;
}

int64_t estimate_tokens(const std::string& text) { return std::max<int64_t>(1, (text.size() + 3) / 4); }

}  // namespace kvs::client
