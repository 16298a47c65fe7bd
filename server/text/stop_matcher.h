#pragma once
// Finds stop strings in streamed text. Text that might be the start of a stop
// string is held back until it is known not to be, so a streaming client never
// sees any part of a stop string. Not thread-safe; one per choice.
#include <string>
#include <vector>

namespace kvs {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends `text`; returns what may be emitted now. After a match, stopped()
  // is true, the returned text ends right before the stop string, and later
  // pushes return "".
  std::string push(const std::string& text);
  // The held-back text (call at the end of the stream when not stopped).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // text not yet emitted (a possible stop-string prefix)
  bool stopped_ = false;
};

}  // namespace kvs
