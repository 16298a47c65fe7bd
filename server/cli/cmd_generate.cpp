#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "engine/model/generate.h"
#include "server/cli/commands.h"
#include "server/cli/model_bundle.h"

namespace kvs {
namespace {

std::vector<int32_t> prompt_ids(const ModelBundle& bundle, const GenerateCommand& command,
                                std::vector<ChatMessage>& history, const std::string& text) {
  if (!command.chat) return bundle.encode_prompt(text);
  if (history.empty() && !command.system.empty()) history.push_back({"system", command.system});
  history.push_back({"user", text});
  return bundle.encode_chat(bundle.chat_template(command.chat_template), history);
}

// Generates for one prompt; streams text to stdout unless --json. Returns
// the generated text.
std::string generate_one(ModelBundle& bundle, const GenerateCommand& command, const std::vector<int32_t>& prompt) {
  GenerateOptions options;
  options.max_tokens = command.max_tokens;
  options.sampling = command.sampling;
  options.stop_token_ids = bundle.stop_token_ids();
  options.kv_dtype = command.kv_cache_dtype == "f32" ? kernels::KvDType::F32 : kernels::KvDType::F16;
  IncrementalDetokenizer detokenizer(*bundle.tokenizer, /*skip_special=*/true);
  std::string text;
  const auto on_token = [&](int32_t id) {
    const std::string piece = detokenizer.push(id);
    text += piece;
    if (!command.json) std::cout << piece << std::flush;
    return true;
  };
  GenerateResult result = generate(*bundle.model, prompt, options, on_token);
  const std::string rest = detokenizer.flush();
  text += rest;
  if (!command.json) {
    std::cout << rest << "\n" << std::flush;
    return text;
  }
  const double decode_tokens = static_cast<double>(result.tokens.size()) - 1.0;
  nlohmann::json out = {
      {"prompt_token_ids", prompt},
      {"token_ids", result.tokens},
      {"text", text},
      {"finish_reason", result.finish_reason},
      {"usage", {{"prompt_tokens", prompt.size()}, {"completion_tokens", result.tokens.size()}}},
      {"timings",
       {{"prefill_seconds", result.prefill_seconds},
        {"decode_seconds", result.decode_seconds},
        {"prefill_tokens_per_second", static_cast<double>(prompt.size()) / std::max(result.prefill_seconds, 1e-9)},
        {"decode_tokens_per_second", decode_tokens > 0 ? decode_tokens / std::max(result.decode_seconds, 1e-9) : 0.0}}}};
  std::cout << out.dump() << "\n" << std::flush;
  return text;
}

}  // namespace

int run_generate(const GenerateCommand& command) {
  command.sampling.validate();
  ModelOptions options;
  options.num_threads = command.threads;
  options.dequantize_weights = command.f32_weights;
  ModelBundle bundle = load_bundle(command.model.empty() ? default_model_path() : command.model, options);
  std::vector<ChatMessage> history;
  if (!command.prompt.empty()) {
    generate_one(bundle, command, prompt_ids(bundle, command, history, command.prompt));
    return 0;
  }
  // Interactive: one prompt per line; in chat mode the conversation carries on.
  std::string line;
  while (true) {
    std::cerr << (command.chat ? "you> " : "prompt> ") << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    try {
      const std::string reply = generate_one(bundle, command, prompt_ids(bundle, command, history, line));
      if (command.chat) history.push_back({"assistant", reply});
    } catch (const InvalidArgument& e) {
      std::cerr << "kvserve: " << e.what() << "\n";
      if (command.chat) history.clear();
    }
  }
  return 0;
}

}  // namespace kvs
