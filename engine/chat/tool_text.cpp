#include "engine/chat/tool_text.h"

#include "engine/chat/python_json.h"
#include "engine/errors.h"

namespace kvs::chat {

std::string tool_tojson(const ToolDefinition& tool, int indent) {
  if (!tool.tool_json.empty()) {
    std::optional<nlohmann::ordered_json> value = parse_ordered_json(tool.tool_json);
    if (!value) throw InvalidArgument("tool '" + tool.name + "' is not valid JSON");
    return python_json_dumps(*value, indent);
  }
  nlohmann::ordered_json function = nlohmann::ordered_json::object();
  function["name"] = tool.name;
  if (!tool.description.empty()) function["description"] = tool.description;
  if (!tool.parameters_json.empty()) {
    std::optional<nlohmann::ordered_json> parameters = parse_ordered_json(tool.parameters_json);
    if (!parameters) throw InvalidArgument("tool '" + tool.name + "' parameters are not JSON");
    function["parameters"] = std::move(*parameters);
  }
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  object["type"] = "function";
  object["function"] = std::move(function);
  return python_json_dumps(object, indent);
}

std::string arguments_tojson(const ToolCall& call) {
  std::optional<nlohmann::ordered_json> value = parse_ordered_json(call.arguments_json);
  return value ? python_json_dumps(*value) : python_json_string(call.arguments_json);
}

std::string arguments_text(const ToolCall& call) {
  std::optional<nlohmann::ordered_json> value = parse_ordered_json(call.arguments_json);
  return value ? python_json_dumps(*value) : call.arguments_json;
}

bool has_tool_calls(const std::vector<ChatMessage>& messages) {
  for (const ChatMessage& message : messages) {
    if (!message.tool_calls.empty()) return true;
  }
  return false;
}

}  // namespace kvs::chat
