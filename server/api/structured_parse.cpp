#include "server/api/structured_parse.h"

#include <cctype>
#include <optional>
#include <set>
#include <utility>

namespace kvs {

using namespace request_json;  // NOLINT: json (ordered), bad, field, string_field

namespace {

// A JSON Schema given as an object (or, where allowed, as JSON text): its
// compact text with the key order kept.
std::string schema_text(const json& value, const std::string& param, bool allow_string) {
  if (value.is_object()) return value.dump();
  if (allow_string && value.is_string()) {
    json parsed;
    try {
      parsed = json::parse(value.get<std::string>());
    } catch (const json::exception& e) {
      bad(param, "'" + param + "' is not valid JSON: " + e.what());
    }
    if (!parsed.is_object() && !parsed.is_boolean()) bad(param, "'" + param + "' must be a JSON Schema object");
    return parsed.dump();
  }
  bad(param, "'" + param + "' must be a JSON Schema object" + (allow_string ? " (or its JSON text)" : ""));
}

std::optional<grammar::ConstraintSpec> response_format_constraint(const json& format) {
  using Kind = grammar::ConstraintSpec::Kind;
  if (!format.is_object()) bad("response_format", "'response_format' must be an object");
  const std::string type = string_field(format, "type");
  if (type == "text") return std::nullopt;
  if (type == "json_object") return grammar::ConstraintSpec{Kind::kJsonObject, "", {}};
  if (type != "json_schema") {
    bad("response_format", "'response_format.type' must be 'text', 'json_object' or 'json_schema', got '" + type + "'");
  }
  const json* spec = field(format, "json_schema");
  if (spec == nullptr || !spec->is_object()) {
    bad("response_format", "'response_format.json_schema' must be an object {\"name\", \"schema\", \"strict\"}");
  }
  if (field(*spec, "name") != nullptr && !(*spec)["name"].is_string()) {
    bad("response_format", "'response_format.json_schema.name' must be a string");
  }
  if (field(*spec, "strict") != nullptr && !(*spec)["strict"].is_boolean()) {
    bad("response_format", "'response_format.json_schema.strict' must be a boolean");
  }
  const json* schema = field(*spec, "schema");
  // NOTE: OpenAI lets `schema` be absent; then any JSON object will do.
  if (schema == nullptr) return grammar::ConstraintSpec{Kind::kJsonObject, "", {}};
  return grammar::ConstraintSpec{Kind::kJsonSchema, schema_text(*schema, "response_format", false), {}};
}

std::string nonempty_string(const json& value, const std::string& param) {
  if (!value.is_string() || value.get<std::string>().empty()) bad(param, "'" + param + "' must be a non-empty string");
  return value.get<std::string>();
}

bool valid_function_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

// The output constraint: at most one of the fields that set one.
void parse_constraint(const json& doc, GenerationOptions& options) {
  using Kind = grammar::ConstraintSpec::Kind;
  const auto set = [&options](const char* name, std::optional<grammar::ConstraintSpec> spec) {
    if (!spec) return;
    if (options.constraint) {
      bad(name, "'" + options.constraint_param + "' and '" + name +
                    "' both constrain the output; give at most one of them");
    }
    options.constraint = std::move(spec);
    options.constraint_param = name;
  };
  if (const json* format = field(doc, "response_format")) set("response_format", response_format_constraint(*format));
  if (const json* schema = field(doc, "guided_json")) {
    set("guided_json", grammar::ConstraintSpec{Kind::kJsonSchema, schema_text(*schema, "guided_json", true), {}});
  }
  if (const json* regex = field(doc, "guided_regex")) {
    set("guided_regex", grammar::ConstraintSpec{Kind::kRegex, nonempty_string(*regex, "guided_regex"), {}});
  }
  if (const json* choice = field(doc, "guided_choice")) {
    if (!choice->is_array() || choice->empty()) bad("guided_choice", "'guided_choice' must be a non-empty list of strings");
    grammar::ConstraintSpec spec{Kind::kChoice, "", {}};
    for (const json& c : *choice) {
      if (!c.is_string()) bad("guided_choice", "'guided_choice' must be a non-empty list of strings");
      spec.choices.push_back(c.get<std::string>());
    }
    set("guided_choice", std::move(spec));
  }
  if (const json* gbnf = field(doc, "guided_grammar")) {
    set("guided_grammar", grammar::ConstraintSpec{Kind::kGbnf, nonempty_string(*gbnf, "guided_grammar"), {}});
  }
  if (const json* gbnf = field(doc, "grammar")) {
    set("grammar", grammar::ConstraintSpec{Kind::kGbnf, nonempty_string(*gbnf, "grammar"), {}});
  }
  if (const json* schema = field(doc, "json_schema")) {
    set("json_schema", grammar::ConstraintSpec{Kind::kJsonSchema, schema_text(*schema, "json_schema", true), {}});
  }
}

// OpenAI's tools: [{"type": "function", "function": {"name", "description"?, "parameters"?, "strict"?}}].
std::vector<ToolDefinition> parse_tools(const json& tools) {
  if (!tools.is_array()) bad("tools", "'tools' must be a list of tools");
  std::vector<ToolDefinition> out;
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    const std::string where = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) bad(where, "each tool must be an object");
    if (string_field(tool, "type") != "function") bad(where + ".type", "'" + where + ".type' must be 'function'");
    const json* function = field(tool, "function");
    if (function == nullptr || !function->is_object()) bad(where + ".function", "'" + where + ".function' must be an object");
    ToolDefinition definition;
    const json* name = field(*function, "name");
    if (name == nullptr || !name->is_string() || !valid_function_name(name->get<std::string>())) {
      bad(where + ".function.name", "'" + where + ".function.name' must be 1 to 64 of a-z, A-Z, 0-9, '_' and '-'");
    }
    definition.name = name->get<std::string>();
    if (!names.insert(definition.name).second) {
      bad(where + ".function.name", "two tools are named '" + definition.name + "'");
    }
    if (const json* description = field(*function, "description")) {
      if (!description->is_string()) bad(where + ".function.description", "a tool's 'description' must be a string");
      definition.description = description->get<std::string>();
    }
    if (const json* parameters = field(*function, "parameters")) {
      if (!parameters->is_object()) bad(where + ".function.parameters", "a tool's 'parameters' must be a JSON Schema object");
      definition.parameters_json = parameters->dump();
    }
    if (field(*function, "strict") != nullptr && !(*function)["strict"].is_boolean()) {
      bad(where + ".function.strict", "a tool's 'strict' must be a boolean");
    }
    definition.tool_json = tool.dump();
    out.push_back(std::move(definition));
  }
  return out;
}

