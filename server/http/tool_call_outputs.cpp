#include "server/http/tool_call_outputs.h"

#include <utility>

namespace kvs {

ToolCallOutputs::ToolCallOutputs(ToolCallFormat format, size_t num_choices) {
  parsers_.reserve(num_choices);
  for (size_t i = 0; i < num_choices; ++i) parsers_.emplace_back(format);
}

void ToolCallOutputs::apply(ChoiceDelta& delta) {
  ToolCallParser& parser = parsers_.at(delta.index);
  ToolParseDelta parsed = parser.push(delta.text);
  if (!delta.finish_reason.empty()) {
    ToolParseDelta rest = parser.finish();
    parsed.content += rest.content;
    for (ToolCallDelta& call : rest.tool_calls) parsed.tool_calls.push_back(std::move(call));
    if (delta.finish_reason == "stop" && !parser.result().tool_calls.empty()) delta.finish_reason = "tool_calls";
  }
  delta.text = std::move(parsed.content);
  delta.tool_calls = std::move(parsed.tool_calls);
}

void parse_tool_call_results(ToolCallFormat format, std::vector<ChoiceResult>& results) {
  for (ChoiceResult& r : results) {
    ParsedToolOutput parsed = parse_tool_calls(r.text, format);
    r.text = std::move(parsed.content);
    r.tool_calls = std::move(parsed.tool_calls);
    if (r.finish_reason == "stop" && !r.tool_calls.empty()) r.finish_reason = "tool_calls";
  }
}

}  // namespace kvs
