#pragma once
// The tokenizer stored in a GGUF file's metadata (tokenizer.ggml.*), read the
// way llama.cpp reads it.
#include "engine/loader/gguf_file.h"
#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

// tokenizer.ggml.model "gpt2" -> ByteLevelBpe with the merges and the
// pre-tokenizer regexes llama.cpp uses for tokenizer.ggml.pre (pre_name and
// pre_regexes both set; ignore_merges / default add_bos per that name);
// "llama" -> SentencePieceBpe merged by scores (GGUF merges are ignored, as in
// llama.cpp), add_space_prefix from tokenizer.ggml.add_space_prefix (default
// true), byte_fallback when all <0xXX> tokens exist.
// Ids: bos/eos/unk/pad from tokenizer.ggml.*_token_id (llama defaults 1/2/0;
// an out-of-range id keeps the default, as llama.cpp does); add_bos/add_eos
// from tokenizer.ggml.add_{bos,eos}_token. eog_ids and Control marking of end
// markers by llama.cpp's rule (end_of_generation.h). Empty token strings
// become "[EMPTY_<id>]" (llama.cpp). Throws ModelLoadError naming the file for
// a missing vocabulary, another tokenizer model (bert, t5, rwkv, ...), an
// unknown / unsupported pre-tokenizer name, "gpt2" without merges, arrays of
// the wrong length, or an otherwise inconsistent spec.
TokenizerSpec tokenizer_spec_from_gguf(const GgufFile& file);

}  // namespace kvs
