// parse_gbnf (grammar.h): GBNF text -> Grammar (grammar_ir.h). A recursive
// descent over the UTF-8 text; groups and repetitions become generated rules
// (x* is r ::= x r | "", x{m,n} is m copies of x then nested optionals), then
// the rules are laid out flat and checked (grammar_checks.h).
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_checks.h"
#include "engine/grammar/grammar_ir.h"

namespace kvs::grammar {
namespace {

constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxNesting = 256;  // ( groups ) inside each other (the parser recurses)

using Alternative = std::vector<Element>;

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
 public:
  Parser(std::string_view text, const GrammarLimits& limits) : src_(text), limits_(limits) {}

  std::shared_ptr<const Grammar> parse(std::string_view root_rule) {
    if (src_.size() > limits_.max_text_bytes) {
      throw InvalidArgument("grammar: text of " + std::to_string(src_.size()) + " bytes exceeds the limit of " +
                            std::to_string(limits_.max_text_bytes));
    }
    skip_space(true);
    while (pos_ < src_.size()) {
      parse_rule();
      skip_space(true);
    }
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!defined_[r] && first_use_[r] != kNoUse) {
        fail(first_use_[r], "undefined rule '" + names_[r] + "'");
      }
    }
    auto root = ids_.find(std::string(root_rule));
    if (root == ids_.end() || !defined_[root->second]) {
      throw InvalidArgument("grammar: the root rule '" + std::string(root_rule) + "' is not defined");
    }
    auto grammar = std::make_shared<Grammar>();
    grammar->root = root->second;
    grammar->rule_names = names_;
    grammar->char_classes = std::move(classes_);
    grammar->elements.reserve(element_count_ + 1);
    grammar->rule_alternatives.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (const Alternative& alt : rules_[r]) {
        grammar->rule_alternatives[r].push_back(static_cast<uint32_t>(grammar->elements.size()));
        grammar->elements.insert(grammar->elements.end(), alt.begin(), alt.end());
        grammar->elements.push_back(Element{Element::Kind::kEnd, 0});
      }
    }
    check_grammar(*grammar, origins_, [this](size_t at) { return location(at); });
    return grammar;
  }

 private:
  static constexpr size_t kNoUse = std::numeric_limits<size_t>::max();

  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw InvalidArgument("grammar: " + location(at) + ": " + what);
  }

  // "line L, column C" (1-based; the column counts code points).
  std::string location(size_t at) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < src_.size(); ++i) {
      const auto c = static_cast<unsigned char>(src_[i]);
      if (c == '\n') {
        ++line;
        column = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++column;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
  }

  std::string describe_here() const {
    if (pos_ >= src_.size()) return "end of text";
    const char c = src_[pos_];
    if (c == '\n') return "end of line";
    if (static_cast<unsigned char>(c) < 0x20) return "control character";
    return "'" + std::string(1, c) + "'";
  }

  // Spaces, tabs, comments; newlines (and \r) only when `newline_ok`.
  void skip_space(bool newline_ok) {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == ' ' || c == '\t') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else if (newline_ok && (c == '\n' || c == '\r')) {
        ++pos_;
      } else {
        return;
      }
    }
  }

  std::string parse_name() {
    const size_t start = pos_;
    while (pos_ < src_.size() && is_word_char(src_[pos_])) ++pos_;
    if (pos_ == start) fail(pos_, "expected a rule name, found " + describe_here());
    return std::string(src_.substr(start, pos_ - start));
  }

  uint32_t rule_id(const std::string& name) {
    auto [it, inserted] = ids_.try_emplace(name, static_cast<uint32_t>(rules_.size()));
    if (inserted) add_rule(name, name, pos_);
    return it->second;
  }

  void add_rule(const std::string& name, const std::string& user_name, size_t at) {
    if (rules_.size() >= limits_.max_rules) {
      fail(at, "more than " + std::to_string(limits_.max_rules) + " rules (after expanding groups and repetitions)");
    }
    rules_.emplace_back();
    names_.push_back(name);
    defined_.push_back(false);
    first_use_.push_back(kNoUse);
    origins_.push_back(RuleOrigin{user_name, at});
  }

  // A fresh rule for a group or repetition inside `parent`, defined by `alts`.
  uint32_t generated_rule(const std::string& parent, size_t at, std::vector<Alternative> alts) {
    // Not in ids_: "parent(N)" cannot collide with a name the text spells.
    const std::string name = parent + "(" + std::to_string(++generated_) + ")";
    const uint32_t id = static_cast<uint32_t>(rules_.size());
    add_rule(name, parent, at);
    rules_[id] = std::move(alts);
    defined_[id] = true;
    return id;
  }

  void count_elements(size_t n, size_t at) {
    element_count_ += n;
    if (element_count_ > limits_.max_elements) {
      fail(at, "more than " + std::to_string(limits_.max_elements) +
                   " grammar symbols (after expanding groups and repetitions)");
    }
  }

  void parse_rule() {
    const size_t start = pos_;
    const std::string name = parse_name();
    skip_space(false);
    if (src_.substr(pos_, 3) != "::=") fail(pos_, "expected '::=' after rule name '" + name + "', found " + describe_here());
    pos_ += 3;
    skip_space(true);
    const uint32_t id = rule_id(name);
    if (defined_[id]) fail(start, "rule '" + name + "' is defined twice");
    defined_[id] = true;
    origins_[id] = RuleOrigin{name, start};
    std::vector<Alternative> alts = parse_alternatives(name, false);
    rules_[id] = std::move(alts);
    skip_space(false);
    if (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') {
      fail(pos_, "unexpected " + describe_here() + " in rule '" + name + "'");
    }
  }

  std::vector<Alternative> parse_alternatives(const std::string& rule, bool nested) {
    std::vector<Alternative> alts;
    alts.push_back(parse_sequence(rule, nested));
    while (pos_ < src_.size() && src_[pos_] == '|') {
      ++pos_;
      skip_space(true);
      alts.push_back(parse_sequence(rule, nested));
    }
    return alts;
  }

  // One code point of a literal or class, escapes decoded.
  uint32_t parse_char() {
    const size_t start = pos_;
    const auto c = static_cast<unsigned char>(src_[pos_]);
    if (c == '\\') {
      if (pos_ + 1 >= src_.size()) fail(start, "unfinished escape");
      const char e = src_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'x': return parse_hex(2, start);
        case 'u': return parse_hex(4, start);
        case 'U': return parse_hex(8, start);
        case 't': return '\t';
        case 'r': return '\r';
        case 'n': return '\n';
        case '\\': case '"': case '[': case ']': case '-': case '^':
          return static_cast<uint32_t>(e);
        default:
          fail(start, std::string("unknown escape '\\") + e + "'");
      }
    }
    // UTF-8 decode.
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || pos_ + len > src_.size()) fail(start, "invalid UTF-8");
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; ++i) {
      const auto b = static_cast<unsigned char>(src_[pos_ + i]);
      if ((b & 0xC0) != 0x80) fail(start, "invalid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp > kMaxCodePoint) fail(start, "invalid UTF-8");
    pos_ += len;
    return cp;
  }

  uint32_t parse_hex(int digits, size_t start) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= src_.size()) fail(start, "expected " + std::to_string(digits) + " hex digits in escape");
      const char h = src_[pos_];
      uint32_t d;
      if (h >= '0' && h <= '9') d = h - '0';
      else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
      else fail(start, "expected " + std::to_string(digits) + " hex digits in escape");
      v = (v << 4) | d;
      ++pos_;
    }
    if (v > kMaxCodePoint) fail(start, "code point escape beyond U+10FFFF");
    return v;
  }

  Element add_class(CharClass cls) {
    cls.finish();
    classes_.push_back(std::move(cls));
    return Element{Element::Kind::kChars, static_cast<uint32_t>(classes_.size() - 1)};
  }

  void parse_literal(Alternative& seq) {
    const size_t start = pos_++;
    while (true) {
      if (pos_ >= src_.size() || src_[pos_] == '\n') fail(start, "unterminated string literal");
      if (src_[pos_] == '"') break;
      const uint32_t cp = parse_char();
      CharClass cls;
      cls.ranges.push_back({cp, cp});
      count_elements(1, start);
      seq.push_back(add_class(std::move(cls)));
    }
    ++pos_;
  }

  void parse_class(Alternative& seq) {
    const size_t start = pos_++;
    CharClass cls;
    if (pos_ < src_.size() && src_[pos_] == '^') {
      cls.negated = true;
      ++pos_;
    }
    while (true) {
      if (pos_ >= src_.size() || src_[pos_] == '\n') fail(start, "unterminated character class");
      if (src_[pos_] == ']') break;
      const uint32_t lo = parse_char();
      uint32_t hi = lo;
      if (pos_ + 1 < src_.size() && src_[pos_] == '-' && src_[pos_ + 1] != ']') {
        ++pos_;
        const size_t at = pos_;
        hi = parse_char();
        if (hi < lo) fail(at, "character range end before its start");
      }
      cls.ranges.push_back({lo, hi});
    }
    ++pos_;
    count_elements(1, start);
    seq.push_back(add_class(std::move(cls)));
  }

  uint32_t parse_count() {
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '9') {
      v = v * 10 + (src_[pos_] - '0');
      if (v > 1000000000) fail(start, "repetition count too large");
      ++pos_;
    }
    if (pos_ == start) fail(start, "expected a number in '{...}', found " + describe_here());
    return static_cast<uint32_t>(v);
  }

  // Replaces seq[last_start:] (the last item) by its repetition min..max.
  void repeat(const std::string& rule, Alternative& seq, size_t last_start, uint32_t min, uint32_t max, size_t at) {
    if (max != kUnbounded && max < min) fail(at, "repetition maximum below its minimum");
    Alternative item(seq.begin() + static_cast<std::ptrdiff_t>(last_start), seq.end());
    seq.resize(last_start);
    if (item.empty()) return;
    const uint64_t optional = max == kUnbounded ? 1 : max - min;
    // Each copy costs item.size() symbols; each optional level one rule of 3 symbols.
    if ((uint64_t{min} * item.size() + optional * 3 > limits_.max_elements) ||
        optional + rules_.size() > limits_.max_rules) {
      fail(at, "repetition {" + std::to_string(min) + "," + (max == kUnbounded ? "" : std::to_string(max)) +
                   "} expands beyond the grammar limits (" + std::to_string(limits_.max_rules) + " rules, " +
                   std::to_string(limits_.max_elements) + " symbols)");
    }
    if (item.size() > 1) {
      item = Alternative{Element{Element::Kind::kRule, generated_rule(rule, at, {item})}};
      count_elements(1, at);
    }
    for (uint32_t i = 0; i < min; ++i) {
      count_elements(item.size(), at);
      seq.insert(seq.end(), item.begin(), item.end());
    }
    if (max == kUnbounded) {
      // r ::= item r | ""
      const uint32_t id = generated_rule(rule, at, {});
      Alternative loop = item;
      loop.push_back(Element{Element::Kind::kRule, id});
      rules_[id] = {loop, Alternative{}};
      count_elements(loop.size() + 1, at);
      seq.push_back(Element{Element::Kind::kRule, id});
    } else if (max > min) {
      // t1 ::= item | "" ; tk ::= item t(k-1) | ""
      uint32_t inner = generated_rule(rule, at, {item, Alternative{}});
      count_elements(item.size(), at);
      for (uint32_t k = 1; k < max - min; ++k) {
        Alternative alt = item;
        alt.push_back(Element{Element::Kind::kRule, inner});
        count_elements(alt.size(), at);
        inner = generated_rule(rule, at, {alt, Alternative{}});
      }
      count_elements(1, at);
      seq.push_back(Element{Element::Kind::kRule, inner});
    }
  }

  Alternative parse_sequence(const std::string& rule, bool nested) {
    Alternative seq;
    size_t last_start = 0;
    bool have_last = false;
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      const size_t at = pos_;
      if (c == '"') {
        last_start = seq.size();
        parse_literal(seq);
        have_last = true;
      } else if (c == '[') {
        last_start = seq.size();
        parse_class(seq);
        have_last = true;
      } else if (c == '.') {
        ++pos_;
        last_start = seq.size();
        CharClass any;
        any.negated = true;
        count_elements(1, at);
        seq.push_back(add_class(std::move(any)));
        have_last = true;
      } else if (is_word_char(c)) {
        const std::string name = parse_name();
        const uint32_t id = rule_id(name);
        if (first_use_[id] == kNoUse) first_use_[id] = at;
        last_start = seq.size();
        count_elements(1, at);
        seq.push_back(Element{Element::Kind::kRule, id});
        have_last = true;
      } else if (c == '(') {
        if (nesting_ >= kMaxNesting) fail(at, "groups nested deeper than " + std::to_string(kMaxNesting));
        ++nesting_;
        ++pos_;
        skip_space(true);
        std::vector<Alternative> alts = parse_alternatives(rule, true);
        if (pos_ >= src_.size() || src_[pos_] != ')') fail(pos_, "expected ')' to close the group at " + location(at) + ", found " + describe_here());
        ++pos_;
        --nesting_;
        last_start = seq.size();
        count_elements(1, at);
        seq.push_back(Element{Element::Kind::kRule, generated_rule(rule, at, std::move(alts))});
        have_last = true;
      } else if (c == '*' || c == '+' || c == '?') {
        if (!have_last) fail(at, std::string("'") + c + "' must follow an item to repeat");
        ++pos_;
        repeat(rule, seq, last_start, c == '+' ? 1 : 0, c == '?' ? 1 : kUnbounded, at);
        have_last = false;
      } else if (c == '{') {
        if (!have_last) fail(at, "'{' must follow an item to repeat");
        ++pos_;
        skip_space(false);
        const uint32_t min = parse_count();
        skip_space(false);
        uint32_t max = min;
        if (pos_ < src_.size() && src_[pos_] == ',') {
          ++pos_;
          skip_space(false);
          max = (pos_ < src_.size() && src_[pos_] == '}') ? kUnbounded : parse_count();
          skip_space(false);
        }
        if (pos_ >= src_.size() || src_[pos_] != '}') fail(pos_, "expected '}' to close the repetition, found " + describe_here());
        ++pos_;
        repeat(rule, seq, last_start, min, max, at);
        have_last = false;
      } else if (c == '<') {
        fail(at, "token references (<...>) are not supported");
      } else {
        break;
      }
      skip_space(nested);
    }
    if (pos_ < src_.size()) {
      const char c = src_[pos_];
      const bool ok = c == '|' || (nested && c == ')') || (!nested && (c == '\n' || c == '\r'));
      if (!ok) fail(pos_, "unexpected " + describe_here() + " in rule '" + rule + "'");
    } else if (nested) {
      fail(pos_, "expected ')' before the end of text");
    }
    return seq;
  }

  std::string_view src_;
  const GrammarLimits& limits_;
  size_t pos_ = 0;
  size_t element_count_ = 0;
  size_t generated_ = 0;
  int nesting_ = 0;
  std::vector<std::vector<Alternative>> rules_;
  std::vector<std::string> names_;
  std::vector<bool> defined_;
  std::vector<size_t> first_use_;
  std::vector<RuleOrigin> origins_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<CharClass> classes_;
};

}  // namespace

std::shared_ptr<const Grammar> parse_gbnf(std::string_view text, std::string_view root_rule,
                                          const GrammarLimits& limits) {
  return Parser(text, limits).parse(root_rule);
}

}  // namespace kvs::grammar
