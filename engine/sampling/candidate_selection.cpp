#include "engine/sampling/candidate_selection.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "engine/errors.h"

namespace kvs::sampling {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// Top-p histogram: bins of kBinWidth nats below the max logit; the last bin
// also holds everything further down.
constexpr int kNumBins = 256;
constexpr float kBinWidth = 0.125f;

struct MoreProbable {
  const float* logits;
  bool operator()(int32_t a, int32_t b) const {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  }
};

float max_logit(const float* logits, int64_t vocab_size) {
  float best = kMinusInfinity;
  for (int64_t i = 0; i < vocab_size; ++i) best = std::max(best, logits[i]);
  if (best == kMinusInfinity) throw Error("sampler: every logit is -inf; nothing can be sampled");
  return best;
}

int bin_of(float logit, float max) {
  const float bin = (max - logit) * (1.0f / kBinWidth);
  return bin < static_cast<float>(kNumBins - 1) ? static_cast<int>(bin) : kNumBins - 1;
}

// The k most probable ids, most probable first. One pass keeping a heap of the
// best k so far (its front is the least probable of them): O(vocab) compares plus
// O(log k) per improvement, which random-order rows rarely need.
void top_k_ids(const float* logits, int64_t vocab_size, int32_t k, std::vector<int32_t>& ids) {
  const MoreProbable more_probable{logits};
  ids.clear();
  for (int32_t i = 0; i < vocab_size; ++i) {
    if (static_cast<int32_t>(ids.size()) < k) {
      ids.push_back(i);
      std::push_heap(ids.begin(), ids.end(), more_probable);
    } else if (more_probable(i, ids.front())) {
      std::pop_heap(ids.begin(), ids.end(), more_probable);
      ids.back() = i;
      std::push_heap(ids.begin(), ids.end(), more_probable);
    }
  }
  std::sort(ids.begin(), ids.end(), more_probable);
}

// Ids that may belong to the top-p nucleus of the whole row, most probable first,
// already cut to min-p: every id in the histogram bins that the nucleus reaches.
// Sets `total` to the sum of exp(logit - max) over the row (top-p's normaliser).
void nucleus_superset(const float* logits, int64_t vocab_size, float max, float top_p,
                      float min_logit, std::vector<int32_t>& ids, double& total) {
  std::array<double, kNumBins> mass{};
  total = 0.0;
  for (int64_t i = 0; i < vocab_size; ++i) {
    const double weight = std::exp(logits[i] - max);
    mass[static_cast<size_t>(bin_of(logits[i], max))] += weight;
    total += weight;
  }
  const double threshold = static_cast<double>(top_p) * total;
  int last_bin = 0;
  for (double cumulative = mass[0]; cumulative < threshold && last_bin < kNumBins - 1;) {
    cumulative += mass[static_cast<size_t>(++last_bin)];
  }
  ids.clear();
  for (int64_t i = 0; i < vocab_size; ++i) {
    if (logits[i] >= min_logit && bin_of(logits[i], max) <= last_bin) {
      ids.push_back(static_cast<int32_t>(i));
    }
  }
  std::sort(ids.begin(), ids.end(), MoreProbable{logits});
}

// Cuts sorted `ids` to the shortest prefix whose weight reaches top_p * total
// (all of them when rounding leaves the sum just short).
void cut_to_nucleus(const float* logits, float max, float top_p, double total,
                    std::vector<int32_t>& ids) {
  const double threshold = static_cast<double>(top_p) * total;
  double cumulative = 0.0;
  for (size_t n = 0; n < ids.size(); ++n) {
    cumulative += std::exp(logits[ids[n]] - max);
    if (cumulative >= threshold) {
      ids.resize(n + 1);
      return;
    }
  }
}

}  // namespace

void select_candidates(const float* logits, int64_t vocab_size, int32_t top_k, float top_p,
                       float min_p, std::vector<int32_t>& ids, std::vector<float>& weights) {
  const float max = max_logit(logits, vocab_size);
  // min-p in logit space: p_i >= min_p * p_max  <=>  logit_i >= max + log(min_p).
  const float min_logit = min_p > 0.0f ? max + std::log(min_p) : kMinusInfinity;
  const bool use_top_p = top_p < 1.0f;
  // NOTE: min-p keeps a most-probable-first prefix, as top-k and top-p do, and
  // does not depend on renormalisation; so dropping its tokens before top-p
  // leaves the same final set, provided top-p's total is taken first.
  const auto below_min_p = [&](int32_t id) { return !(logits[id] >= min_logit); };
  if (top_k > 0 && top_k < vocab_size) {
    top_k_ids(logits, vocab_size, top_k, ids);
    double total = 0.0;
    if (use_top_p) {
      for (const int32_t id : ids) total += std::exp(logits[id] - max);
    }
    ids.erase(std::remove_if(ids.begin(), ids.end(), below_min_p), ids.end());
    if (use_top_p) cut_to_nucleus(logits, max, top_p, total, ids);
  } else if (use_top_p) {
    double total = 0.0;
    nucleus_superset(logits, vocab_size, max, top_p, min_logit, ids, total);
    cut_to_nucleus(logits, max, top_p, total, ids);
  } else {
    ids.clear();
    for (int64_t i = 0; i < vocab_size; ++i) {
      if (logits[i] >= min_logit) ids.push_back(static_cast<int32_t>(i));
    }
  }
  weights.resize(ids.size());
  size_t kept = 0;
  for (const int32_t id : ids) {
    const float weight = std::exp(logits[id] - max);
    if (weight > 0.0f) {
      ids[kept] = id;
      weights[kept++] = weight;
    }
  }
  ids.resize(kept);
  weights.resize(kept);
}

}  // namespace kvs::sampling
