#pragma once
// How `kvserve serve` logs: --log-format text|json and --log-level, and the
// request id a log line belongs to.
//
// json: one JSON object per line, {"time": "2026-01-02T03:04:05.678Z" (UTC),
// "level": "info", "message": "...", "request_id": "..." (only while a
// RequestLogScope is open on the logging thread)}.
#include <string>

namespace kvs {

// Applies to spdlog's default logger (and so to every later spdlog call).
// format: "text" | "json"; level: spdlog's names (trace, debug, info, warn,
// error, critical, off). Throws InvalidArgument for anything else.
void configure_logging(const std::string& format, const std::string& level);

// Marks the log lines of the current thread as belonging to `request_id`
// until destroyed (scopes nest; the inner one wins). Not copyable; use on the
// stack of the thread that logs.
class RequestLogScope {
 public:
  explicit RequestLogScope(std::string request_id);
  ~RequestLogScope();
  RequestLogScope(const RequestLogScope&) = delete;
  RequestLogScope& operator=(const RequestLogScope&) = delete;

 private:
  std::string previous_;
};

// The current thread's request id ("" outside any RequestLogScope).
const std::string& current_request_id();

// True when `id` may be used as a request id: 1..128 printable ASCII
// characters (0x21-0x7E), so it is safe in a header and a log line.
bool is_valid_request_id(const std::string& id);

}  // namespace kvs
