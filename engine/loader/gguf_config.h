#pragma once
// GGUF metadata ({arch}.* and tokenizer.ggml.*) -> ModelConfig.
#include "engine/loader/gguf_file.h"
#include "engine/loader/model_config.h"

namespace kvs {

// Reads general.architecture ("llama" (also Mistral's conversions, which carry
// no sliding window) | "qwen2" | "qwen3" | "phi3" | "gemma3") and {arch}.context_length,
// embedding_length, feed_forward_length, block_count, attention.head_count,
// attention.head_count_kv, attention.key_length / rope.dimension_count (head
// dim; partial rotary is rejected), attention.layer_norm_rms_epsilon,
// rope.freq_base, rope.scaling.{type,factor,original_context_length} /
// rope.scale_linear (types none, linear, yarn; yarn with llama.cpp's defaults
// for the betas and attention scale, its yarn_* keys refused), or Llama-3 scaling recovered from the rope_freqs.weight
// tensor (gguf_rope_freqs.h); vocab_size from tokenizer.ggml.tokens (or
// {arch}.vocab_size); bos/eos from tokenizer.ggml.{bos,eos,eot,eom}_token_id.
// tie_word_embeddings is set from the tensors (no output.weight = tied).
// phi3: rope_factors_long/short (longrope) refused; attention.sliding_window
// ignored, as llama.cpp ignores it.
// Returns a validated config. Throws ModelLoadError("<path>: ...") naming the
// missing or inconsistent key.
ModelConfig model_config_from_gguf(const GgufFile& file);

}  // namespace kvs
