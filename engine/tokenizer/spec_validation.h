#pragma once
// Consistency checks on a TokenizerSpec, shared by Tokenizer::create and the
// readers (tokenizer.json, GGUF) so a bad file fails where it is read.
#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

// Throws ModelLoadError naming the first problem: no tokens; token_types /
// scores of the wrong length; bos/eos/unk/pad/eog ids out of range; add_bos /
// add_eos without the id; an unknown normalizer (or "sentencepiece" on a
// byte-level vocabulary); a byte-level vocabulary without merges. Merge
// contents, byte tokens and regexes are checked when the Tokenizer is built.
void validate_tokenizer_spec(const TokenizerSpec& spec);

}  // namespace kvs
