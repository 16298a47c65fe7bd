#pragma once
// LoadedModel -> Hugging Face folder (float32 weights).
#include <string>

#include "engine/loader/loaded_model.h"

namespace kvs {

// Writes into `out_dir` (created if missing; existing files of the same
// names are overwritten):
//   model.safetensors        every tensor dequantized to F32 (dequantize.h),
//                            canonical names, HF shapes and row order
//   config.json              LlamaForCausalLM / Qwen2ForCausalLM (hf_config.h)
//   generation_config.json   bos / eos ids
//   tokenizer.json           tokenizer_json_from_spec(model.tokenizer)
//   tokenizer_config.json    tokenizer_config_json_from_spec(model.tokenizer)
//                            + chat_template + model_max_length
// (tokenizer.json only when the model has a tokenizer; tokenizer_config.json
// when it has a tokenizer or a chat template).
// load_hf_folder(out_dir) then gives an equal config and F32 tensors whose
// bytes equal dequantize_tensor() of the originals. Memory: one tensor's F32
// copy at a time. Throws kvs::Error if a file cannot be written.
void export_hf_folder(const LoadedModel& model, const std::string& out_dir);

}  // namespace kvs
