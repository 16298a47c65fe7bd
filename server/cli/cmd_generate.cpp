#include <chrono>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "engine/model/kv_storage.h"
#include "scheduler/engine_client.h"
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

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct GenerateOutcome {
  std::vector<int32_t> tokens;
  std::string finish_reason = "length";
  double prefill_seconds = 0.0;  // submit -> first token
  double decode_seconds = 0.0;   // first token -> last
};

// One request through the engine; on_token sees each generated token.
template <typename OnToken>
GenerateOutcome run_request(EngineClient& engine, const GenerateCommand& command, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& stop_ids, OnToken&& on_token) {
  const int64_t context = engine.config().scheduler.max_model_len;
  const int64_t prompt_len = static_cast<int64_t>(prompt.size());
  if (prompt.empty()) throw InvalidArgument("the prompt is empty");
  if (prompt_len + 1 > context) {
    throw InvalidArgument("the prompt has " + std::to_string(prompt_len) + " tokens; the model's context is " +
                          std::to_string(context));
  }
  GenerateOutcome outcome;
  Request request;
  request.prompt_token_ids = prompt;
  request.max_tokens = std::min<int64_t>(command.max_tokens, context - prompt_len);
  request.sampling = command.sampling;
  request.stop_token_ids = stop_ids;
  if (request.max_tokens == 0) return outcome;
  const auto start = std::chrono::steady_clock::now();
  auto first = start;
  RequestHandle handle = engine.submit(request);
  TokenEvent event;
  while (handle.next(event)) {
    if (event.finish_reason == FinishReason::kError) throw Error(event.error);
    if (event.token_id >= 0) {
      if (outcome.tokens.empty()) first = std::chrono::steady_clock::now();
      outcome.tokens.push_back(event.token_id);
      on_token(event.token_id);
    }
    if (event.finish_reason != FinishReason::kNone) outcome.finish_reason = finish_reason_name(event.finish_reason);
  }
  outcome.prefill_seconds = seconds_between(start, first);
  outcome.decode_seconds = seconds_between(first, std::chrono::steady_clock::now());
  return outcome;
}

// Generates for one prompt; streams text to stdout unless --json. Returns
// the generated text.
std::string generate_one(ModelBundle& bundle, EngineClient& engine, const GenerateCommand& command,
                         const std::vector<int32_t>& prompt) {
  IncrementalDetokenizer detokenizer(*bundle.tokenizer, /*skip_special=*/true);
  std::string text;
  const auto on_token = [&](int32_t id) {
    const std::string piece = detokenizer.push(id);
    text += piece;
    if (!command.json) std::cout << piece << std::flush;
  };
  const GenerateOutcome result = run_request(engine, command, prompt, bundle.stop_token_ids(), on_token);
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

// The engine for the CLI: one sequence at a time, a pool as large as the
// model's context, prompts prefilled in chunks of 512 tokens.
EngineConfig cli_engine_config(const GenerateCommand& command, const ForwardModel& forward_model) {
  const ModelConfig& model = forward_model.config();
  const int num_shards = forward_model.num_kv_shards();
  EngineConfig config;
  config.kv_policy = kv_policy_from_flags(command.kv_policy, command.kv_budget);
  config.cache.dtype = kv_cache_dtype_from_flag(command.kv_cache_dtype, forward_model);
  config.cache.memory_bytes =
      KvStorage::bytes_per_block(model, config.cache.block_size, config.cache.dtype, num_shards) *
      ((model.max_position_embeddings + config.cache.block_size - 1) / config.cache.block_size);
  config.scheduler.max_num_batched_tokens = 512;
  config.scheduler.max_num_seqs = 1;
  return config;
}

}  // namespace

int run_generate(const GenerateCommand& command) {
  command.sampling.validate();
  kv_policy_from_flags(command.kv_policy, command.kv_budget);  // fail before the model loads
  ModelOptions options;
  options.num_threads = command.threads;
  options.dequantize_weights = command.f32_weights;
  DeviceOptions device;
  device.device = command.device;
  device.enforce_eager = command.enforce_eager;
  device.max_num_seqs = 1;
  device.max_num_batched_tokens = 512;
  ModelBundle bundle = load_bundle(command.model.empty() ? default_model_path() : command.model, options,
                                   /*with_model=*/true, command.tensor_parallel_size, device);
  EngineClient engine(*bundle.model, cli_engine_config(command, *bundle.model));
  std::vector<ChatMessage> history;
  if (!command.prompt.empty()) {
    generate_one(bundle, engine, command, prompt_ids(bundle, command, history, command.prompt));
    return 0;
  }
  // Interactive: one prompt per line; in chat mode the conversation carries on.
  std::string line;
  while (true) {
    std::cerr << (command.chat ? "you> " : "prompt> ") << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    try {
      const std::string reply = generate_one(bundle, engine, command, prompt_ids(bundle, command, history, line));
      if (command.chat) history.push_back({"assistant", reply});
    } catch (const InvalidArgument& e) {
      std::cerr << "kvserve: " << e.what() << "\n";
      if (command.chat) history.clear();
    }
  }
  return 0;
}

}  // namespace kvs
