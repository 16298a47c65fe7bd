// Harness: tool calls out of model output (engine/chat/tool_call_parser.h).
//
// Input: byte 0 picks the format (% 3: Hermes, Llama 3.1 JSON, Gemma); byte 1
// is the streaming chunk size (1 + b % 16); the rest is the model's text.
// Contract: push / finish never throw; the streamed deltas add up to the
// parser's result and to the one-shot parse_tool_calls of the same text (ids
// from a counter); each call's first delta has an id and a name. Never a
// crash, leak, UB or a hang.
// Seeds: fuzz/corpus/tool_call_parser_fuzzer (fuzz/make_seeds.py).
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/chat/tool_call_parser.h"
#include "fuzz/fuzz_common.h"

namespace {

std::function<std::string()> counter_ids() {
  return [n = 0]() mutable { return "call_" + std::to_string(n++); };
}

bool same(const kvs::ParsedToolOutput& a, const kvs::ParsedToolOutput& b) {
  if (a.content != b.content || a.tool_calls.size() != b.tool_calls.size()) return false;
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    const kvs::ToolCall &x = a.tool_calls[i], &y = b.tool_calls[i];
    if (x.id != y.id || x.name != y.name || x.arguments_json != y.arguments_json) return false;
  }
  return true;
}

void add(const kvs::ToolParseDelta& delta, kvs::ParsedToolOutput& sum) {
  sum.content += delta.content;
  for (const kvs::ToolCallDelta& call : delta.tool_calls) {
    if (call.index == sum.tool_calls.size()) {
      KVS_FUZZ_CHECK(!call.id.empty() && !call.name.empty());
      sum.tool_calls.push_back({call.id, call.name, call.arguments});
    } else {
      KVS_FUZZ_CHECK(call.index + 1 == sum.tool_calls.size());
      KVS_FUZZ_CHECK(call.id.empty() && call.name.empty());
      sum.tool_calls.back().arguments_json += call.arguments;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr kvs::ToolCallFormat kFormats[] = {
      kvs::ToolCallFormat::kHermes, kvs::ToolCallFormat::kLlama31Json, kvs::ToolCallFormat::kGemma};
  const kvs::ToolCallFormat format = kFormats[data[0] % 3];
  const size_t chunk = 1 + data[1] % 16;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const kvs::ParsedToolOutput whole = kvs::parse_tool_calls(text, format, counter_ids());
  kvs::ToolCallParser parser(format, counter_ids());
  kvs::ParsedToolOutput sum;
  for (size_t at = 0; at < text.size(); at += chunk) add(parser.push(text.substr(at, chunk)), sum);
  add(parser.finish(), sum);
  KVS_FUZZ_CHECK(same(sum, parser.result()));
  KVS_FUZZ_CHECK(same(sum, whole));
  return 0;
}
