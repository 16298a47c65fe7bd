#include "server/cli/model_bundle.h"

#include <algorithm>
#include <cstdlib>

#include "engine/errors.h"
#include "engine/model/tensor_parallel_model.h"

namespace kvs {

std::string default_model_path() {
  if (const char* env = std::getenv("KVSERVE_MODEL"); env != nullptr && *env != '\0') return env;
  return KVS_DEFAULT_MODEL_PATH;
}

ModelBundle load_bundle(const std::string& path, const ModelOptions& options, bool with_model,
                        int tensor_parallel_size) {
  ModelBundle bundle;
  bundle.loaded = load_model(path);
  bundle.tokenizer = Tokenizer::create(bundle.loaded->tokenizer);
  if (with_model) bundle.model = create_model(bundle.loaded, options, tensor_parallel_size);
  return bundle;
}

std::string ModelBundle::token_text(int32_t id) const {
  const TokenizerSpec& spec = tokenizer->spec();
  if (id < 0 || id >= static_cast<int32_t>(spec.tokens.size())) return "";
  return spec.tokens[static_cast<size_t>(id)];
}

ChatTemplate ModelBundle::chat_template(const std::string& override_name) const {
  const TokenizerSpec& spec = tokenizer->spec();
  const std::string bos = token_text(spec.bos_id), eos = token_text(spec.eos_id);
  if (!override_name.empty()) return ChatTemplate::from_name(override_name, bos, eos);
  if (loaded->chat_template.empty()) {
    throw InvalidArgument("the model ships no chat template; pass --chat-template NAME");
  }
  return ChatTemplate::from_jinja(loaded->chat_template, bos, eos);
}

std::vector<int32_t> ModelBundle::encode_prompt(const std::string& text) const {
  return tokenizer->encode(text, /*add_special=*/true, /*parse_special=*/false);
}

std::vector<int32_t> ModelBundle::encode_chat(const ChatTemplate& chat, const std::vector<ChatMessage>& messages) const {
  const std::string rendered = chat.render(messages, /*add_generation_prompt=*/true);
  const std::string bos = token_text(tokenizer->spec().bos_id);
  const bool has_bos = !bos.empty() && rendered.compare(0, bos.size(), bos) == 0;
  return tokenizer->encode(rendered, /*add_special=*/!has_bos, /*parse_special=*/true);
}

std::vector<int32_t> ModelBundle::stop_token_ids() const {
  std::vector<int32_t> ids = tokenizer->spec().eog_ids;
  for (int64_t id : loaded->config.eos_token_ids) ids.push_back(static_cast<int32_t>(id));
  if (tokenizer->spec().eos_id >= 0) ids.push_back(tokenizer->spec().eos_id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace kvs
