#pragma once
// Chat completions with tools (issue 23): the model's text -> content plus
// OpenAI tool_calls, in the format of the served model's family
// (engine/chat/tool_call_parser.h). A choice that made calls and ended
// normally finishes with "tool_calls" instead of "stop".
#include <cstddef>
#include <vector>

#include "engine/chat/tool_call_parser.h"
#include "server/generation/generation_run.h"

namespace kvs {

// A streamed response's parsers, one per choice. Not thread-safe: the thread
// that streams the response owns it.
class ToolCallOutputs {
 public:
  ToolCallOutputs(ToolCallFormat format, size_t num_choices);
  // Rewrites one streamed delta in place: `text` becomes the content outside
  // calls, `tool_calls` the call pieces (id and name on a call's first piece);
  // on the choice's last delta (finish_reason set) whatever was held back is
  // flushed, and "stop" becomes "tool_calls" if the choice made calls.
  void apply(ChoiceDelta& delta);

 private:
  std::vector<ToolCallParser> parsers_;
};

// Non-streaming: each result's text parsed whole (content, tool_calls,
// finish_reason as above).
void parse_tool_call_results(ToolCallFormat format, std::vector<ChoiceResult>& results);

}  // namespace kvs
