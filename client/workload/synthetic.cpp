#include <random>

#include "client/workload/lengths.h"
#include "client/workload/workload.h"

namespace kvs::client {

std::vector<RequestSpec> synthetic_workload(const BenchOptions& o, int64_t count) {
  std::mt19937_64 rng(o.seed);
  std::vector<RequestSpec> specs(static_cast<size_t>(count));
  for (RequestSpec& spec : specs) {
    spec.expected_prompt_tokens = sample_length(o.length_distribution, o.input_len, o.input_len_range, rng);
    spec.max_tokens = sample_length(o.length_distribution, o.output_len, o.output_len_range, rng);
    spec.prompt = random_words(spec.expected_prompt_tokens, rng);
  }
  return specs;
}

std::vector<RequestSpec> shared_prefix_workload(const BenchOptions& o, int64_t count) {
  std::mt19937_64 rng(o.seed);
  std::vector<std::string> prefixes;
  for (int64_t g = 0; g < o.num_prefix_groups; ++g) {
    // A distinct first word per group so no two groups share a first block.
    prefixes.push_back("Group " + std::to_string(g) + ": " + random_words(o.prefix_len - 3, rng) + "\n");
  }
  std::vector<RequestSpec> specs(static_cast<size_t>(count));
  for (size_t i = 0; i < specs.size(); ++i) {
    RequestSpec& spec = specs[i];
    spec.system_prompt = prefixes[i % prefixes.size()];
    const int64_t suffix = sample_length(o.length_distribution, o.input_len, o.input_len_range, rng);
    spec.prompt = random_words(suffix, rng);
    spec.expected_prompt_tokens = o.prefix_len + suffix;
    spec.max_tokens = sample_length(o.length_distribution, o.output_len, o.output_len_range, rng);
  }
  return specs;
}

}  // namespace kvs::client
