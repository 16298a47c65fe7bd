#include "engine/grammar/regex_to_gbnf.h"

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "engine/errors.h"
#include "engine/grammar/gbnf_text.h"
#include "engine/grammar/regex_compiler.h"

namespace kvs::grammar {
namespace {

using gbnf::CodeRange;

constexpr int kMaxRepeat = 1000;       // largest {m,n} count accepted
constexpr size_t kMaxChoices = 4096;   // choice_to_gbnf
constexpr size_t kMaxPatternBytes = 1 << 16;
constexpr int kMaxNesting = 200;       // group depth

const std::vector<CodeRange> kDigit = {{'0', '9'}};
const std::vector<CodeRange> kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const std::vector<CodeRange> kSpace = {{'\t', '\r'}, {' ', ' '}};
// Characters JSON strings must escape.
const std::vector<CodeRange> kJsonSpecial = {{0x00, 0x1F}, {'"', '"'}, {'\\', '\\'}};

// One parsed piece of a concatenation: a GBNF expression, or (when `chars`
// is set) a run of literal text that later merges with its neighbours.
struct Piece {
  std::string expr;
  bool chars = false;
  bool atomic = false;  // expr takes a postfix operator without parentheses
  std::string text;  // chars: the text the literal matches (JSON-escaped in JSON mode)
};

class RegexParser {
 public:
  RegexParser(std::string_view pattern, RegexTarget target, std::string_view any_char_rule)
      : p_(pattern), target_(target), any_char_(any_char_rule) {}

  std::string parse() {
    if (p_.size() > kMaxPatternBytes) fail("pattern longer than 65536 bytes", 0);
    std::vector<std::string> alternatives;
    bool any_empty = false;
    while (true) {
      bool anchored_start = false, anchored_end = false;
      if (peek('^')) {
        anchored_start = true;
        ++i_;
      } else if (starts_with("\\A")) {
        anchored_start = true;
        i_ += 2;
      }
      std::string alt = concatenation(/*top=*/true, anchored_end);
      if (target_ == RegexTarget::kJsonStringSearch) {
        const std::string pad = "(" + std::string(any_char_) + ")*";
        if (!anchored_start) alt = alt.empty() ? pad : pad + " " + alt;
        if (!anchored_end) alt = alt.empty() ? pad : alt + " " + pad;
      }
      if (alt.empty()) {
        any_empty = true;
      } else {
        alternatives.push_back(alt);
      }
      if (i_ >= p_.size()) break;
      if (p_[i_] == '|') {
        ++i_;
        continue;
      }
      if (p_[i_] == ')') fail("unbalanced ')'", i_);
      fail("unexpected character", i_);
    }
    return join_alternatives(alternatives, any_empty);
  }

 private:
  [[noreturn]] void fail(const std::string& what, size_t offset) const {
    throw InvalidArgument("regex: " + what + " at offset " + std::to_string(offset));
  }
  bool peek(char c) const { return i_ < p_.size() && p_[i_] == c; }
  bool starts_with(std::string_view s) const { return p_.substr(i_, s.size()) == s; }

  static std::string join_alternatives(const std::vector<std::string>& alts, bool any_empty) {
    if (alts.empty()) return "";
    std::string out;
    if (alts.size() == 1 && !any_empty) return alts[0];
    out = "(";
    for (size_t k = 0; k < alts.size(); ++k) {
      if (k) out += " | ";
      out += alts[k];
    }
    out += ")";
    if (any_empty) out += "?";
    return out;
  }

  // alternation := concatenation ('|' concatenation)*, inside a group.
  std::string alternation(bool& wrapped) {
    std::vector<std::string> alts;
    bool any_empty = false;
    while (true) {
      bool unused = false;
      std::string alt = concatenation(/*top=*/false, unused);
      if (alt.empty()) {
        any_empty = true;
      } else {
        alts.push_back(alt);
      }
      if (!peek('|')) break;
      ++i_;
    }
    wrapped = alts.size() > 1 && !any_empty;
    return join_alternatives(alts, any_empty);
  }

