#pragma once
// Internal to kvs_grammar: llama.cpp-style parse stacks over a Grammar
// (grammar_ir.h). A stack is a list of positions (indices into
// Grammar::elements), the last one the top; after advance_stack every top is a
// character class, and an empty stack means the whole sentence is complete.
// Not thread-safe objects; the Grammar is only read.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/grammar/grammar_ir.h"

namespace kvs::grammar {

// Caps that keep a pathological (very ambiguous) grammar from eating the
// server: beyond them the operation throws kvs::InvalidArgument ("grammar: ...").
constexpr size_t kMaxStacks = 4096;      // stacks in one set
constexpr size_t kMaxExpandWork = 1 << 17;  // rule expansions in one accept_code_point / initial advance

// A read-only view of positions (the project is C++17: no std::span).
struct StackView {
  const uint32_t* ptr = nullptr;
  size_t len = 0;
  StackView() = default;
  StackView(const uint32_t* p, size_t n) : ptr(p), len(n) {}
  StackView(const std::vector<uint32_t>& v) : ptr(v.data()), len(v.size()) {}  // NOLINT: implicit on purpose
  const uint32_t* begin() const { return ptr; }
  const uint32_t* end() const { return ptr + len; }
  size_t size() const { return len; }
  bool empty() const { return len == 0; }
  uint32_t back() const { return ptr[len - 1]; }
  uint32_t operator[](size_t i) const { return ptr[i]; }
  StackView last(size_t n) const { return {ptr + len - n, n}; }
};

// A set of distinct stacks, stored flat. Insertion order is kept; equality and
// hash() do not depend on it.
class StackSet {
 public:
  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  StackView stack(size_t i) const {
    const uint32_t b = i == 0 ? 0 : ends_[i - 1];
    return {data_.data() + b, ends_[i] - b};
  }
  uint64_t stack_hash(size_t i) const { return hashes_[i]; }
  bool has_empty_stack() const { return has_empty_; }
  void clear();
  // Adds `s` unless present. Throws kvs::InvalidArgument past kMaxStacks.
  void add(StackView s);
  // Order-independent hash of the set, and set equality.
  uint64_t hash() const;
  bool operator==(const StackSet& other) const;

  static uint64_t hash_of(StackView s);

 private:
  bool contains(StackView s, uint64_t h) const;
  void rebuild_index();

  std::vector<uint32_t> data_;
  std::vector<uint32_t> ends_;
  std::vector<uint64_t> hashes_;
  std::vector<uint32_t> index_;  // open addressing over hashes_ (slot = stack number + 1), used past 16 stacks
  bool has_empty_ = false;
};

// Expands `stack` (any top) until every top is a character class or the stack
// is empty, adding each result to `out`. `stack` is restored on return.
// `work` counts expansions across calls; throws kvs::InvalidArgument past kMaxExpandWork.
void advance_stack(const Grammar& grammar, std::vector<uint32_t>& stack, StackSet& out, size_t& work);

// For each non-empty stack of `in` whose top class matches `cp`: pops it, moves
// to the next element of that alternative and advances into `out`.
void accept_code_point(const Grammar& grammar, const StackSet& in, uint32_t cp, StackSet& out);

// The stacks of the grammar's start: advance of [root].
StackSet initial_stacks(const Grammar& grammar);

}  // namespace kvs::grammar
