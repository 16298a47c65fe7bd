#pragma once
// A Hugging Face model folder -> LoadedModel.
#include <memory>
#include <string>

#include "engine/loader/loaded_model.h"

namespace kvs {

// Reads `dir`:
//   config.json (required) [+ generation_config.json]  -> config (hf_config.h)
//   weights: model.safetensors, else the shards listed in
//            model.safetensors.index.json, else every *.safetensors file;
//            F32 / F16 / BF16 only. With an index, each tensor is read
//            from the shard it names. `*.rotary_emb.inv_freq` buffers are
//            skipped, and lm_head.weight when the embeddings are tied.
//   tokenizer.json [+ tokenizer_config.json] -> tokenizer (tokenizer_json.h);
//            the spec stays empty when the folder has no tokenizer.json.
//   chat template: chat_template.jinja, else tokenizer_config.json's
//            "chat_template" (a string, or a list of {name, template} where
//            "default" wins); empty if neither exists.
// Tensor data stays in the maps unless it is misaligned for its element
// type, in which case it is copied. Throws ModelLoadError("<file>: ...").
std::shared_ptr<const LoadedModel> load_hf_folder(const std::string& dir);

}  // namespace kvs