  // Pieces up to '|', ')' or the end. At the top level a '$' (or \Z, \z) may
  // end it (anchored_end set).
  std::string concatenation(bool top, bool& anchored_end) {
    std::vector<Piece> pieces;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      const size_t at = i_;
      if (p_[i_] == '$' || starts_with("\\Z") || starts_with("\\z")) {
        i_ += p_[i_] == '$' ? 1 : 2;
        if (!top || (i_ < p_.size() && p_[i_] != '|')) fail("'$' anchor is only supported at the end", at);
        anchored_end = true;
        break;
      }
      if (p_[i_] == '^' || starts_with("\\A")) fail("'^' anchor is only supported at the start", at);
      Piece piece = atom();
      quantifiers(piece);
      pieces.push_back(std::move(piece));
    }
    // Merge runs of literal characters.
    std::string out;
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (!out.empty()) out += ' ';
      out += gbnf::literal(run);
      run.clear();
    };
    for (const Piece& piece : pieces) {
      if (piece.chars) {
        run += piece.text;
        continue;
      }
      flush();
      if (piece.expr.empty()) continue;
      if (!out.empty()) out += ' ';
      out += piece.expr;
    }
    flush();
    return out;
  }

  // Applies any quantifiers after an atom.
  void quantifiers(Piece& piece) {
    bool quantified = false;
    while (i_ < p_.size()) {
      const size_t at = i_;
      const char c = p_[i_];
      std::string suffix;
      if (c == '*' || c == '+' || c == '?') {
        suffix = std::string(1, c);
        ++i_;
      } else if (c == '{') {
        int lo = 0, hi = 0;
        bool bounded = true;
        if (!counted(lo, hi, bounded)) return;  // a literal '{' (atom() takes it next)
        if (bounded && hi < lo) fail("repetition {m,n} with n < m", at);
        suffix = "{" + std::to_string(lo) + (bounded ? (hi == lo ? "" : "," + std::to_string(hi)) : ",") + "}";
        if (bounded && hi == 0) suffix = "{0}";
      } else {
        return;
      }
      if (quantified) fail("multiple repeat", at);
      quantified = true;
      if (peek('?')) {
        ++i_;  // lazy: the same language
      } else if (peek('+')) {
        fail("possessive quantifiers are not supported", i_);
      }
      const bool atomic = piece.chars || piece.atomic;
      std::string base = piece.chars ? gbnf::literal(piece.text) : piece.expr;
      piece.chars = false;
      piece.atomic = false;
      if (base.empty() || suffix == "{0}") {
        piece.expr = "";
      } else {
        piece.expr = (atomic ? base : "(" + base + ")") + suffix;
      }
    }
  }

