#pragma once
// Internal to kvs_grammar: the decimal integers divisible by k (JSON Schema
// "multipleOf" on integers), as a digit automaton: one rule per remainder.
#include <cstdint>
#include <string>
#include <vector>

namespace kvs::grammar {

constexpr uint32_t kMaxMultipleOf = 1000;

struct MultipleOfGbnf {
  std::string start;                // expression for the whole number
  std::vector<std::string> states;  // states[r]: body of rule state_names[r]
};

// Canonical decimal integers (optional '-', no leading zeros, no "-0") that
// are multiples of k (1 <= k <= kMaxMultipleOf). state_names[r] (k names) are
// the caller's rule names for "digits still to come after a prefix whose
// value is r modulo k"; state r == 0 may end.
MultipleOfGbnf multiple_of_gbnf(uint32_t k, const std::vector<std::string>& state_names);

}  // namespace kvs::grammar
