#include "engine/tokenizer/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/errors.h"
#include "engine/tokenizer/utf8.h"

namespace kvs {
namespace {

// Unicode White_Space, the set Rust's regex, Oniguruma and llama.cpp use for \s.
// PCRE2's UCP \s also contains U+180E, which none of the references treat as space.
constexpr const char* kWhiteSpace =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}"
    "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

std::string rewrite_whitespace_escapes(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[i + 1];
      if (next == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (next == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += c;
        out += next;
      }
      i += 2;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      ++i;
      if (i < pattern.size() && pattern[i] == '^') out += pattern[i++];
      if (i < pattern.size() && pattern[i] == ']') out += pattern[i++];  // literal ']'
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
    ++i;
  }
  return out;
}

struct RegexSplitter::Pattern {
  std::string source;
  pcre2_code* code = nullptr;
  ~Pattern() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(const std::vector<std::string>& regexes) {
  uint32_t jit_available = 0;
  pcre2_config(PCRE2_CONFIG_JIT, &jit_available);
  for (const std::string& source : regexes) {
    auto pattern = std::make_unique<Pattern>();
    pattern->source = source;
    const std::string rewritten = rewrite_whitespace_escapes(source);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    // NOTE: the regex comes from the model's tokenizer.json, i.e. from outside.
    // PCRE2_NEVER_BACKSLASH_C: \C matches one code unit even in UTF mode and
    // can leave a match in the middle of a character (reads past its end).
    pattern->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &error_code, &error_offset,
                                  nullptr);
    if (pattern->code == nullptr) {
      throw ModelLoadError("pre-tokenizer regex does not compile: '" + source + "': " +
                           pcre2_message(error_code) + " at offset " + std::to_string(error_offset));
    }
    if (jit_available) pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE);  // falls back silently
    patterns_.push_back(std::move(pattern));
  }
}

RegexSplitter::~RegexSplitter() = default;

namespace {

// Runs one pattern over `piece`, appending matches and the gaps between them.
void split_piece(const pcre2_code* code, pcre2_match_data* match_data, std::string_view piece,
                 std::vector<std::string_view>& out) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
  const size_t length = piece.size();
  size_t search_from = 0;
  size_t previous_end = 0;
  while (search_from <= length) {
    int rc = pcre2_match(code, subject, length, search_from, PCRE2_NO_UTF_CHECK, match_data, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(code, subject, length, search_from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                       match_data, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error("pre-tokenizer regex match failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data);
    const size_t match_start = ovector[0];
    const size_t match_end = ovector[1];
    if (match_start > previous_end) out.push_back(piece.substr(previous_end, match_start - previous_end));
    if (match_end > match_start) out.push_back(piece.substr(match_start, match_end - match_start));
    previous_end = match_end;
    if (match_end > match_start) {
      search_from = match_end;
    } else {
      // NOTE: an empty match splits but yields no piece; step one character on.
      if (match_end >= length) break;
      const size_t step = utf8::sequence_length(static_cast<uint8_t>(piece[match_end]));
      search_from = match_end + (step == 0 ? 1 : step);
    }
  }
  if (previous_end < length) out.push_back(piece.substr(previous_end));
}

}  // namespace

std::vector<std::string_view> RegexSplitter::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  std::vector<std::string_view> next;
  for (const auto& pattern : patterns_) {
    pcre2_match_data* match_data = pcre2_match_data_create_from_pattern(pattern->code, nullptr);
    if (match_data == nullptr) throw Error("pre-tokenizer: out of memory");
    next.clear();
    try {
      for (std::string_view piece : pieces) split_piece(pattern->code, match_data, piece, next);
    } catch (...) {
      pcre2_match_data_free(match_data);
      throw;
    }
    pcre2_match_data_free(match_data);
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace kvs