  // Parses {m}, {m,}, {m,n} at i_; false (i_ unchanged) if it is not one.
  bool counted(int& lo, int& hi, bool& bounded) {
    size_t j = i_ + 1;
    if (j < p_.size() && p_[j] == ',') fail("'{,n}' (Python reads {0,n}, JavaScript a literal): write {0,n}", i_);
    auto number = [&](int& v) {
      const size_t start = j;
      long value = 0;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') {
        value = value * 10 + (p_[j] - '0');
        if (value > kMaxRepeat) fail("repetition count above " + std::to_string(kMaxRepeat), start);
        ++j;
      }
      v = static_cast<int>(value);
      return j > start;
    };
    if (!number(lo)) return false;
    bounded = true;
    hi = lo;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (!number(hi)) bounded = false;
    }
    if (j >= p_.size() || p_[j] != '}') return false;
    i_ = j + 1;
    return true;
  }

  Piece char_piece(uint32_t cp) const {
    Piece piece;
    piece.chars = true;
    piece.text = target_ == RegexTarget::kJsonStringSearch ? json_escaped(cp) : gbnf::utf8_encode(cp);
    return piece;
  }

  static std::string json_escaped(uint32_t cp) {
    switch (cp) {
      case '"': return "\\\"";
      case '\\': return "\\\\";
      case '\n': return "\\n";
      case '\t': return "\\t";
      case '\r': return "\\r";
      case '\b': return "\\b";
      case '\f': return "\\f";
      default: break;
    }
    if (cp < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      return std::string("\\u00") + kHex[cp >> 4] + kHex[cp & 15];
    }
    return gbnf::utf8_encode(cp);
  }

  // A set of code points as an expression.
  Piece set_piece(const std::vector<CodeRange>& ranges, size_t at) const {
    const std::vector<CodeRange> set = gbnf::normalize(ranges);
    if (set.empty()) fail("character class matches nothing", at);
    Piece piece;
    piece.atomic = true;
    if (target_ == RegexTarget::kFullMatch) {
      piece.expr = gbnf::char_class(set);
      return piece;
    }
    std::vector<std::string> alts;
    const std::vector<CodeRange> plain = gbnf::subtract(set, kJsonSpecial);
    if (!plain.empty()) alts.push_back(gbnf::char_class(plain));
    for (const CodeRange& r : gbnf::subtract(set, plain)) {
      for (uint32_t cp = r.lo; cp <= r.hi; ++cp) alts.push_back(gbnf::literal(json_escaped(cp)));
    }
    if (alts.size() == 1) {
      piece.expr = alts[0];
    } else {
      piece.expr = "(";
      for (size_t k = 0; k < alts.size(); ++k) piece.expr += (k ? " | " : "") + alts[k];
      piece.expr += ")";
    }
    return piece;
  }

  Piece atom() {
    const size_t at = i_;
    const char c = p_[i_];
    switch (c) {
      case '(': return group();
      case '[': return char_set();
      case '.': {
        ++i_;
        // Any character but line terminators (the stricter JavaScript set).
        return set_piece(gbnf::complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}), at);
      }
      case '\\': return escape_atom();
      case '*':
      case '+':
      case '?': fail("nothing to repeat", at);
      case '{': {
        int lo, hi;
        bool bounded;
        if (counted(lo, hi, bounded)) fail("nothing to repeat", at);
        ++i_;
        return char_piece('{');
      }
      default: break;
    }
    uint32_t cp = 0;
    if (!gbnf::utf8_decode(p_, i_, cp)) fail("invalid UTF-8", at);
    return char_piece(cp);
  }

  Piece group() {
    const size_t at = i_;
    ++i_;
    if (peek('?')) {
      if (starts_with("?:")) {
        i_ += 2;
      } else if (starts_with("?=") || starts_with("?!") || starts_with("?<=") || starts_with("?<!")) {
        fail("lookaround assertions are not supported", at);
      } else if (starts_with("?P=")) {
        fail("backreferences are not supported", at);
      } else if (starts_with("?P<") || starts_with("?<")) {
        const size_t close = p_.find('>', i_);
        if (close == std::string_view::npos) fail("unterminated group name", at);
        i_ = close + 1;
      } else {
        fail("unsupported group syntax (inline flags, conditionals...)", at);
      }
    }
    if (++depth_ > kMaxNesting) fail("groups nested too deeply", at);
    bool wrapped = false;
    std::string inner = alternation(wrapped);
    --depth_;
    if (!peek(')')) fail("missing ')'", at);
    ++i_;
    Piece piece;
    piece.expr = inner.empty() || wrapped ? inner : "(" + inner + ")";
    piece.atomic = true;
    return piece;
  }

  // An escape that stands for a set (\d \w \s and negations) or one code
  // point; `in_class` changes \b to backspace.
  bool escape(bool in_class, std::vector<CodeRange>& set, uint32_t& cp) {
    const size_t at = i_;
    ++i_;  // the backslash
    if (i_ >= p_.size()) fail("trailing backslash", at);
    const char c = p_[i_++];
    auto hex = [&](size_t digits) {
      uint32_t v = 0;
      for (size_t k = 0; k < digits; ++k) {
        if (i_ >= p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[i_]))) fail("bad hex escape", at);
        const char h = p_[i_++];
        v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
      }
      return v;
    };
    // The negated shorthands exclude every non-ASCII character, so they hold
    // whichever of the ASCII (JavaScript) or Unicode (Python) readings applies.
    const std::vector<CodeRange> kNonAscii = {{0x80, gbnf::kMaxCodePoint}};
    switch (c) {
      case 'd': set = kDigit; return true;
      case 'w': set = kWord; return true;
      case 's': set = kSpace; return true;
      case 'D': set = gbnf::complement(kDigit), set = gbnf::subtract(set, kNonAscii); return true;
      case 'W': set = gbnf::subtract(gbnf::complement(kWord), kNonAscii); return true;
      case 'S': set = gbnf::subtract(gbnf::complement(kSpace), kNonAscii); return true;
      case 'n': cp = '\n'; return false;
      case 't': cp = '\t'; return false;
      case 'r': cp = '\r'; return false;
      case 'f': cp = '\f'; return false;
      case 'v': cp = '\v'; return false;
      case 'a': cp = 0x07; return false;
      case '0':
        if (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '7') fail("octal escapes are not supported", at);
        cp = 0;
        return false;
      case 'x': cp = hex(2); return false;
      case 'u': {
        if (peek('{')) {
          ++i_;
          const size_t start = i_;
          while (i_ < p_.size() && p_[i_] != '}') ++i_;
          if (i_ >= p_.size() || i_ == start || i_ - start > 6) fail("bad \\u{...} escape", at);
          const size_t end = i_;
          i_ = start;
          cp = hex(end - start);
          ++i_;
        } else {
          cp = hex(4);
        }
        if (cp > gbnf::kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) fail("escape is not a Unicode scalar value", at);
        return false;
      }
      case 'U': cp = hex(8); if (cp > gbnf::kMaxCodePoint) fail("escape out of range", at); return false;
      case 'b':
        if (in_class) {
          cp = 0x08;
          return false;
        }
        fail("word boundaries (\\b) are not supported", at);
      case 'B': fail("word boundaries (\\B) are not supported", at);
      case 'k': fail("backreferences are not supported", at);
      case 'p':
      case 'P': fail("Unicode property escapes are not supported", at);
      default: break;
    }
    if (c >= '1' && c <= '9') fail("backreferences are not supported", at);
    if (std::isalnum(static_cast<unsigned char>(c))) fail(std::string("unknown escape \\") + c, at);
    --i_;
    if (!gbnf::utf8_decode(p_, i_, cp)) fail("invalid UTF-8", at);
    return false;
  }

  Piece escape_atom() {
    const size_t at = i_;
    std::vector<CodeRange> set;
    uint32_t cp = 0;
    if (escape(false, set, cp)) return set_piece(set, at);
    return char_piece(cp);
  }

  Piece char_set() {
    const size_t at = i_;
    ++i_;
    bool negated = false;
    if (peek('^')) {
      negated = true;
      ++i_;
    }
    if (peek(']')) fail("']' first in a class (dialects differ): escape it as \\]", i_);
    std::vector<CodeRange> set;
    bool first = true;
    while (true) {
      if (i_ >= p_.size()) fail("missing ']'", at);
      if (p_[i_] == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      // One class member: a shorthand set, or a code point possibly starting a range.
      const size_t member_at = i_;
      std::vector<CodeRange> member_set;
      uint32_t lo = 0;
      bool is_set = false;
      if (p_[i_] == '\\') {
        is_set = escape(true, member_set, lo);
      } else if (starts_with("[:")) {
        fail("POSIX classes are not supported", member_at);
      } else if (!gbnf::utf8_decode(p_, i_, lo)) {
        fail("invalid UTF-8", member_at);
      }
      if (is_set) {
        if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') fail("bad character range", member_at);
        set.insert(set.end(), member_set.begin(), member_set.end());
        continue;
      }
      if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        uint32_t hi = 0;
        const size_t hi_at = i_;
        if (p_[i_] == '\\') {
          if (escape(true, member_set, hi)) fail("bad character range", hi_at);
        } else if (!gbnf::utf8_decode(p_, i_, hi)) {
          fail("invalid UTF-8", hi_at);
        }
        if (hi < lo) fail("bad character range", member_at);
        set.push_back({lo, hi});
      } else {
        set.push_back({lo, lo});
      }
    }
    if (negated) set = gbnf::complement(set);
    return set_piece(set, at);
  }

  std::string_view p_;
  RegexTarget target_;
  std::string_view any_char_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string regex_expression(std::string_view pattern, RegexTarget target, std::string_view any_char_rule) {
  return RegexParser(pattern, target, any_char_rule).parse();
}

std::string regex_to_gbnf(std::string_view pattern, std::string_view rule_name) {
  std::string expr = regex_expression(pattern, RegexTarget::kFullMatch);
  if (expr.empty()) expr = "\"\"";
  return std::string(rule_name) + " ::= " + expr + "\n";
}

std::string choice_to_gbnf(const std::vector<std::string>& choices, std::string_view rule_name) {
  if (choices.empty()) throw InvalidArgument("choice: the list of choices is empty");
  if (choices.size() > kMaxChoices) {
    throw InvalidArgument("choice: " + std::to_string(choices.size()) + " choices, more than " +
                          std::to_string(kMaxChoices));
  }
  std::set<std::string> seen;
  std::string out = std::string(rule_name) + " ::= ";
  bool first = true;
  for (const std::string& choice : choices) {
    if (!seen.insert(choice).second) continue;
    if (!first) out += " | ";
    first = false;
    out += gbnf::literal(choice);
  }
  return out + "\n";
}

}  // namespace kvs::grammar
