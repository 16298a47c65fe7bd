#pragma once
// Finds stop strings in streamed text. Text that might be the start of a stop
// string is held back until it is known not to be, so a streaming client never
// sees any part of a stop string. Not thread-safe; one per choice.
#include <string>
#include <vector>

namespace kvs {

class StopMatcher {
 public:
  // include_stop: a matched stop string is part of the text (vLLM's
  // include_stop_str_in_output); otherwise the text ends right before it.
  explicit StopMatcher(std::vector<std::string> stops, bool include_stop = false)
      : stops_(std::move(stops)), include_stop_(include_stop) {}

  // Appends `text`; returns what may be emitted now. After a match, stopped()
  // is true, the returned text ends right before the stop string (or right
  // after it with include_stop), and later pushes return "".
  // may_stop == false (vLLM's min_tokens not yet reached): `text` and what
  // was held back are emitted without looking for a stop string.
  std::string push(const std::string& text, bool may_stop = true);
  // The held-back text (call at the end of the stream when not stopped).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // text not yet emitted (a possible stop-string prefix)
  bool include_stop_ = false;
  bool stopped_ = false;
};

}  // namespace kvs
