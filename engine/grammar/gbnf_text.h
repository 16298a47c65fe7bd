#pragma once
// Internal to kvs_grammar: writing GBNF text (literals, character classes,
// rule names) for the constraint compilers (json_schema.cpp,
// regex_to_gbnf.cpp). Pure functions, thread-safe.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvs::grammar::gbnf {

// An inclusive range of Unicode code points.
struct CodeRange {
  uint32_t lo = 0;
  uint32_t hi = 0;
};

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// Sorted, merged, surrogates (U+D800..U+DFFF, never valid in UTF-8) removed.
std::vector<CodeRange> normalize(std::vector<CodeRange> ranges);
// The code points of [0, kMaxCodePoint] not in `ranges` (surrogates excluded).
std::vector<CodeRange> complement(const std::vector<CodeRange>& ranges);
// `ranges` minus `removed`.
std::vector<CodeRange> subtract(const std::vector<CodeRange>& ranges, const std::vector<CodeRange>& removed);
bool contains(const std::vector<CodeRange>& ranges, uint32_t cp);

// A GBNF string literal ("...") matching exactly the UTF-8 text `utf8`
// (invalid UTF-8 bytes are written as their \xHH code points).
std::string literal(std::string_view utf8);
// A GBNF character class "[...]" matching one code point of `ranges`
// (normalized by the caller; must not be empty).
std::string char_class(const std::vector<CodeRange>& ranges);
// The UTF-8 encoding of one code point.
std::string utf8_encode(uint32_t cp);
// Decodes the code point at `text[i]`, advancing i; a malformed byte decodes
// to itself (one byte consumed) and returns false.
bool utf8_decode(std::string_view text, size_t& i, uint32_t& cp);
// `hint` reduced to a GBNF rule-name fragment: lower-case [a-z0-9-], runs of
// other characters become one '-', at most 40 characters, never empty ("x").
std::string name_fragment(std::string_view hint);

}  // namespace kvs::grammar::gbnf
