#include "engine/chat/tool_call_grammar.h"

#include "engine/chat/python_json.h"
#include "engine/errors.h"

namespace kvs {

std::string gbnf_literal(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[static_cast<unsigned char>(c) >> 4];
          out += kHex[static_cast<unsigned char>(c) & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string tool_call_gbnf(const std::vector<ToolDefinition>& tools, ToolCallFormat format,
                           const ToolCallGrammarOptions& options,
                           const ArgumentsGrammar& arguments) {
  if (tools.empty()) throw InvalidArgument("tool calls need at least one tool");
  std::string open, close, separator;
  std::string_view arguments_key = "arguments";
  bool parallel = options.parallel;
  switch (format) {
    case ToolCallFormat::kHermes:
      open = "<tool_call>\n", close = "\n</tool_call>", separator = "\n";
      break;
    case ToolCallFormat::kGemma:
      open = "```tool_call\n", close = "\n```", separator = "\n";
      break;
    case ToolCallFormat::kLlama31Json:
      arguments_key = "parameters";
      parallel = false;
      break;
  }
  std::string functions;  // the alternatives of tc-body
  std::string rules;
  bool found = options.only_function.empty();
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolDefinition& tool = tools[i];
    if (tool.name.empty()) throw InvalidArgument("tool " + std::to_string(i) + " has no name");
    if (!options.only_function.empty() && tool.name != options.only_function) continue;
    found = true;
    const std::string index = std::to_string(i);
    const std::string prefix = "tc-arg" + index + "-";
    const std::string head = "{\"name\": " + chat::python_json_string(tool.name) + ", \"" +
                             std::string(arguments_key) + "\": ";
    if (!functions.empty()) functions += " | ";
    functions += "tc-fn" + index;
    rules += "tc-fn" + index + " ::= " + gbnf_literal(head) + " " + prefix + "root " +
             gbnf_literal("}") + "\n";
    rules += arguments(tool, prefix);
    if (!rules.empty() && rules.back() != '\n') rules += '\n';
  }
  if (!found) {
    throw InvalidArgument("tool_choice names function '" + options.only_function +
                          "', which is not among the tools");
  }
  std::string call = "tc-call ::= ";
  if (!open.empty()) call += gbnf_literal(open) + " ";
  call += "tc-body";
  if (!close.empty()) call += " " + gbnf_literal(close);
  std::string root = "root ::= tc-call";
  if (parallel) root += " (" + gbnf_literal(separator) + " tc-call)*";
  return root + "\n" + call + "\ntc-body ::= " + functions + "\n" + rules;
}

}  // namespace kvs
