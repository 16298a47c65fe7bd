#include "engine/grammar/number_range_gbnf.h"

#include <algorithm>
#include <string>
#include <vector>

#include "engine/grammar/int_range_gbnf.h"

namespace kvs::grammar {
namespace {

constexpr const char* kFraction = "(\".\" [0-9]{1,17})?";

// Texts "N" / "N.f" (N >= 0 canonical) whose value u = N + 0.f satisfies
// the bounds on u; "" if none.
std::string unsigned_part(const NumberBound& lower, const NumberBound& upper) {
  std::vector<std::string> alts;
  // N in [lo, hi] with any fraction: then u in [N, N + 1).
  int64_t lo = 0;
  if (lower.value) lo = std::max<int64_t>(0, *lower.value + (lower.exclusive ? 1 : 0));
  const int64_t hi = upper.value ? *upper.value - 1 : kMaxIntMagnitude;
  if (lo <= hi) alts.push_back(int_range_gbnf(lo, hi) + " " + kFraction);
  // N == exclusive lower bound with a fraction that is not zero.
  if (lower.value && lower.exclusive && *lower.value >= 0 && (!upper.value || *upper.value > *lower.value)) {
    alts.push_back("\"" + std::to_string(*lower.value) + "\" \".\" [0-9]{0,16} [1-9]");
  }
  // N == inclusive upper bound, fraction zero.
  if (upper.value && !upper.exclusive && *upper.value >= 0 &&
      (!lower.value || *upper.value > *lower.value || (*upper.value == *lower.value && !lower.exclusive))) {
    alts.push_back("\"" + std::to_string(*upper.value) + "\" (\".\" \"0\"{1,17})?");
  }
  if (alts.empty()) return "";
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

NumberBound negated(const NumberBound& b) {
  NumberBound out = b;
  if (b.value) out.value = -*b.value;
  return out;
}

}  // namespace

std::string number_range_gbnf(const NumberBound& lower, const NumberBound& upper) {
  // v >= 0 written as u = v; v <= 0 written as "-" u with u = -v, whose
  // bounds are the mirrored ones.
  const std::string positive = unsigned_part(lower, upper);
  const std::string negative = unsigned_part(negated(upper), negated(lower));
  if (positive.empty() && negative.empty()) return "";
  if (negative.empty()) return "(" + positive + ")";
  if (positive.empty()) return "(\"-\" " + negative + ")";
  return "(" + positive + " | \"-\" " + negative + ")";
}

}  // namespace kvs::grammar
