#pragma once
// A model loaded into memory: config, weights (canonical HF names and layout),
// tokenizer description and chat template. Same result whether it came from a
// GGUF file or an HF folder.
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/loader/weight_tensor.h"
#include "engine/loader/model_config.h"
#include "engine/tokenizer/tokenizer_spec.h"

namespace kvs {

// Ownership: owns the storage every WeightTensor::data points into (`storage`,
// an mmap or heap buffers). Move-only in practice; share it through
// std::shared_ptr<const LoadedModel>. Immutable after loading, so it is safe
// to read from any number of threads.
struct LoadedModel {
  ModelConfig config;
  // Canonical HF tensor names, e.g. "model.embed_tokens.weight",
  // "model.layers.{i}.self_attn.{q,k,v,o}_proj.weight" (+ ".bias" for q/k/v when
  // config.attention_bias), "model.layers.{i}.mlp.{gate,up,down}_proj.weight",
  // "model.layers.{i}.{input,post_attention}_layernorm.weight", "model.norm.weight",
  // "lm_head.weight" (absent when config.tie_word_embeddings).
  // Q/K projection rows are in HF order (rotate-half RoPE); the GGUF loader
  // undoes llama.cpp's interleaving permutation. Phi-3's fused qkv_proj /
  // gate_up_proj are split into these names (fused_tensors.h); Qwen 3 and
  // Gemma 3 add "model.layers.{i}.self_attn.{q,k}_norm.weight".
  std::map<std::string, WeightTensor> tensors;
  TokenizerSpec tokenizer;
  std::string chat_template;  // Jinja source, empty if the model ships none
  std::string source_path;    // the file or folder it was loaded from
  bool from_gguf = false;     // loaded from a GGUF file (llama.cpp's format)
  std::shared_ptr<void> storage;

  // Throws ModelLoadError if the tensor is missing.
  const WeightTensor& tensor(const std::string& name) const;
  const WeightTensor* find(const std::string& name) const;
};

// Loads a .gguf file (gguf_model.h) or an HF folder (config.json +
// *.safetensors [+ tokenizer.json + tokenizer_config.json]; hf_folder.h),
// chosen by the path: a folder, or a file with the GGUF magic or a .gguf
// name. Checks every tensor the config implies is present with the right
// shape and a supported type, and that there are no others. `tokenizer` is
// empty (no tokens) when the source carries no tokenizer.
// Throws ModelLoadError with a clear message (naming the file) on anything
// wrong, including a path that is neither.
std::shared_ptr<const LoadedModel> load_model(const std::string& path);

}  // namespace kvs
