#include "server/text/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace kvs {

std::string StopMatcher::push(const std::string& text, bool may_stop) {
  if (stopped_) return "";
  pending_ += text;
  if (stops_.empty() || !may_stop) return std::exchange(pending_, "");
  size_t first = std::string::npos, first_size = 0;
  for (const std::string& stop : stops_) {
    const size_t at = pending_.find(stop);
    if (at < first || (at == first && at != std::string::npos && stop.size() > first_size)) {
      first = at;
      first_size = stop.size();
    }
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, include_stop_ ? first + first_size : first);
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix of pending_ that is a proper prefix of a stop.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    for (size_t len = std::min(stop.size() - 1, pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, stop, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() { return stopped_ ? "" : std::exchange(pending_, ""); }

}  // namespace kvs
