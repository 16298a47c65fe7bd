#pragma once
// The pre-tokenizers llama.cpp selects by GGUF's `tokenizer.ggml.pre` name:
// split regexes (applied in order, see RegexSplitter) plus the vocabulary
// defaults llama.cpp ties to the same name.
#include <string>
#include <vector>

namespace kvs {

struct PreTokenizerPreset {
  std::vector<std::string> regexes;  // PCRE2 syntax, llama.cpp's strings
  bool ignore_merges = false;        // whole pre-token in the vocab -> one token
  bool add_bos = false;              // default before tokenizer.ggml.add_bos_token
};

// Throws ModelLoadError for a name llama.cpp does not know, or one whose
// splitter is custom code in llama.cpp rather than a regex (e.g. "kimi-k2",
// "afmoe", "tiny_aya", "gemma4"). An empty name means "default", as in llama.cpp.
PreTokenizerPreset pre_tokenizer_preset(const std::string& pre_name);

// Every name pre_tokenizer_preset() accepts (for tests and error messages).
std::vector<std::string> known_pre_tokenizer_names();

}  // namespace kvs
