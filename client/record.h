// One request's measurements, filled by a backend (client/backend) and read by
// the statistics and reports. Plain value type; times are milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kvs::client {

struct RequestRecord {
  int64_t index = 0;                // position in the workload (0-based)
  double start_ms = 0;              // when it was sent, since the run started
  bool success = false;
  std::string error_kind;           // "" on success; see client/README.md for the kinds
  std::string error_message;        // human-readable detail (truncated server text)
  int http_status = 0;              // 0 for gRPC or when no response arrived
  double ttft_ms = -1;              // first non-empty output text; -1 when none arrived
  double e2e_ms = 0;                // send -> last byte of the response
  std::vector<double> itl_ms;       // gaps between successive output chunks
  int64_t prompt_tokens = 0;        // from the server's usage; else the workload's estimate
  int64_t output_tokens = 0;        // from usage; else the number of output chunks
  bool usage_reported = false;      // the token counts came from the server
  bool streamed = true;             // false: TTFT is the whole response's latency, no TPOT/ITL
  int64_t expected_prompt_tokens = 0;  // the workload's target / estimate
  int64_t max_tokens = 0;           // what was asked for
  std::string output_text;          // generated text (kept only with --save-output)

  // (e2e - ttft) / (output_tokens - 1); -1 when fewer than 2 output tokens
  // or the response was not streamed.
  double tpot_ms() const {
    if (!streamed || output_tokens < 2 || ttft_ms < 0) return -1;
    return (e2e_ms - ttft_ms) / static_cast<double>(output_tokens - 1);
  }
};

}  // namespace kvs::client
