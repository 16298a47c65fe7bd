// Left recursion and productivity checks (grammar_checks.h).
#include "engine/grammar/grammar_checks.h"

#include <cstdint>

#include "engine/errors.h"

namespace kvs::grammar {
namespace {

// Calls f(position) for each element of the alternative starting at `start`.
template <class F>
void for_each_element(const Grammar& g, uint32_t start, F&& f) {
  for (uint32_t p = start; g.elements[p].kind != Element::Kind::kEnd; ++p) {
    if (!f(p)) return;
  }
}

// Fixpoint: rules for which some alternative has every element satisfying `ok`.
template <class ElementOk>
std::vector<bool> fixpoint(const Grammar& g, ElementOk&& ok) {
  std::vector<bool> result(g.rule_alternatives.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < result.size(); ++r) {
      if (result[r]) continue;
      for (uint32_t start : g.rule_alternatives[r]) {
        bool all = true;
        for_each_element(g, start, [&](uint32_t p) {
          all = ok(g.elements[p], result);
          return all;
        });
        if (all) {
          result[r] = changed = true;
          break;
        }
      }
    }
  }
  return result;
}

void check_productive(const Grammar& g, const std::vector<RuleOrigin>& origins) {
  const std::vector<bool> productive = fixpoint(g, [&](const Element& e, const std::vector<bool>& done) {
    if (e.kind == Element::Kind::kRule) return static_cast<bool>(done[e.value]);
    return g.char_classes[e.value].nonempty();
  });
  for (size_t r = 0; r < productive.size(); ++r) {
    if (!productive[r]) {
      throw InvalidArgument("grammar: rule '" + origins[r].user_name + "' at " + origins[r].location +
                            " derives no finite string (recursion without a base case, or a character class that "
                            "matches nothing)");
    }
  }
}

void check_left_recursion(const Grammar& g, const std::vector<RuleOrigin>& origins) {
  const std::vector<bool> nullable = nullable_rules(g);
  const size_t n = g.rule_alternatives.size();
  // Edges: rule -> rules that can come first in it.
  std::vector<std::vector<uint32_t>> first(n);
  for (size_t r = 0; r < n; ++r) {
    for (uint32_t start : g.rule_alternatives[r]) {
      for_each_element(g, start, [&](uint32_t p) {
        const Element& e = g.elements[p];
        if (e.kind != Element::Kind::kRule) return false;
        first[r].push_back(e.value);
        return static_cast<bool>(nullable[e.value]);
      });
    }
  }
  // Iterative DFS with colours; a grey target closes a cycle.
  std::vector<uint8_t> colour(n, 0);  // 0 white, 1 on the path, 2 done
  std::vector<std::pair<uint32_t, size_t>> path;
  for (size_t s = 0; s < n; ++s) {
    if (colour[s] != 0) continue;
    path.push_back({static_cast<uint32_t>(s), 0});
    colour[s] = 1;
    while (!path.empty()) {
      auto& [r, next] = path.back();
      if (next == first[r].size()) {
        colour[r] = 2;
        path.pop_back();
        continue;
      }
      const uint32_t t = first[r][next++];
      if (colour[t] == 1) {
        std::vector<std::string> names;
        size_t i = 0;
        while (path[i].first != t) ++i;
        for (; i < path.size(); ++i) {
          const std::string& name = origins[path[i].first].user_name;
          if (names.empty() || names.back() != name) names.push_back(name);
        }
        names.push_back(origins[t].user_name);
        std::string cycle;
        for (size_t k = 0; k < names.size(); ++k) cycle += (k ? " -> " : "") + names[k];
        throw InvalidArgument("grammar: left recursion in rule '" + origins[t].user_name + "' at " +
                              origins[t].location + " (" + cycle +
                              "); rewrite it with right recursion or repetition");
      }
      if (colour[t] == 0) {
        colour[t] = 1;
        path.push_back({t, 0});
      }
    }
  }
}

}  // namespace

std::vector<bool> nullable_rules(const Grammar& grammar) {
  return fixpoint(grammar, [](const Element& e, const std::vector<bool>& done) {
    return e.kind == Element::Kind::kRule && done[e.value];
  });
}

void check_grammar(const Grammar& grammar, const std::vector<RuleOrigin>& origins) {
  check_left_recursion(grammar, origins);
  check_productive(grammar, origins);
}

}  // namespace kvs::grammar
