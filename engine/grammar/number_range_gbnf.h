#pragma once
// Internal to kvs_grammar: a GBNF expression for JSON numbers within
// integer bounds (JSON Schema "number" with minimum / maximum /
// exclusiveMinimum / exclusiveMaximum).
#include <cstdint>
#include <optional>
#include <string>

namespace kvs::grammar {

// One bound: an integer within +-kMaxIntMagnitude (int_range_gbnf.h), or none.
struct NumberBound {
  std::optional<int64_t> value;
  bool exclusive = false;
};

// Matches JSON numbers without exponent ("-"? int ("." digits)?, at most 18
// integer digits and 17 fraction digits) whose value v satisfies both
// bounds; every matched text satisfies them (a few satisfying texts, such as
// trailing zeros after an exclusive lower bound, are left out). Returns ""
// when no such text exists.
std::string number_range_gbnf(const NumberBound& lower, const NumberBound& upper);

}  // namespace kvs::grammar
