// A request the load driver sends: the prompt and how much output to ask for.
// Produced by a workload generator before the run starts (so generation costs
// nothing during it); backends only read it.
#pragma once

#include <cstdint>
#include <string>

namespace kvs::client {

struct RequestSpec {
  std::string system_prompt;   // chat: a system message when non-empty; completions: prepended
  std::string prompt;          // the user text
  int64_t expected_prompt_tokens = 0;  // target/estimate; the server's usage wins when reported
  int64_t max_tokens = 16;     // sent as max_tokens (>= 1)
};

// The whole prompt for a plain completions request (system prompt + user text).
inline std::string completion_prompt(const RequestSpec& spec) { return spec.system_prompt + spec.prompt; }

}  // namespace kvs::client
