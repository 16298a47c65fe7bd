// Parse stacks (parse_stacks.h).
#include "engine/grammar/parse_stacks.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/errors.h"

namespace kvs::grammar {

uint64_t StackSet::hash_of(StackView s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  for (uint32_t v : s) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xFF51AFD7ED558CCDull;
  }
  return h ^ (h >> 33);
}

void StackSet::clear() {
  data_.clear();
  ends_.clear();
  hashes_.clear();
  index_.clear();
  has_empty_ = false;
}

bool StackSet::contains(StackView s, uint64_t h) const {
  auto same = [&](size_t i) {
    if (hashes_[i] != h) return false;
    const auto t = stack(i);
    return t.size() == s.size() && std::equal(t.begin(), t.end(), s.begin());
  };
  if (index_.empty()) {
    for (size_t i = 0; i < size(); ++i) {
      if (same(i)) return true;
    }
    return false;
  }
  const size_t mask = index_.size() - 1;
  for (size_t slot = h & mask;; slot = (slot + 1) & mask) {
    if (index_[slot] == 0) return false;
    if (same(index_[slot] - 1)) return true;
  }
}

void StackSet::rebuild_index() {
  size_t cap = 64;
  while (cap < 2 * (size() + 1)) cap *= 2;
  index_.assign(cap, 0);
  for (size_t i = 0; i < size(); ++i) {
    size_t slot = hashes_[i] & (cap - 1);
    while (index_[slot] != 0) slot = (slot + 1) & (cap - 1);
    index_[slot] = static_cast<uint32_t>(i + 1);
  }
}

void StackSet::add(StackView s) {
  const uint64_t h = hash_of(s);
  if (contains(s, h)) return;
  if (size() >= kMaxStacks) {
    throw InvalidArgument("grammar: more than " + std::to_string(kMaxStacks) +
                          " parse stacks at once (the grammar is too ambiguous)");
  }
  data_.insert(data_.end(), s.begin(), s.end());
  ends_.push_back(static_cast<uint32_t>(data_.size()));
  hashes_.push_back(h);
  if (s.empty()) has_empty_ = true;
  if (size() > 16) {
    if (index_.size() < 2 * (size() + 1)) {
      rebuild_index();
    } else {
      const size_t mask = index_.size() - 1;
      size_t slot = h & mask;
      while (index_[slot] != 0) slot = (slot + 1) & mask;
      index_[slot] = static_cast<uint32_t>(size());
    }
  }
}

uint64_t StackSet::hash() const {
  uint64_t h = size();
  for (uint64_t x : hashes_) h += x * 0x9E3779B97F4A7C15ull + (x >> 29);
  return h;
}

bool StackSet::operator==(const StackSet& other) const {
  if (size() != other.size()) return false;
  for (size_t i = 0; i < size(); ++i) {
    if (!other.contains(stack(i), hashes_[i])) return false;
  }
  return true;
}

void advance_stack(const Grammar& g, std::vector<uint32_t>& s, StackSet& out, size_t& work) {
  // Iterative depth-first expansion; each frame is one rule reference being
  // replaced by its alternatives in turn.
  struct Frame {
    uint32_t ref;        // the popped position (a rule reference)
    uint32_t next_alt;   // next alternative to try
    bool pushed_next;    // ref + 1 was pushed (not the end of its alternative)
    bool pushed_alt;     // an alternative's first position is on the stack
  };
  thread_local std::vector<Frame> frames;
  frames.clear();
  bool enter = true;
  while (true) {
    if (enter) {
      if (++work > kMaxExpandWork) {
        throw InvalidArgument("grammar: more than " + std::to_string(kMaxExpandWork) +
                              " rule expansions for one character (the grammar is too ambiguous)");
      }
      if (s.empty() || g.elements[s.back()].kind == Element::Kind::kChars) {
        out.add(s);
      } else {
        const uint32_t ref = s.back();
        s.pop_back();
        const bool next = g.elements[ref + 1].kind != Element::Kind::kEnd;
        if (next) s.push_back(ref + 1);
        frames.push_back(Frame{ref, 0, next, false});
      }
    }
    if (frames.empty()) return;
    Frame& f = frames.back();
    if (f.pushed_alt) {
      s.pop_back();
      f.pushed_alt = false;
    }
    const std::vector<uint32_t>& alts = g.rule_alternatives[g.elements[f.ref].value];
    if (f.next_alt < alts.size()) {
      const uint32_t a = alts[f.next_alt++];
      if (g.elements[a].kind != Element::Kind::kEnd) {
        s.push_back(a);
        f.pushed_alt = true;
      }
      enter = true;
    } else {
      if (f.pushed_next) s.pop_back();
      s.push_back(f.ref);
      frames.pop_back();
      enter = false;
    }
  }
}

void accept_code_point(const Grammar& g, const StackSet& in, uint32_t cp, StackSet& out) {
  thread_local std::vector<uint32_t> scratch;
  size_t work = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto s = in.stack(i);
    if (s.empty()) continue;
    const uint32_t top = s.back();
    if (!g.char_classes[g.elements[top].value].matches(cp)) continue;
    scratch.assign(s.begin(), s.end() - 1);
    if (g.elements[top + 1].kind != Element::Kind::kEnd) scratch.push_back(top + 1);
    advance_stack(g, scratch, out, work);
  }
}

StackSet initial_stacks(const Grammar& g) {
  StackSet out;
  size_t work = 0;
  // A synthetic reference to root is not in `elements`; expand root's alternatives directly.
  for (uint32_t a : g.rule_alternatives[g.root]) {
    std::vector<uint32_t> s;
    if (g.elements[a].kind != Element::Kind::kEnd) s.push_back(a);
    advance_stack(g, s, out, work);
  }
  return out;
}

}  // namespace kvs::grammar
