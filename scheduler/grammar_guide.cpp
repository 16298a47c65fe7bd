#include "scheduler/grammar_guide.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace kvs {
namespace {

using Clock = std::chrono::steady_clock;

// Completions longer than this are counted in bytes only (steering then
// writes them a byte at a time).
constexpr size_t kMaxCompletionBytes = 4096;

bool is_stop(const std::vector<int32_t>& stop_ids, int64_t token) {
  return std::find(stop_ids.begin(), stop_ids.end(), token) != stop_ids.end();
}

}  // namespace

void GrammarGuide::add(uint64_t id, std::shared_ptr<const grammar::CompiledGrammar> grammar) {
  if (grammar == nullptr) return;
  matchers_.insert_or_assign(id, grammar::GrammarMatcher(std::move(grammar)));
}

void GrammarGuide::remove(uint64_t id) { matchers_.erase(id); }

bool GrammarGuide::apply_bits(float* logits, int64_t vocab, const std::vector<int32_t>& stop_ids,
                              bool keep_stops) const {
  bool any = false;
  const int64_t num_words = (vocab + 63) / 64;
  for (int64_t w = 0; w < num_words; ++w) {
    const uint64_t word = w < static_cast<int64_t>(bits_.size()) ? bits_[static_cast<size_t>(w)] : 0;
    any |= word != 0;
    uint64_t banned = ~word;
    if (w == num_words - 1 && vocab % 64 != 0) banned &= (uint64_t{1} << (vocab % 64)) - 1;
    while (banned != 0) {
      const int bit = __builtin_ctzll(banned);
      banned &= banned - 1;
      const int64_t token = w * 64 + bit;
      if (!(keep_stops && is_stop(stop_ids, token))) logits[token] = -HUGE_VALF;
    }
  }
  return any;
}

GrammarGuide::Verdict GrammarGuide::mask(uint64_t id, float* logits, int64_t vocab,
                                         const std::vector<int32_t>& stop_ids, int32_t& stop_token) {
  const auto start = Clock::now();
  const grammar::GrammarMatcher& matcher = matchers_.at(id);
  stop_token = stop_ids.empty() ? -1 : stop_ids.front();
  Verdict verdict = Verdict::kSample;
  if (matcher.is_complete()) {
    verdict = Verdict::kForceStop;
  } else {
    matcher.fill_next_token_mask(bits_);
    const bool can_end = matcher.can_terminate();
    if (!apply_bits(logits, vocab, stop_ids, can_end && !stop_ids.empty())) {
      verdict = can_end ? Verdict::kForceStop : Verdict::kDeadEnd;
    }
  }
  mask_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  ++num_masks_;
  return verdict;
}

bool GrammarGuide::fits_budget(uint64_t id, int32_t token, const std::vector<int32_t>& stop_ids, int64_t budget) {
  if (is_stop(stop_ids, token)) return true;
  const auto start = Clock::now();
  grammar::GrammarMatcher after = matchers_.at(id);
  bool fits = after.accept_token(token);
  // One step for the end (a stop token, or without one the step that ends
  // the request, which must come before max_tokens cuts it as "length").
  const int64_t stop = 1;
  // Bytes bound the tokens from above (one single-byte token per byte): the
  // cheap test, and the exact count only when it is tight.
  if (fits && static_cast<int64_t>(after.min_completion_bytes()) + stop > budget - 1) {
    const int64_t tokens = after.completion_tokens(kMaxCompletionBytes);
    fits = tokens >= 0 && tokens + stop <= budget - 1;
  }
  mask_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  return fits;
}

GrammarGuide::Verdict GrammarGuide::mask_shortest(uint64_t id, float* logits, int64_t vocab,
                                                  const std::vector<int32_t>& stop_ids, int32_t& stop_token) {
  const auto start = Clock::now();
  const grammar::GrammarMatcher& matcher = matchers_.at(id);
  stop_token = stop_ids.empty() ? -1 : stop_ids.front();
  ++num_steered_;
  Verdict verdict = Verdict::kSample;
  if (matcher.can_terminate()) {
    verdict = Verdict::kForceStop;
  } else {
    // The tokens that start a fewest-token spelling of the shortest
    // completion; failing that (too long to spell out), its single bytes.
    matcher.completion_tokens(kMaxCompletionBytes, &bits_);
    if (std::all_of(bits_.begin(), bits_.end(), [](uint64_t w) { return w == 0; })) {
      matcher.fill_shortest_completion_mask(bits_);
    }
    if (!apply_bits(logits, vocab, stop_ids, false)) verdict = Verdict::kDeadEnd;
  }
  mask_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  return verdict;
}

bool GrammarGuide::advance(uint64_t id, int32_t token) {
  const auto it = matchers_.find(id);
  if (it == matchers_.end()) return true;
  return it->second.accept_token(token);
}

}  // namespace kvs
