#include "server/api/openai_parse.h"

#include <cctype>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "server/api/api_error.h"
#include "server/api/request_json.h"
#include "server/api/structured_parse.h"

namespace kvs {
namespace {

using namespace request_json;  // NOLINT: json (ordered), bad, field, number, integer, boolean, string_field

json parse_object(const std::string& body) {
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception& e) {
    // NOTE: not only parse_error: a number too large for a double (1e400) is
    // json::out_of_range (found by fuzz/http_body_fuzzer).
    throw ApiError(400, std::string("the body is not valid JSON: ") + e.what(), "", "invalid_json");
  }
  if (!doc.is_object()) bad("", "the body must be a JSON object");
  return doc;
}

std::vector<int32_t> token_ids(const json& value, const char* name) {
  std::vector<int32_t> ids;
  for (const json& id : value) {
    if (!id.is_number_integer()) bad(name, std::string("'") + name + "' token ids must be integers");
    const int64_t v = id.get<int64_t>();
    if (v < 0 || v > std::numeric_limits<int32_t>::max()) bad(name, std::string("'") + name + "' has an invalid token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

void parse_stop(const json& doc, GenerationOptions& options) {
  if (const json* stop = field(doc, "stop")) {
    if (stop->is_string()) {
      options.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const json& s : *stop) {
        if (!s.is_string()) bad("stop", "'stop' must be a string or a list of strings");
        options.stop.push_back(s.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or a list of strings");
    }
    for (const std::string& s : options.stop) {
      if (s.empty()) bad("stop", "'stop' strings must not be empty");
    }
  }
  if (const json* ids = field(doc, "stop_token_ids")) {
    if (!ids->is_array()) bad("stop_token_ids", "'stop_token_ids' must be a list of integers");
    options.stop_token_ids = token_ids(*ids, "stop_token_ids");
  }
}

// OpenAI's logit_bias: {"token id": bias}. Ids are checked against the
// vocabulary later (add_choices); here the shape and the range.
void parse_logit_bias(const json& doc, SamplingParams& s) {
  const json* biases = field(doc, "logit_bias");
  if (biases == nullptr) return;
  if (!biases->is_object()) bad("logit_bias", "'logit_bias' must be an object mapping token ids to biases");
  for (const auto& [key, value] : biases->items()) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (key.empty() || used != key.size() || id < 0 || id > std::numeric_limits<int32_t>::max() ||
        !std::isdigit(static_cast<unsigned char>(key[0]))) {
      bad("logit_bias", "'logit_bias' keys must be token ids, got '" + key + "'");
    }
    if (!value.is_number()) bad("logit_bias", "'logit_bias' values must be numbers");
    const double bias = value.get<double>();
    if (!(bias >= -100.0 && bias <= 100.0)) {
      bad("logit_bias", "'logit_bias' values must be in [-100, 100], got " + value.dump() + " for token " + key);
    }
    s.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(bias));
  }
}

// Fields of OpenAI's API that kvserve does not implement: a 400 naming the
// field rather than a response that silently ignores it.
void reject_unimplemented(const json& doc) {
  for (const char* name : {"functions", "function_call"}) {
    if (field(doc, name) != nullptr) {
      bad(name, std::string("'") + name + "' (deprecated function calling) is not supported; use 'tools' and 'tool_choice'");
    }
  }
  if (const json* suffix = field(doc, "suffix")) {
    if (!suffix->is_string() || !suffix->get<std::string>().empty()) bad("suffix", "'suffix' is not supported");
  }
  const int64_t best_of = integer(doc, "best_of", 1);
  if (best_of < 1) bad("best_of", "'best_of' must be at least 1");
  if (best_of > 1) bad("best_of", "'best_of' greater than 1 is not supported");
}

// Everything but the prompt / messages and the logprobs fields (their shape
// differs between the two endpoints).
// The `kvserve` object carries our own options; being our namespace, it is
// strict: anything unknown in it is an error rather than silently ignored.
void parse_kvserve_extension(const json& doc, GenerationOptions& options) {
  const json* extension = field(doc, "kvserve");
  if (extension == nullptr) return;
  if (!extension->is_object()) bad("kvserve", "'kvserve' must be an object");
  for (const auto& [key, value] : extension->items()) {
    if (key != "priority" && key != "kv_policy" && key != "kv_budget") {
      bad("kvserve." + key, "unknown kvserve option '" + key + "' (known: priority, kv_policy, kv_budget)");
    }
  }
  const int64_t priority = integer(*extension, "priority", 0);
  if (priority < -1000000 || priority > 1000000) bad("kvserve.priority", "'priority' must be within +-1000000");
  options.priority = static_cast<int32_t>(priority);
  if (const json* policy = field(*extension, "kv_policy")) {
    if (!policy->is_string()) bad("kvserve.kv_policy", "'kv_policy' must be a string (one of " + kv_policy_names() + ")");
    try {
      options.kv_policy = parse_kv_policy(policy->get<std::string>());
    } catch (const InvalidArgument& e) {
      bad("kvserve.kv_policy", e.what());
    }
  }
  if (const json* budget = field(*extension, "kv_budget")) {
    if (!budget->is_number()) bad("kvserve.kv_budget", "'kv_budget' must be a number");
    options.kv_budget = budget->get<double>();
  }
}

GenerationOptions parse_options(const json& doc) {
  GenerationOptions options;
  options.model = string_field(doc, "model");
  // max_completion_tokens (OpenAI's newer name) wins; errors name the field given.
  const char* max_name = field(doc, "max_completion_tokens") != nullptr ? "max_completion_tokens" : "max_tokens";
  if (field(doc, max_name) != nullptr) options.max_tokens = integer(doc, max_name, 0);
  if (options.max_tokens && *options.max_tokens < 1) bad(max_name, std::string("'") + max_name + "' must be at least 1");
  SamplingParams& s = options.sampling;
  s.temperature = static_cast<float>(number(doc, "temperature", 1.0));
  s.top_p = static_cast<float>(number(doc, "top_p", 1.0));
  // vLLM: -1 and 0 both consider every token; other negatives are an error.
  const int64_t top_k = integer(doc, "top_k", 0);
  if (top_k < -1 || top_k > std::numeric_limits<int32_t>::max()) {
    bad("top_k", "'top_k' must be -1 or 0 (disabled) or at least 1, got " + std::to_string(top_k));
  }
  s.top_k = static_cast<int32_t>(top_k);
  s.min_p = static_cast<float>(number(doc, "min_p", 0.0));
  s.presence_penalty = static_cast<float>(number(doc, "presence_penalty", 0.0));
  s.frequency_penalty = static_cast<float>(number(doc, "frequency_penalty", 0.0));
  s.repetition_penalty = static_cast<float>(number(doc, "repetition_penalty", 1.0));
  if (field(doc, "seed") != nullptr) {
    const json& seed = doc["seed"];
    if (!seed.is_number_integer()) bad("seed", "'seed' must be an integer");
    s.has_seed = true;
    s.seed = seed.is_number_unsigned() ? seed.get<uint64_t>() : static_cast<uint64_t>(seed.get<int64_t>());
  }
  parse_logit_bias(doc, s);
  s.min_tokens = integer(doc, "min_tokens", 0);
  if (s.min_tokens < 0) bad("min_tokens", "'min_tokens' must be at least 0");
  if (options.max_tokens && s.min_tokens > *options.max_tokens) {
    bad("min_tokens", "'min_tokens' must not exceed '" + std::string(max_name) + "'");
  }
  try {
    s.validate();
  } catch (const InvalidArgument& e) {
    bad("", e.what());
  }
  options.n = integer(doc, "n", 1);
  // The upper bound is the server's (RequestLimits::max_n, check_request_limits).
  if (options.n < 1) bad("n", "'n' must be at least 1");
  parse_stop(doc, options);
  options.stream = boolean(doc, "stream", false);
  if (const json* stream_options = field(doc, "stream_options")) {
    if (!stream_options->is_object()) bad("stream_options", "'stream_options' must be an object");
    options.include_usage = boolean(*stream_options, "include_usage", false);
  }
  options.ignore_eos = boolean(doc, "ignore_eos", false);
  options.include_stop_str_in_output = boolean(doc, "include_stop_str_in_output", false);
  options.user = string_field(doc, "user");
  parse_kvserve_extension(doc, options);
  if (field(doc, "priority") != nullptr) {
    const int64_t priority = integer(doc, "priority", 0);
    if (priority < -1000000 || priority > 1000000) bad("priority", "'priority' must be within +-1000000");
    const json* extension = field(doc, "kvserve");
    if (extension != nullptr && field(*extension, "priority") != nullptr && priority != options.priority) {
      bad("priority", "'priority' and 'kvserve.priority' differ; give it once");
    }
    options.priority = static_cast<int32_t>(priority);
  }
  reject_unimplemented(doc);
  parse_constraint(doc, options);
  return options;
}

std::vector<PromptInput> parse_prompts(const json& doc) {
  const json* prompt = field(doc, "prompt");
  if (prompt == nullptr) bad("prompt", "'prompt' is required");
  std::vector<PromptInput> prompts;
  const auto text = [](const std::string& s) { return PromptInput{false, s, {}}; };
  const auto tokens = [](std::vector<int32_t> ids) { return PromptInput{true, "", std::move(ids)}; };
  if (prompt->is_string()) {
    prompts.push_back(text(prompt->get<std::string>()));
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number()) {
    prompts.push_back(tokens(token_ids(*prompt, "prompt")));
  } else if (prompt->is_array() && !prompt->empty()) {
    for (const json& item : *prompt) {
      if (item.is_string()) {
        prompts.push_back(text(item.get<std::string>()));
      } else if (item.is_array()) {
        prompts.push_back(tokens(token_ids(item, "prompt")));
      } else {
        bad("prompt", "'prompt' must be a string, a list of strings, or token ids");
      }
    }
  } else {
    bad("prompt", "'prompt' must be a non-empty string, list of strings, or token ids");
  }
  for (const PromptInput& p : prompts) {
    if (p.is_tokens ? p.token_ids.empty() : p.text.empty()) bad("prompt", "'prompt' must not be empty");
  }
  return prompts;
}

std::string message_content(const json& message) {
  const json* content = field(message, "content");
  if (content == nullptr) return "";
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) bad("messages", "message 'content' must be a string or a list of parts");
  std::string text;
  for (const json& part : *content) {
    if (!part.is_object() || string_field(part, "type") != "text") {
      bad("messages", "only text content parts are supported");
    }
    text += string_field(part, "text");
  }
  return text;
}

std::vector<ChatMessage> parse_messages(const json& messages) {
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) bad(where, "each message must be an object");
    const json* role_value = field(message, "role");
    if (role_value == nullptr || !role_value->is_string()) bad(where + ".role", "each message needs a string 'role'");
    std::string role = role_value->get<std::string>();
    // OpenAI's roles; "developer" is OpenAI's newer name for "system".
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer") {
      bad(where + ".role", "'" + role + "' is not one of 'system', 'user', 'assistant', 'tool', 'developer' - '" +
                               where + ".role'");
    }
    if (role == "developer") role = "system";
    ChatMessage parsed{role, message_content(message)};
    if (const json* calls = field(message, "tool_calls")) {
      if (role != "assistant") bad(where + ".tool_calls", "only assistant messages have 'tool_calls'");
      parsed.tool_calls = parse_message_tool_calls(*calls, where + ".tool_calls");
    }
    if (const json* id = field(message, "tool_call_id")) {
      if (!id->is_string()) bad(where + ".tool_call_id", "'tool_call_id' must be a string");
      parsed.tool_call_id = id->get<std::string>();
    }
    if (const json* name = field(message, "name")) {
      if (!name->is_string()) bad(where + ".name", "a message's 'name' must be a string");
      parsed.name = name->get<std::string>();
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

}  // namespace

CompletionRequest parse_completion_request(const std::string& body) {
  const json doc = parse_object(body);
  CompletionRequest request;
  request.options = parse_options(doc);
  request.prompts = parse_prompts(doc);
  request.echo = boolean(doc, "echo", false);
  const int64_t logprobs = integer(doc, "logprobs", -1);
  if (logprobs > 20) bad("logprobs", "'logprobs' must be at most 20");
  request.options.logprobs = logprobs >= 0;
  request.options.top_logprobs = std::max<int64_t>(logprobs, 0);
  return request;
}

ChatRequest parse_chat_request(const std::string& body) {
  const json doc = parse_object(body);
  ChatRequest request;
  request.options = parse_options(doc);
  const json* messages = field(doc, "messages");
  if (messages == nullptr || !messages->is_array() || messages->empty()) {
    bad("messages", "'messages' must be a non-empty list");
  }
  request.messages = parse_messages(*messages);
  if (const json* tools = field(doc, "tools")) request.tools = parse_tools(*tools);
  request.tool_choice = parse_tool_choice(doc, request.tools);
  request.parallel_tool_calls = boolean(doc, "parallel_tool_calls", true);
  const bool forced = request.tool_choice.mode == ToolChoice::Mode::kRequired ||
                      request.tool_choice.mode == ToolChoice::Mode::kFunction;
  if (forced && request.options.constraint) {
    bad("tool_choice", "'tool_choice' " +
                           std::string(request.tool_choice.mode == ToolChoice::Mode::kRequired ? "'required'" : "naming a function") +
                           " and '" + request.options.constraint_param + "' both constrain the output; give one");
  }
  request.options.logprobs = boolean(doc, "logprobs", false);
  request.options.top_logprobs = integer(doc, "top_logprobs", 0);
  if (request.options.top_logprobs < 0 || request.options.top_logprobs > 20) {
    bad("top_logprobs", "'top_logprobs' must be between 0 and 20");
  }
  return request;
}

TokenizeRequest parse_tokenize_request(const std::string& body) {
  const json doc = parse_object(body);
  TokenizeRequest request;
  request.model = string_field(doc, "model");
  const json* prompt = field(doc, "prompt");
  const json* messages = field(doc, "messages");
  if ((prompt == nullptr) == (messages == nullptr)) bad("prompt", "give exactly one of 'prompt' and 'messages'");
  if (prompt != nullptr) {
    if (!prompt->is_string()) bad("prompt", "'prompt' must be a string");
    request.prompt = prompt->get<std::string>();
    request.add_special_tokens = boolean(doc, "add_special_tokens", true);
  } else {
    if (!messages->is_array() || messages->empty()) bad("messages", "'messages' must be a non-empty list");
    request.is_chat = true;
    request.messages = parse_messages(*messages);
    if (const json* tools = field(doc, "tools")) request.tools = parse_tools(*tools);
    request.add_generation_prompt = boolean(doc, "add_generation_prompt", true);
  }
  return request;
}

DetokenizeRequest parse_detokenize_request(const std::string& body) {
  const json doc = parse_object(body);
  DetokenizeRequest request;
  request.model = string_field(doc, "model");
  const json* tokens = field(doc, "tokens");
  if (tokens == nullptr || !tokens->is_array()) bad("tokens", "'tokens' must be a list of token ids");
  request.tokens = token_ids(*tokens, "tokens");
  return request;
}

}  // namespace kvs
