#pragma once
// Text <-> token ids. Byte-level BPE and SentencePiece-style BPE with byte
// fallback. Matches HF tokenizers / llama.cpp on real text.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

// Thread-safety: immutable after construction; encode/decode are const and
// may be called concurrently.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Throws ModelLoadError if the spec is inconsistent (bad merges, unknown
  // pre-tokenizer name, ...).
  static std::unique_ptr<Tokenizer> create(const TokenizerSpec& spec);

  // add_special: prepend BOS (and append EOS) where the spec says so.
  // parse_special: text that spells a special/control token (e.g.
  // "<|im_start|>") becomes that token; otherwise it is tokenized as text.
  // UserDefined tokens (HF added tokens with special=false) are always
  // matched, as in HF tokenizers and llama.cpp. Matching is leftmost-longest.
  // Invalid UTF-8 in `text` is replaced by U+FFFD (one per bad byte) first.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special,
                                      bool parse_special) const = 0;
  // Concatenated bytes of the tokens; skip_special drops Control and Unknown
  // tokens. Invalid UTF-8 is kept as is (bytes, not replaced). SentencePiece
  // vocabularies with add_space_prefix drop the one leading space the prefix
  // added (HF's Strip decoder), so decode(encode(x)) == x (NFC(x) where the
  // spec normalizes). Throws InvalidArgument for an id outside the vocabulary.
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special) const = 0;
  // The raw bytes one token stands for (after byte-level / ▁ decoding);
  // special and added tokens are their text. Throws InvalidArgument when out of range.
  virtual std::string token_bytes(int32_t id) const = 0;

  virtual const TokenizerSpec& spec() const = 0;
  int64_t vocab_size() const { return static_cast<int64_t>(spec().tokens.size()); }
  bool is_special(int32_t id) const;        // Control or Unknown type: what skip_special drops
  bool is_end_of_generation(int32_t id) const;
};

// Turns a stream of token ids into text pieces that are always whole UTF-8
// sequences (a character split across tokens is held back until complete).
// Pieces are the tokens' raw bytes: a generated continuation keeps the space of
// a leading "▁" (no SentencePiece leading-space strip). Bytes that can never
// become valid UTF-8 are passed through, not held. Not thread-safe; one per
// stream; the Tokenizer must outlive it.
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special);
  // Returns the text that became complete with this token (may be empty).
  std::string push(int32_t id);
  // Returns whatever is still held back (an incomplete sequence at the end of
  // the stream is returned as is).
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace kvs
