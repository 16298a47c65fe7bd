// Harness: the HTTP request bodies of /v1/completions and /v1/chat/completions
// (server/api/openai_parse.h), the server's request limits
// (server/serving/request_limits.h) and the kvserve extension's KV policy
// (server/serving/kv_policy_request.h).
//
// Input: byte 0 bit 0 picks the endpoint (0 completions, 1 chat); the rest is
// the body, any bytes. Contract: parse_completion_request /
// parse_chat_request return a request whose documented ranges hold (n >= 1,
// max_tokens >= 1 when set, top_logprobs 0..20, no empty stop string,
// non-empty prompts / messages, token ids >= 0, a constraint named by its
// field, tool names unique and tool_choice naming one of them, no forced
// tool_choice beside a constraint) or throw ApiError(400);
// check_request_limits with the default limits passes only a request within
// them (n <= 128, at most 16 stop strings of at most 256 bytes) or throws
// ApiError(400); resolve_kv_policy on the request's kv_policy / kv_budget
// returns a valid spec or nothing, or throws ApiError(400). Never a crash,
// leak, UB, any other exception or a hang.
// Seeds: fuzz/corpus/http_body_fuzzer (fuzz/make_seeds.py).
#include <cstdint>
#include <set>
#include <string>

#include "engine/errors.h"
#include "fuzz/fuzz_common.h"
#include "server/api/api_error.h"
#include "server/api/openai_parse.h"
#include "server/serving/kv_policy_request.h"
#include "server/serving/request_limits.h"

namespace {

void check_options(const kvs::GenerationOptions& options) {
  KVS_FUZZ_CHECK(options.n >= 1);
  KVS_FUZZ_CHECK(!options.max_tokens || *options.max_tokens >= 1);
  KVS_FUZZ_CHECK(options.top_logprobs >= 0 && options.top_logprobs <= 20);
  for (const std::string& stop : options.stop) KVS_FUZZ_CHECK(!stop.empty());
  for (int32_t id : options.stop_token_ids) KVS_FUZZ_CHECK(id >= 0);
  KVS_FUZZ_CHECK(options.constraint.has_value() == !options.constraint_param.empty());
  if (options.constraint && options.constraint->kind == kvs::grammar::ConstraintSpec::Kind::kChoice) {
    KVS_FUZZ_CHECK(!options.constraint->choices.empty());
  }
  const kvs::RequestLimits limits;
  try {
    kvs::check_request_limits(limits, options);
    KVS_FUZZ_CHECK(options.n <= limits.max_n);
    KVS_FUZZ_CHECK(static_cast<int64_t>(options.stop.size()) <= limits.max_stop);
    for (const std::string& stop : options.stop) KVS_FUZZ_CHECK(static_cast<int64_t>(stop.size()) <= limits.max_stop_bytes);
  } catch (const kvs::ApiError& e) {
    KVS_FUZZ_CHECK(e.status() == 400);
  }
  for (const kvs::KvPolicySpec& server_default :
       {kvs::KvPolicySpec{}, kvs::KvPolicySpec{kvs::KvPolicyKind::kStreaming, 64.0}}) {
    try {
      const auto spec = kvs::resolve_kv_policy(options.kv_policy, options.kv_budget, server_default);
      if (spec) spec->validate();  // documented: the result is valid
    } catch (const kvs::ApiError& e) {
      KVS_FUZZ_CHECK(e.status() == 400);
    }
  }
}

void check_tools(const kvs::ChatRequest& request) {
  using Mode = kvs::ToolChoice::Mode;
  std::set<std::string> names;
  for (const kvs::ToolDefinition& tool : request.tools) {
    KVS_FUZZ_CHECK(!tool.name.empty() && tool.name.size() <= 64);
    KVS_FUZZ_CHECK(names.insert(tool.name).second);
  }
  KVS_FUZZ_CHECK(!request.tools.empty() || request.tool_choice.mode == Mode::kNone);
  if (request.tool_choice.mode == Mode::kFunction) KVS_FUZZ_CHECK(names.count(request.tool_choice.function_name) == 1);
  const bool forced = request.tool_choice.mode == Mode::kRequired || request.tool_choice.mode == Mode::kFunction;
  KVS_FUZZ_CHECK(!(forced && request.options.constraint));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool chat = data[0] & 1;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (chat) {
      const kvs::ChatRequest request = kvs::parse_chat_request(body);
      KVS_FUZZ_CHECK(!request.messages.empty());
      for (const kvs::ChatMessage& message : request.messages) KVS_FUZZ_CHECK(!message.role.empty());
      check_options(request.options);
      check_tools(request);
    } else {
      const kvs::CompletionRequest request = kvs::parse_completion_request(body);
      KVS_FUZZ_CHECK(!request.prompts.empty());
      for (const kvs::PromptInput& prompt : request.prompts) {
        KVS_FUZZ_CHECK(prompt.is_tokens ? !prompt.token_ids.empty() : !prompt.text.empty());
        for (int32_t id : prompt.token_ids) KVS_FUZZ_CHECK(id >= 0);
      }
      check_options(request.options);
    }
  } catch (const kvs::ApiError& e) {
    KVS_FUZZ_CHECK(e.status() == 400);
  }
  return 0;
}
