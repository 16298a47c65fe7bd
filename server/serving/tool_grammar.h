#pragma once
// tool_choice "required" or a named function (issue 23): the grammar that
// makes the reply tool calls (engine/chat/tool_call_grammar.h), compiled
// through the server's grammar cache.
#include <memory>
#include <vector>

#include "engine/chat/tool_call_parser.h"
#include "engine/chat/tools.h"
#include "engine/grammar/grammar_matcher.h"
#include "server/api/openai_types.h"
#include "server/serving/serving_context.h"

namespace kvs {

// `choice` must be kRequired (calls of any of `tools`: one or more when
// `parallel`, else exactly one) or kFunction (exactly one call of that
// function, as vLLM and OpenAI do). Each tool that may be called has its
// parameters checked first: one that does not compile is a 400 naming
// "tools[i].function.parameters" with the compiler's message; a grammar that
// still fails is a 400 naming "tool_choice".
std::shared_ptr<const grammar::CompiledGrammar> forced_tool_grammar(const ServingContext& context, ToolCallFormat format,
                                                                   const std::vector<ToolDefinition>& tools,
                                                                   const ToolChoice& choice, bool parallel);

}  // namespace kvs
