#pragma once
// A .gguf file -> LoadedModel (canonical HF names, shapes and row order).
#include <memory>
#include <string>

#include "engine/loader/loaded_model.h"

namespace kvs {

// Canonical HF name of a GGUF tensor ("blk.3.attn_q.weight" ->
// "model.layers.3.self_attn.q_proj.weight"); empty if the name is not part of
// a model of `architecture` (llama, qwen2 or gemma3; gemma3 adds q/k norms
// and its four per-layer norms, and maps ffn_norm to pre_feedforward_layernorm).
std::string hf_tensor_name_from_gguf(const std::string& gguf_name, const std::string& architecture = "llama");

// Maps the file (tensor data stays in the map, except Q/K projections of
// "llama" models, which are un-permuted into owned buffers; see
// rope_permutation.h), reads the config (gguf_config.h), the tokenizer
// (tokenizer_spec_from_gguf, when the file has tokenizer.ggml.tokens; an
// empty spec otherwise) and tokenizer.chat_template, and checks every
// expected tensor. rope_freqs.weight is read into config.rope_scaling, not
// kept as a tensor. Throws ModelLoadError("<path>: ...") on anything wrong.
std::shared_ptr<const LoadedModel> load_gguf_model(const std::string& path);

}  // namespace kvs
