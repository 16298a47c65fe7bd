#pragma once
// Pre-tokenizer: splits text into pre-tokens with a list of regexes (PCRE2,
// UTF + UCP so \p{L}, \p{N} and look-arounds work like HF tokenizers' regexes).
//
// Semantics follow HF's Split(behavior = "Isolated") applied in sequence (and
// llama.cpp's unicode_regex_split): each regex splits every piece produced by
// the previous one; matches become pieces and so does the unmatched text
// between them. A regex never sees across a piece boundary (look-aheads stop
// at the end of the piece). \s and \S mean Unicode White_Space (as in Rust /
// Oniguruma / llama.cpp), not PCRE2's slightly wider set.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvs {

// Thread-safety: immutable after construction; split() may run concurrently.
class RegexSplitter {
 public:
  // Throws ModelLoadError naming the pattern if a regex does not compile;
  // \C (one code unit, which can split a UTF-8 character) is refused.
  explicit RegexSplitter(const std::vector<std::string>& regexes);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // `text` must be valid UTF-8 (see utf8::repair). Returned views point into
  // `text`, in order, non-empty, and concatenate back to `text`.
  std::vector<std::string_view> split(std::string_view text) const;

  size_t num_regexes() const { return patterns_.size(); }

 private:
  struct Pattern;
  std::vector<std::unique_ptr<Pattern>> patterns_;
};

// Rewrites \s / \S in a PCRE2 pattern into explicit Unicode White_Space
// classes (exposed for tests).
std::string rewrite_whitespace_escapes(std::string_view pattern);

}  // namespace kvs
