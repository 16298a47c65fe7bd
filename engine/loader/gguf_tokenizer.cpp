#include "engine/loader/gguf_tokenizer.h"

#include <cstdio>

#include "engine/errors.h"
#include "engine/tokenizer/end_of_generation.h"
#include "engine/tokenizer/pre_tokenizer_presets.h"
#include "engine/tokenizer/spec_validation.h"

namespace kvs {
namespace {

const std::string kPrefix = "tokenizer.ggml.";

TokenType token_type_from_gguf(int64_t value) {
  if (value >= 0 && value <= static_cast<int64_t>(TokenType::Byte)) return static_cast<TokenType>(value);
  return TokenType::Undefined;
}

bool has_all_byte_tokens(const std::vector<std::string>& tokens) {
  std::vector<bool> seen(256, false);
  int count = 0;
  for (const std::string& token : tokens) {
    unsigned value = 0;
    char tail = 0;
    if (token.size() == 6 && std::sscanf(token.c_str(), "<0x%2X%c", &value, &tail) == 2 && tail == '>' &&
        value < 256 && !seen[value]) {
      seen[value] = true;
      ++count;
    }
  }
  return count == 256;
}

// An id key: the stored value when in range, else `fallback` (llama.cpp keeps
// its default when the file names a token outside the vocabulary).
int32_t read_id(const GgufFile& file, const std::string& key, int32_t fallback, size_t num_tokens) {
  if (fallback >= static_cast<int64_t>(num_tokens)) fallback = -1;
  if (!file.has(kPrefix + key)) return fallback;
  const int64_t value = file.get_int(kPrefix + key);
  return (value >= 0 && value < static_cast<int64_t>(num_tokens)) ? static_cast<int32_t>(value) : fallback;
}

void read_vocabulary(const GgufFile& file, TokenizerSpec& spec) {
  if (!file.has(kPrefix + "tokens")) throw ModelLoadError(file.path() + ": no tokenizer.ggml.tokens");
  spec.tokens = file.get_string_array(kPrefix + "tokens");
  const size_t n = spec.tokens.size();
  if (n == 0) throw ModelLoadError(file.path() + ": tokenizer.ggml.tokens is empty");
  for (size_t id = 0; id < n; ++id) {
    if (spec.tokens[id].empty()) spec.tokens[id] = "[EMPTY_" + std::to_string(id) + "]";
  }
  const std::vector<int64_t> types = file.get_int_array(kPrefix + "token_type");
  if (!types.empty() && types.size() < n) {
    throw ModelLoadError(file.path() + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                         " entries for " + std::to_string(n) + " tokens");
  }
  spec.token_types.assign(n, TokenType::Normal);
  for (size_t id = 0; id < types.size() && id < n; ++id) spec.token_types[id] = token_type_from_gguf(types[id]);
  const std::vector<double> scores = file.get_float_array(kPrefix + "scores");
  if (!scores.empty() && scores.size() < n) {
    throw ModelLoadError(file.path() + ": tokenizer.ggml.scores has " + std::to_string(scores.size()) +
                         " entries for " + std::to_string(n) + " tokens");
  }
  if (!scores.empty()) spec.scores.assign(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace

TokenizerSpec tokenizer_spec_from_gguf(const GgufFile& file) {
  if (!file.has(kPrefix + "model")) throw ModelLoadError(file.path() + ": no tokenizer.ggml.model");
  const std::string model = file.get_string(kPrefix + "model");
  TokenizerSpec spec;
  read_vocabulary(file, spec);
  const size_t n = spec.tokens.size();
  int32_t default_bos = -1, default_eos = -1, default_unk = -1;
  if (model == "gpt2") {
    spec.kind = TokenizerKind::ByteLevelBpe;
    spec.pre_name = file.get_string_or(kPrefix + "pre", "default");
    PreTokenizerPreset preset;
    try {
      preset = pre_tokenizer_preset(spec.pre_name);
    } catch (const ModelLoadError& e) {
      throw ModelLoadError(file.path() + ": " + e.what());
    }
    spec.pre_regexes = preset.regexes;
    spec.ignore_merges = preset.ignore_merges;
    spec.add_bos = preset.add_bos;
    if (!file.has(kPrefix + "merges")) throw ModelLoadError(file.path() + ": gpt2 tokenizer without tokenizer.ggml.merges");
    spec.merges = file.get_string_array(kPrefix + "merges");
    // NOTE: llama.cpp's byte-level defaults are bos = eos = 11 (Falcon's "<|endoftext|>"),
    // which is an ordinary token in other vocabularies; we leave them unset instead.
  } else if (model == "llama") {
    spec.kind = TokenizerKind::SentencePieceBpe;
    spec.normalizer = "sentencepiece";
    spec.add_space_prefix = file.get_bool_or(kPrefix + "add_space_prefix", true);
    spec.add_bos = true;
    spec.byte_fallback = has_all_byte_tokens(spec.tokens);
    if (spec.scores.empty()) spec.scores.assign(n, 0.0f);  // llama.cpp: score 0 when absent
    default_bos = 1;
    default_eos = 2;
    default_unk = 0;
  } else {
    throw ModelLoadError(file.path() + ": unsupported tokenizer model '" + model +
                         "' (tokenizer.ggml.model; supported: gpt2, llama)");
  }

  spec.bos_id = read_id(file, "bos_token_id", default_bos, n);
  spec.eos_id = read_id(file, "eos_token_id", default_eos, n);
  spec.unk_id = read_id(file, "unknown_token_id", default_unk, n);
  spec.pad_id = read_id(file, "padding_token_id", -1, n);
  spec.add_bos = file.get_bool_or(kPrefix + "add_bos_token", spec.add_bos);
  spec.add_eos = file.get_bool_or(kPrefix + "add_eos_token", false);

  EndOfGenerationHints hints;
  hints.eot_id = read_id(file, "eot_token_id", -1, n);
  hints.eom_id = read_id(file, "eom_token_id", -1, n);
  hints.fim_pad_id = read_id(file, "fim_pad_token_id", -1, n);
  hints.fim_rep_id = read_id(file, "fim_rep_token_id", -1, n);
  hints.fim_sep_id = read_id(file, "fim_sep_token_id", -1, n);
  assign_end_of_generation_ids(spec, hints, EndOfGenerationRule::LlamaCpp);

  try {
    validate_tokenizer_spec(spec);
  } catch (const ModelLoadError& e) {
    throw ModelLoadError(file.path() + ": " + e.what());
  }
  return spec;
}

}  // namespace kvs
