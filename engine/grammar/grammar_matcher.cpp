// CompiledGrammar and GrammarMatcher (grammar_matcher.h).
#include "engine/grammar/grammar_matcher.h"

#include "engine/grammar/byte_walk.h"
#include "engine/grammar/completion_distance.h"
#include "engine/grammar/grammar_ir.h"
#include "engine/grammar/mask_cache.h"
#include "engine/grammar/mask_walk.h"
#include "engine/grammar/parse_stacks.h"
#include "engine/grammar/token_vocabulary_impl.h"

namespace kvs::grammar {

CompiledGrammar::CompiledGrammar(std::shared_ptr<const Grammar> grammar,
                                 std::shared_ptr<const TokenVocabulary> vocabulary)
    : grammar_(std::move(grammar)),
      vocabulary_(std::move(vocabulary)),
      cache_(std::make_unique<MaskCache>(*grammar_, *vocabulary_)),
      distance_(std::make_unique<const CompletionDistance>(*grammar_)) {}

CompiledGrammar::~CompiledGrammar() = default;

struct GrammarMatcher::State {
  WalkState walk;
};

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> compiled) : compiled_(std::move(compiled)) {
  auto state = std::make_shared<State>();
  state->walk.stacks = initial_stacks(compiled_->grammar());
  state_ = std::move(state);
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  if (bytes.empty()) return true;
  const Grammar& g = compiled_->grammar();
  thread_local WalkState scratch[2];
  const WalkState* cur = &state_->walk;
  for (size_t i = 0; i < bytes.size(); ++i) {
    WalkState& next = scratch[i & 1];
    if (!step_byte(g, *cur, static_cast<uint8_t>(bytes[i]), /*local=*/false, next)) return false;
    cur = &next;
  }
  auto state = std::make_shared<State>();
  state->walk = *cur;
  state_ = std::move(state);
  return true;
}

bool GrammarMatcher::accept_token(int32_t id) {
  const TokenVocabulary& v = compiled_->vocabulary();
  if (id < 0 || id >= v.size() || !v.eligible[id]) return false;
  return accept_bytes(v.bytes[id]);
}

bool GrammarMatcher::can_terminate() const {
  return state_->walk.remaining == 0 && state_->walk.stacks.has_empty_stack();
}

bool GrammarMatcher::is_complete() const {
  if (!can_terminate()) return false;
  const Grammar& g = compiled_->grammar();
  const StackSet& stacks = state_->walk.stacks;
  for (size_t i = 0; i < stacks.size(); ++i) {
    const auto s = stacks.stack(i);
    if (!s.empty() && g.char_classes[g.elements[s.back()].value].nonempty()) return false;
  }
  return true;
}

void GrammarMatcher::fill_next_token_mask(std::vector<uint64_t>& mask) const {
  const Grammar& g = compiled_->grammar();
  const TokenVocabulary& v = compiled_->vocabulary();
  mask.assign(v.mask_words(), 0);
  const WalkState& walk = state_->walk;
  auto set = [&](int32_t id, TokenOutcome o) {
    if (o == TokenOutcome::kAccepted) mask[id >> 6] |= uint64_t{1} << (id & 63);
  };
  if (walk.remaining != 0) {
    // Inside a character (a token ended mid-UTF-8): only tokens that start
    // with a continuation byte can follow; walk those from the full state.
    walk_tokens(g, v, walk, /*local=*/false, /*all=*/false, v.continuation, set);
    return;
  }
  // Accepted sets of every stack's cache entry, then each stack's uncertain
  // tokens (not yet accepted) walked from that whole stack.
  thread_local std::vector<std::shared_ptr<const MaskEntry>> entries;
  entries.assign(walk.stacks.size(), nullptr);
  for (size_t i = 0; i < walk.stacks.size(); ++i) {
    const auto s = walk.stacks.stack(i);
    if (s.empty()) continue;
    entries[i] = compiled_->cache().entry(s);
    const std::vector<uint64_t>& accepted = entries[i]->accepted;
    for (size_t w = 0; w < mask.size(); ++w) mask[w] |= accepted[w];
  }
  thread_local std::vector<uint32_t> todo;
  thread_local WalkState start;
  for (size_t i = 0; i < walk.stacks.size(); ++i) {
    if (!entries[i] || entries[i]->uncertain.empty()) continue;
    todo.clear();
    for (uint32_t idx : entries[i]->uncertain) {
      const int32_t id = v.sorted[idx];
      if (!((mask[id >> 6] >> (id & 63)) & 1)) todo.push_back(idx);
    }
    if (todo.empty()) continue;
    start.stacks.clear();
    start.stacks.add(walk.stacks.stack(i));
    walk_tokens(g, v, start, /*local=*/false, /*all=*/false, todo, set);
  }
  entries.clear();
}

