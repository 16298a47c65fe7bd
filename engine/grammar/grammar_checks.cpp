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

// Least fixpoint: rules with some alternative whose every element holds,
// where a character class holds iff class_ok(class) and a rule reference
// holds iff that rule is in the result. Worklist over reverse references
// (linear in the grammar size, whatever the rule order).
template <class ClassOk>
std::vector<bool> fixpoint(const Grammar& g, ClassOk&& class_ok) {
  const size_t n = g.rule_alternatives.size();
  std::vector<bool> result(n, false);
  std::vector<uint32_t> pending;                 // per alternative: references not yet known to hold
  std::vector<uint32_t> owner;                   // per alternative: its rule
  std::vector<std::vector<uint32_t>> users(n);   // rule -> alternatives referencing it (once per reference)
  std::vector<uint32_t> queue;
  for (size_t r = 0; r < n; ++r) {
    for (uint32_t start : g.rule_alternatives[r]) {
      const auto alt = static_cast<uint32_t>(pending.size());
      uint32_t count = 0;
      bool possible = true;
      for_each_element(g, start, [&](uint32_t p) {
        const Element& e = g.elements[p];
        if (e.kind == Element::Kind::kChars) {
          possible = class_ok(g.char_classes[e.value]);
          return possible;
        }
        ++count;
        return true;
      });
      pending.push_back(count);
      owner.push_back(static_cast<uint32_t>(r));
      if (!possible) continue;
      for_each_element(g, start, [&](uint32_t p) {
        if (g.elements[p].kind == Element::Kind::kRule) users[g.elements[p].value].push_back(alt);
        return true;
      });
      if (count == 0 && !result[r]) {
        result[r] = true;
        queue.push_back(static_cast<uint32_t>(r));
      }
    }
  }
  while (!queue.empty()) {
    const uint32_t x = queue.back();
    queue.pop_back();
    for (uint32_t alt : users[x]) {
      if (--pending[alt] == 0 && !result[owner[alt]]) {
        result[owner[alt]] = true;
        queue.push_back(owner[alt]);
      }
    }
  }
  return result;
}

void check_productive(const Grammar& g, const std::vector<RuleOrigin>& origins, const Locator& locate) {
  const std::vector<bool> productive = fixpoint(g, [](const CharClass& c) { return c.nonempty(); });
  for (size_t r = 0; r < productive.size(); ++r) {
    if (!productive[r]) {
      throw InvalidArgument("grammar: rule '" + origins[r].user_name + "' at " + locate(origins[r].offset) +
                            " derives no finite string (recursion without a base case, or a character class that "
                            "matches nothing)");
    }
  }
}

void check_left_recursion(const Grammar& g, const std::vector<RuleOrigin>& origins, const Locator& locate) {
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
                              locate(origins[t].offset) + " (" + cycle +
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
  return fixpoint(grammar, [](const CharClass&) { return false; });
}

void check_grammar(const Grammar& grammar, const std::vector<RuleOrigin>& origins, const Locator& locate) {
  check_left_recursion(grammar, origins, locate);
  check_productive(grammar, origins, locate);
}

}  // namespace kvs::grammar
