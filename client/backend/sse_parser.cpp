#include "client/backend/sse_parser.h"

namespace kvs::client {

bool SseParser::feed(const char* data, size_t size) {
  if (stopped_) return false;
  for (size_t i = 0; i < size; ++i) {
    const char c = data[i];
    if (c == '\n' && last_was_cr_) {  // the \n of a \r\n already ended the line
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = (c == '\r');
    if (c == '\n' || c == '\r') {
      const bool keep_going = line(pending_line_);
      pending_line_.clear();
      if (!keep_going) {
        stopped_ = true;
        return false;
      }
    } else {
      pending_line_ += c;
    }
  }
  return true;
}

bool SseParser::finish() {
  const bool clean = pending_line_.empty() && !has_data_;
  if (!stopped_ && !pending_line_.empty()) line(pending_line_);
  pending_line_.clear();
  if (!stopped_ && has_data_) dispatch();
  return clean;
}

bool SseParser::line(const std::string& text) {
  if (text.empty()) return dispatch();
  if (text[0] == ':') return true;  // comment / keep-alive ping
  const size_t colon = text.find(':');
  const std::string field = text.substr(0, colon);
  std::string value;
  if (colon != std::string::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
  } else if (field != "event" && field != "id" && field != "retry") {
    ++num_malformed_lines_;
  }
  return true;
}

bool SseParser::dispatch() {
  if (!has_data_) return true;
  std::string data;
  data.swap(data_);
  has_data_ = false;
  ++num_events_;
  return on_event_(data);
}

}  // namespace kvs::client
