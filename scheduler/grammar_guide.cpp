#include "scheduler/grammar_guide.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace kvs {

void GrammarGuide::add(uint64_t id, std::shared_ptr<const grammar::CompiledGrammar> grammar) {
  if (grammar == nullptr) return;
  matchers_.insert_or_assign(id, grammar::GrammarMatcher(std::move(grammar)));
}

void GrammarGuide::remove(uint64_t id) { matchers_.erase(id); }

GrammarGuide::Verdict GrammarGuide::mask(uint64_t id, float* logits, int64_t vocab,
                                         const std::vector<int32_t>& stop_ids, int32_t& stop_token) {
  const auto start = std::chrono::steady_clock::now();
  const grammar::GrammarMatcher& matcher = matchers_.at(id);
  stop_token = stop_ids.empty() ? -1 : stop_ids.front();
  Verdict verdict = Verdict::kSample;
  if (matcher.is_complete()) {
    verdict = Verdict::kForceStop;
  } else {
    matcher.fill_next_token_mask(bits_);
    const bool can_end = matcher.can_terminate() && !stop_ids.empty();
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
        if (!(can_end && std::find(stop_ids.begin(), stop_ids.end(), token) != stop_ids.end())) {
          logits[token] = -HUGE_VALF;
        }
      }
    }
    if (!any) verdict = matcher.can_terminate() ? Verdict::kForceStop : Verdict::kDeadEnd;
  }
  mask_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++num_masks_;
  return verdict;
}

bool GrammarGuide::advance(uint64_t id, int32_t token) {
  const auto it = matchers_.find(id);
  if (it == matchers_.end()) return true;
  return it->second.accept_token(token);
}

}  // namespace kvs
