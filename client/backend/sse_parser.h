// Incremental parser for a text/event-stream body (the WHATWG server-sent
// events format): bytes arrive in arbitrary pieces; each complete event's data
// (data: lines joined with '\n') is handed to the callback. Accepts \n, \r\n
// and \r line ends, comments (":..."), and the event/id/retry fields. Lines
// with any other field name are counted as malformed (OpenAI-style servers
// never send them). Not thread-safe; one parser per response.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace kvs::client {

class SseParser {
 public:
  // Called with each event's data; return false to stop parsing (feed then
  // returns false too).
  using EventHandler = std::function<bool(const std::string& data)>;

  explicit SseParser(EventHandler on_event) : on_event_(std::move(on_event)) {}

  // Feeds the next bytes; false when the handler asked to stop.
  bool feed(const char* data, size_t size);
  // End of the body: true when nothing was left half-sent (a partial line or
  // an event without its blank line is dispatched and reported as false).
  bool finish();

  size_t num_malformed_lines() const { return num_malformed_lines_; }
  size_t num_events() const { return num_events_; }

 private:
  bool line(const std::string& text);
  bool dispatch();

  EventHandler on_event_;
  std::string pending_line_;
  std::string data_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
  bool stopped_ = false;
  size_t num_malformed_lines_ = 0;
  size_t num_events_ = 0;
};

}  // namespace kvs::client
