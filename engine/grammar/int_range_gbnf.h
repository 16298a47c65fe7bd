#pragma once
// Internal to kvs_grammar: a GBNF expression for the decimal integers in a
// range (JSON Schema integer minimum / maximum), exact.
#include <cstdint>
#include <string>

namespace kvs::grammar {

// Magnitudes up to this (18 digits) are what the integer rules produce; a
// missing bound means this one.
constexpr int64_t kMaxIntMagnitude = 999999999999999999;

// Matches the canonical decimal text (optional '-', no leading zeros, no
// "-0") of every integer in [lo, hi]; both within +-kMaxIntMagnitude and
// lo <= hi (the caller checks).
std::string int_range_gbnf(int64_t lo, int64_t hi);

}  // namespace kvs::grammar
