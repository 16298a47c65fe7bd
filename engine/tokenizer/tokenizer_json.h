#pragma once
// Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) <-> TokenizerSpec.
//
// Supported: model BPE (vocab + merges as "a b" strings or [a, b] pairs,
// byte_fallback, ignore_merges, unk_token); normalizers NFC, Prepend("▁"),
// Replace(" " -> "▁") and Sequences of them; pre-tokenizers ByteLevel
// (use_regex: GPT-2's regex), Split(Regex|String, behavior Isolated), Digits,
// Metaspace(split=false) and Sequences of them; post-processor
// TemplateProcessing (BOS / EOS); decoders ByteLevel, Metaspace, Sequence.
// Anything else (WordPiece / Unigram models, other split behaviours, ...)
// throws ModelLoadError naming the unsupported piece.
#include <string>

#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

// Reads a tokenizer from the text of tokenizer.json and (optionally; "" when
// absent) tokenizer_config.json. Token types: the model's unk_token ->
// Unknown; added tokens with special=true -> Control, special=false ->
// UserDefined; "<0xXX>" with byte_fallback -> Byte; ids no entry names ->
// "[PAD<id>]" Unused. add_bos / add_eos come from tokenizer_config's
// add_bos_token / add_eos_token, else from the TemplateProcessing
// post-processor; bos/eos/pad/unk ids from tokenizer_config's *_token entries,
// else from the template / model. eog_ids: EOS plus the added tokens spelled
// like llama.cpp's end markers (end_of_generation.h, AddedTokensOnly).
// pre_regexes are set explicitly (pre_name stays ""). Added tokens' lstrip /
// rstrip / single_word / normalized flags are not applied (matching is on the
// raw text). Throws ModelLoadError on invalid JSON, an unsupported component,
// or an inconsistent result (validate_tokenizer_spec).
TokenizerSpec tokenizer_spec_from_json(const std::string& tokenizer_json,
                                       const std::string& tokenizer_config_json);

// Writes `spec` as a tokenizer.json that HF `tokenizers` (>= 0.14) and
// tokenizer_spec_from_json both load and that encodes as `spec` does: every
// token goes into the BPE vocab; Control / Unknown / UserDefined tokens are
// also listed as added tokens (special = not UserDefined); regexes become
// Split(Isolated) pre-tokenizers (derived from pre_name when pre_regexes is
// empty). A SentencePiece spec without merges (GGUF "llama", scored) gets
// merges derived from the scores: every split of a Normal piece into two
// vocabulary pieces, ordered by the piece's score (what HF's converters do),
// which reproduces score-ordered merging up to ties. Throws ModelLoadError if
// the spec is invalid or its pre_name is unknown.
std::string tokenizer_json_from_spec(const TokenizerSpec& spec);

// The matching tokenizer_config.json: add_bos_token, add_eos_token,
// bos/eos/unk/pad_token, tokenizer_class "PreTrainedTokenizerFast",
// clean_up_tokenization_spaces false. (No chat template: that is the
// exporter's to add.)
std::string tokenizer_config_json_from_spec(const TokenizerSpec& spec);

}  // namespace kvs
