#include "engine/tokenizer/spec_validation.h"

#include <string>

#include "engine/errors.h"

namespace kvs {
namespace {

void check_id(const TokenizerSpec& spec, int32_t id, const char* what) {
  if (id < -1 || id >= static_cast<int64_t>(spec.tokens.size())) {
    throw ModelLoadError(std::string("tokenizer: ") + what + " " + std::to_string(id) +
                         " is outside the vocabulary of " + std::to_string(spec.tokens.size()) +
                         " tokens");
  }
}

}  // namespace

void validate_tokenizer_spec(const TokenizerSpec& spec) {
  const size_t n = spec.tokens.size();
  if (n == 0) throw ModelLoadError("tokenizer: the vocabulary is empty");
  if (spec.token_types.size() != n) {
    throw ModelLoadError("tokenizer: " + std::to_string(spec.token_types.size()) + " token types for " +
                         std::to_string(n) + " tokens");
  }
  if (!spec.scores.empty() && spec.scores.size() != n) {
    throw ModelLoadError("tokenizer: " + std::to_string(spec.scores.size()) + " scores for " +
                         std::to_string(n) + " tokens");
  }
  check_id(spec, spec.bos_id, "bos_id");
  check_id(spec, spec.eos_id, "eos_id");
  check_id(spec, spec.unk_id, "unk_id");
  check_id(spec, spec.pad_id, "pad_id");
  for (int32_t id : spec.eog_ids) {
    if (id < 0) throw ModelLoadError("tokenizer: negative end-of-generation id " + std::to_string(id));
    check_id(spec, id, "end-of-generation id");
  }
  if (spec.add_bos && spec.bos_id < 0) throw ModelLoadError("tokenizer: add_bos is set but there is no bos_id");
  if (spec.add_eos && spec.eos_id < 0) throw ModelLoadError("tokenizer: add_eos is set but there is no eos_id");
  if (spec.normalizer != "" && spec.normalizer != "nfc" && spec.normalizer != "sentencepiece") {
    throw ModelLoadError("tokenizer: unknown normalizer '" + spec.normalizer + "'");
  }
  if (spec.kind == TokenizerKind::ByteLevelBpe) {
    if (spec.normalizer == "sentencepiece") {
      throw ModelLoadError("tokenizer: the sentencepiece normalizer needs a SentencePiece vocabulary");
    }
    if (spec.merges.empty()) throw ModelLoadError("tokenizer: byte-level BPE vocabulary without merges");
  }
}

}  // namespace kvs
