#pragma once
// Everything the front ends need of one model: weights + forward pass,
// tokenizer, chat template.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/loader/loaded_model.h"
#include "engine/model/forward_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"

namespace kvs {

struct ModelBundle {
  std::shared_ptr<const LoadedModel> loaded;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ForwardModel> model;  // LlamaModel, or TensorParallelModel when sharded

  // The model's own chat template, or the style named by `override_name`
  // ("" = use the model's). Throws InvalidArgument if neither is usable.
  ChatTemplate chat_template(const std::string& override_name) const;
  // Prompt ids for plain text (BOS added when the model wants one).
  std::vector<int32_t> encode_prompt(const std::string& text) const;
  // Prompt ids for a conversation rendered by `chat` (special tokens parsed;
  // BOS added unless the template already wrote it).
  std::vector<int32_t> encode_chat(const ChatTemplate& chat, const std::vector<ChatMessage>& messages) const;
  // Token ids that end generation (the tokenizer's end-of-generation set plus
  // the config's eos ids).
  std::vector<int32_t> stop_token_ids() const;
  std::string token_text(int32_t id) const;
};

// The default model: $KVSERVE_MODEL if set, else the file the set-up script
// fetched into the repository's models/ folder.
std::string default_model_path();

// Loads a .gguf file or HF folder. with_model = false loads the tokenizer only
// (no forward-pass weights prepared). tensor_parallel_size > 1 shards the
// model over that many CPU ranks (InvalidArgument when it does not divide
// the model's heads).
ModelBundle load_bundle(const std::string& path, const ModelOptions& options, bool with_model = true,
                        int tensor_parallel_size = 1);

}  // namespace kvs