uint64_t GrammarMatcher::min_completion_bytes() const { return compiled_->distance().of(state_->walk); }

void GrammarMatcher::fill_shortest_completion_mask(std::vector<uint64_t>& mask) const {
  const Grammar& g = compiled_->grammar();
  const TokenVocabulary& v = compiled_->vocabulary();
  const CompletionDistance& distance = compiled_->distance();
  mask.assign(v.mask_words(), 0);
  const uint64_t now = distance.of(state_->walk);
  if (now == 0) return;
  thread_local WalkState next;
  for (int byte = 0; byte < 256; ++byte) {
    const int32_t id = v.byte_token[static_cast<size_t>(byte)];
    if (id < 0) continue;
    if (step_byte(g, state_->walk, static_cast<uint8_t>(byte), /*local=*/false, next) && distance.of(next) + 1 == now) {
      mask[id >> 6] |= uint64_t{1} << (id & 63);
    }
  }
}

std::optional<std::string> GrammarMatcher::shortest_completion(size_t max_bytes) const {
  const Grammar& g = compiled_->grammar();
  const CompletionDistance& distance = compiled_->distance();
  uint64_t left = distance.of(state_->walk);
  if (left > max_bytes) return std::nullopt;
  std::string out;
  WalkState cur = state_->walk;
  WalkState next;
  while (left > 0) {
    // The lowest byte that keeps it shortest: read off the stacks at a
    // character boundary; inside a character, the lowest continuation byte.
    int byte = distance.next_shortest_byte(g, cur);
    if (byte >= 0 && !(step_byte(g, cur, static_cast<uint8_t>(byte), /*local=*/false, next) &&
                       distance.of(next) + 1 == left)) {
      byte = -1;  // not expected: fall back to trying every byte
    }
    if (byte < 0) {
      for (byte = cur.remaining != 0 ? 0x80 : 0; byte < 256; ++byte) {
        if (step_byte(g, cur, static_cast<uint8_t>(byte), /*local=*/false, next) && distance.of(next) + 1 == left) break;
      }
    }
    if (byte == 256) return std::nullopt;  // unreachable for a checked grammar (some byte always starts one)
    out += static_cast<char>(byte);
    std::swap(cur, next);
    --left;
  }
  return out;
}

int64_t GrammarMatcher::completion_tokens(size_t max_bytes, std::vector<uint64_t>* mask) const {
  const TokenVocabulary& v = compiled_->vocabulary();
  if (mask != nullptr) mask->assign(v.mask_words(), 0);
  const std::optional<std::string> text = shortest_completion(max_bytes);
  if (!text) return -1;
  thread_local std::vector<int32_t> first;
  const int64_t n = v.fewest_tokens(*text, mask != nullptr ? &first : nullptr);
  if (mask != nullptr && n > 0) {
    for (int32_t id : first) (*mask)[id >> 6] |= uint64_t{1} << (id & 63);
  }
  return n;
}

}  // namespace kvs::grammar
