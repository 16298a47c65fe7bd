#include "client/backend/stream_state.h"

namespace kvs::client {

void StreamState::on_output(const std::string& text, int64_t num_tokens) {
  if (text.empty() && num_tokens <= 0) return;
  const double now = elapsed_ms();
  if (record_.ttft_ms < 0) record_.ttft_ms = now;
  else record_.itl_ms.push_back(now - last_output_ms_);
  last_output_ms_ = now;
  ++num_output_chunks_;
  num_counted_tokens_ += num_tokens > 0 ? num_tokens : 1;
  text_ += text;
}

void StreamState::on_usage(int64_t prompt_tokens, int64_t completion_tokens) {
  record_.prompt_tokens = prompt_tokens;
  record_.output_tokens = completion_tokens;
  record_.usage_reported = true;
}

void StreamState::fail(const std::string& kind, const std::string& message) {
  if (!record_.error_kind.empty()) return;
  record_.error_kind = kind;
  record_.error_message = message.size() > 300 ? message.substr(0, 300) + "..." : message;
}

void StreamState::finish(bool keep_text) {
  record_.e2e_ms = elapsed_ms();
  if (!record_.usage_reported) {
    record_.prompt_tokens = record_.expected_prompt_tokens;
    record_.output_tokens = num_counted_tokens_;
  }
  record_.success = record_.error_kind.empty();
  if (keep_text) record_.output_text = std::move(text_);
}

}  // namespace kvs::client
