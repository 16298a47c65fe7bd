#include "engine/grammar/multiple_of_gbnf.h"

#include <map>
#include <string>
#include <vector>

namespace kvs::grammar {
namespace {

// "[..]" of the digits in `digits` (ascending).
std::string digit_class(const std::vector<int>& digits) {
  if (digits.size() == 1) return "\"" + std::to_string(digits[0]) + "\"";
  std::string out = "[";
  for (const int d : digits) out += static_cast<char>('0' + d);
  return out + "]";
}

// Alternatives "class next-state" for digits [from, 9] after remainder r.
std::string transitions(uint32_t k, uint32_t r, int from, const std::vector<std::string>& names) {
  std::map<uint32_t, std::vector<int>> by_target;
  for (int d = from; d <= 9; ++d) by_target[(10 * r + static_cast<uint32_t>(d)) % k].push_back(d);
  std::string out;
  for (const auto& [target, digits] : by_target) {
    if (!out.empty()) out += " | ";
    out += digit_class(digits) + " " + names[target];
  }
  return out;
}

}  // namespace

MultipleOfGbnf multiple_of_gbnf(uint32_t k, const std::vector<std::string>& state_names) {
  MultipleOfGbnf out;
  for (uint32_t r = 0; r < k; ++r) {
    const std::string body = transitions(k, r, 0, state_names);
    out.states.push_back(r == 0 ? "(" + body + ")?" : body);
  }
  out.start = "(\"0\" | \"-\"? (" + transitions(k, 0, 1, state_names) + "))";
  return out;
}

}  // namespace kvs::grammar
