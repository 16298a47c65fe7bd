// What a backend learns from one response while it streams in: timings of
// output chunks, token counts, and the first thing that went wrong. Shared by
// the HTTP and gRPC backends. Not thread-safe (one per request).
#pragma once

#include <chrono>
#include <string>

#include "client/record.h"

namespace kvs::client {

class StreamState {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StreamState(RequestRecord& record) : record_(record), start_(Clock::now()) {}

  double elapsed_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }
  // An output chunk with `text` arrived now (empty text is not output).
  void on_output(const std::string& text, int64_t num_tokens = 1);
  void on_usage(int64_t prompt_tokens, int64_t completion_tokens);
  // Remembers the first failure only.
  void fail(const std::string& kind, const std::string& message);
  bool failed() const { return !record_.error_kind.empty(); }
  // Fills e2e, token counts (usage, else counted) and success.
  void finish(bool keep_text);

  int64_t num_output_chunks() const { return num_output_chunks_; }

 private:
  RequestRecord& record_;
  Clock::time_point start_;
  double last_output_ms_ = -1;
  int64_t num_output_chunks_ = 0;
  int64_t num_counted_tokens_ = 0;
  std::string text_;
};

}  // namespace kvs::client
