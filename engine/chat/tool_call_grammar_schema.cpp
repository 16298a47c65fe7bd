// The default arguments grammar (JSON Schema), apart from tool_call_grammar.cpp
// so that users of the wrapper alone do not pull in the schema compiler.
#include "engine/chat/tool_call_grammar.h"
#include "engine/grammar/json_schema.h"

namespace kvs {

std::string tool_call_gbnf(const std::vector<ToolDefinition>& tools, ToolCallFormat format,
                           const ToolCallGrammarOptions& options) {
  return tool_call_gbnf(tools, format, options,
                        [](const ToolDefinition& tool, std::string_view prefix) {
                          if (tool.parameters_json.empty()) {
                            return grammar::json_object_gbnf(prefix);
                          }
                          return grammar::json_schema_to_gbnf(tool.parameters_json, prefix);
                        });
}

}  // namespace kvs
