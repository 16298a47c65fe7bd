#pragma once
// GBNF (llama.cpp's notation, engine/grammar/grammar.h) that forces a reply to
// be tool calls in the family's format: OpenAI tool_choice "required" or a
// named function. Each call's arguments follow the function's JSON Schema.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/tool_call_parser.h"
#include "engine/chat/tools.h"

namespace kvs {

struct ToolCallGrammarOptions {
  // "" = any of the tools (tool_choice "required"); else only this function
  // (tool_choice {"type": "function", "function": {"name": ...}}).
  std::string only_function;
  // true: one or more calls (OpenAI parallel_tool_calls, the default); false:
  // exactly one. kLlama31Json always allows exactly one (Llama 3.1's template
  // rejects several calls in one message).
  bool parallel = true;
};

// The GBNF of one function's arguments, whose start rule is "<prefix>root" and
// whose rules all start with `prefix`.
using ArgumentsGrammar =
    std::function<std::string(const ToolDefinition& tool, std::string_view prefix)>;

// Start rule "root". The calls are written exactly as the chat templates render
// them, so the text parses with ToolCallParser:
//   kHermes       "<tool_call>\n{\"name\": \"N\", \"arguments\": ARGS}\n</tool_call>",
//                 calls separated by "\n"
//   kLlama31Json  "{\"name\": \"N\", \"parameters\": ARGS}"
//   kGemma        "```tool_call\n{\"name\": \"N\", \"arguments\": ARGS}\n```", separated by "\n"
// Rule names: "root" and "tc-..." for the wrapper; function i's arguments use the
// prefix "tc-arg<i>-". Throws InvalidArgument when `tools` is empty, a name is
// empty, or only_function names no tool; errors from `arguments` propagate.
std::string tool_call_gbnf(const std::vector<ToolDefinition>& tools, ToolCallFormat format,
                           const ToolCallGrammarOptions& options, const ArgumentsGrammar& arguments);

// As above with ARGS from the function's parameters_json through
// kvs::grammar::json_schema_to_gbnf (any JSON object, json_object_gbnf, when a
// tool has no parameters). Throws InvalidArgument for schemas it cannot compile.
std::string tool_call_gbnf(const std::vector<ToolDefinition>& tools, ToolCallFormat format,
                           const ToolCallGrammarOptions& options = {});

// A GBNF string literal ("...") matching exactly `text` (UTF-8 copied; '"',
// '\\' and control characters escaped).
std::string gbnf_literal(std::string_view text);

}  // namespace kvs
