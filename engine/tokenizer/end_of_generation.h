#pragma once
// Which tokens end generation, by llama.cpp's rule (llama-vocab.cpp): the EOS,
// EOT and EOM tokens, the FIM pad / repo / file-separator tokens, and every
// token spelled like a known end marker ("<|im_end|>", "<|eot_id|>",
// "<|endoftext|>", "<end_of_turn>", ...).
#include <cstdint>

#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

// Ids a source states explicitly (-1: not stated; then found by spelling).
struct EndOfGenerationHints {
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  int32_t fim_pad_id = -1;
  int32_t fim_rep_id = -1;
  int32_t fim_sep_id = -1;
};

enum class EndOfGenerationRule : uint8_t {
  // llama.cpp, for GGUF vocabularies: any token spelled like an end marker
  // counts, and every token picked by its spelling becomes TokenType::Control
  // (so it is not matched in text unless parse_special).
  LlamaCpp,
  // For HF tokenizer.json: only added tokens (Control / UserDefined / Unknown)
  // count by spelling (Qwen's vocabulary has an ordinary "</s>" piece); types
  // are left alone.
  AddedTokensOnly,
};

// Sets spec.eog_ids (sorted, unique) from spec.eos_id, `hints` and the token
// spellings. Out-of-range hint ids are ignored.
void assign_end_of_generation_ids(TokenizerSpec& spec, const EndOfGenerationHints& hints,
                                  EndOfGenerationRule rule);

}  // namespace kvs