ToolChoice parse_tool_choice(const json& doc, const std::vector<ToolDefinition>& tools) {
  ToolChoice choice;
  choice.mode = tools.empty() ? ToolChoice::Mode::kNone : ToolChoice::Mode::kAuto;
  const json* value = field(doc, "tool_choice");
  if (value == nullptr) return choice;
  if (value->is_string()) {
    const std::string mode = value->get<std::string>();
    if (mode == "none") choice.mode = ToolChoice::Mode::kNone;
    else if (mode == "auto") choice.mode = ToolChoice::Mode::kAuto;
    else if (mode == "required") choice.mode = ToolChoice::Mode::kRequired;
    else bad("tool_choice", "'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", ...}, got '" + mode + "'");
  } else if (value->is_object()) {
    const json* function = field(*value, "function");
    if (string_field(*value, "type") != "function" || function == nullptr || !function->is_object() ||
        field(*function, "name") == nullptr || !(*function)["name"].is_string()) {
      bad("tool_choice", "a named 'tool_choice' must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    choice.mode = ToolChoice::Mode::kFunction;
    choice.function_name = (*function)["name"].get<std::string>();
  } else {
    bad("tool_choice", "'tool_choice' must be a string or an object");
  }
  if (choice.mode != ToolChoice::Mode::kNone && tools.empty()) {
    bad("tool_choice", "'tool_choice' other than 'none' needs 'tools'");
  }
  if (choice.mode == ToolChoice::Mode::kFunction) {
    bool found = false;
    for (const ToolDefinition& tool : tools) found = found || tool.name == choice.function_name;
    if (!found) bad("tool_choice", "'tool_choice' names the function '" + choice.function_name + "', which is not in 'tools'");
  }
  return choice;
}

// An assistant message's tool_calls: [{"id", "type": "function", "function": {"name", "arguments"}}].
// `arguments` is JSON text as OpenAI sends it (an object is taken as its text).
std::vector<ToolCall> parse_message_tool_calls(const json& calls, const std::string& where) {
  if (!calls.is_array()) bad(where, "'" + where + "' must be a list");
  std::vector<ToolCall> out;
  for (size_t j = 0; j < calls.size(); ++j) {
    const json& call = calls[j];
    const std::string at = where + "[" + std::to_string(j) + "]";
    if (!call.is_object()) bad(at, "each tool call must be an object");
    if (field(call, "type") != nullptr && string_field(call, "type") != "function") {
      bad(at + ".type", "'" + at + ".type' must be 'function'");
    }
    const json* function = field(call, "function");
    if (function == nullptr || !function->is_object()) bad(at + ".function", "'" + at + ".function' must be an object");
    const json* name = field(*function, "name");
    if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
      bad(at + ".function.name", "'" + at + ".function.name' must be a non-empty string");
    }
    ToolCall parsed;
    parsed.id = string_field(call, "id");
    parsed.name = name->get<std::string>();
    if (const json* arguments = field(*function, "arguments")) {
      if (arguments->is_string()) parsed.arguments_json = arguments->get<std::string>();
      else if (arguments->is_object()) parsed.arguments_json = arguments->dump();
      else bad(at + ".function.arguments", "'" + at + ".function.arguments' must be a JSON string");
    } else {
      parsed.arguments_json = "{}";
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

}  // namespace kvs
