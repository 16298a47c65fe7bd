#include "server/serving/tool_grammar.h"

#include <string>

#include "engine/chat/tool_call_grammar.h"
#include "engine/errors.h"
#include "engine/grammar/json_schema.h"
#include "server/api/api_error.h"

namespace kvs {

std::shared_ptr<const grammar::CompiledGrammar> forced_tool_grammar(const ServingContext& context, ToolCallFormat format,
                                                                   const std::vector<ToolDefinition>& tools,
                                                                   const ToolChoice& choice, bool parallel) {
  if (!context.grammars) throw ApiError(400, "forced tool calls are not available on this server", "tool_choice");
  const bool named = choice.mode == ToolChoice::Mode::kFunction;
  for (size_t i = 0; i < tools.size(); ++i) {
    if (tools[i].parameters_json.empty() || (named && tools[i].name != choice.function_name)) continue;
    try {
      grammar::json_schema_to_gbnf(tools[i].parameters_json);
    } catch (const InvalidArgument& e) {
      const std::string param = "tools[" + std::to_string(i) + "].function.parameters";
      throw ApiError(400, "'" + param + "' cannot be compiled: " + e.what(), param);
    }
  }
  try {
    ToolCallGrammarOptions options;
    if (named) options.only_function = choice.function_name;
    options.parallel = parallel && !named;
    return context.grammars->compile_gbnf(tool_call_gbnf(tools, format, options));
  } catch (const InvalidArgument& e) {
    throw ApiError(400, std::string("the grammar for 'tool_choice' cannot be compiled: ") + e.what(), "tool_choice");
  }
}

}  // namespace kvs
