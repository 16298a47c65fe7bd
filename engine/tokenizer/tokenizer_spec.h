#pragma once
// Everything needed to build a Tokenizer, independent of where it was read
// from (GGUF metadata or HF tokenizer.json). Plain data; copyable.
#include <cstdint>
#include <string>
#include <vector>

namespace kvs {

enum class TokenizerKind : uint8_t {
  ByteLevelBpe,      // GPT-2 / Llama-3 / Qwen2 / SmolLM2: bytes mapped to unicode, BPE merges
  SentencePieceBpe,  // Llama-2 / TinyLlama: "▁" for spaces, BPE merges (or scores), byte fallback
};

// GGUF token types (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::ByteLevelBpe;
  std::vector<std::string> tokens;      // id -> token string as stored in the vocab
  std::vector<TokenType> token_types;   // same length as tokens (create() fills Normal if empty)
  std::vector<float> scores;            // SentencePiece scores; one per token when merges is empty
  // "left right", highest priority first. Empty on a SentencePieceBpe spec
  // means: merge by `scores` (llama.cpp's SPM rule for GGUF "llama" vocabularies).
  std::vector<std::string> merges;
  // Pre-tokenizer: split regexes applied in order (PCRE2 syntax; see
  // RegexSplitter). Empty means derive them from `pre_name` (GGUF's
  // tokenizer.ggml.pre) for ByteLevelBpe, and no split for SentencePieceBpe
  // (whose regexes, if any, see the "▁"-escaped text).
  std::string pre_name;                 // e.g. "smollm", "llama3", "qwen2", "default"
  std::vector<std::string> pre_regexes;
  // "" | "nfc" | "sentencepiece". SentencePieceBpe always replaces ' ' with "▁"
  // (and prepends "▁" to each text segment when add_space_prefix), so "" and
  // "sentencepiece" mean the same there; "sentencepiece" is invalid for
  // ByteLevelBpe. "nfc" applies Unicode NFC to text (not to special tokens) first.
  std::string normalizer;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;        // SentencePiece: prepend "▁" to the input
  bool byte_fallback = false;
  // Byte-level BPE (HF `ignore_merges`, llama.cpp llama3-style vocabularies): a
  // pre-token that is itself a vocabulary entry becomes that token without merging.
  bool ignore_merges = false;
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  std::vector<int32_t> eog_ids;         // end-of-generation tokens (eos, eot, im_end ...)
};

}  // namespace kvs
