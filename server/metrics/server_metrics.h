#pragma once
// Request-level metrics the front ends record, rendered together with the
// engine's counters as Prometheus text under vLLM's names (vllm:*) plus
// kvserve:* series. Thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "scheduler/engine_core.h"
#include "server/metrics/histogram.h"

namespace kvs {

// What one finished choice contributes. Seconds are wall-clock.
struct ChoiceRecord {
  int64_t num_prompt_tokens = 0;
  int64_t num_output_tokens = 0;
  double time_to_first_token = -1.0;  // < 0: no token came
  double e2e_seconds = 0.0;
  std::string finish_reason;          // "stop", "length", "abort", "error"
};

// A Prometheus label value escaped per the text exposition format: backslash,
// double quote and line feed become \\, \" and \n.
std::string escape_label_value(const std::string& value);

class ServerMetrics {
 public:
  // model_name: any text; it is escaped in the model_name label.
  explicit ServerMetrics(std::string model_name);
  void record_choice(const ChoiceRecord& record);
  void record_inter_token(double seconds);
  void record_http(int status);
  // The full /metrics page.
  std::string render(const EngineMetrics& engine, int64_t num_active_requests, bool draining) const;

 private:
  mutable std::mutex mutex_;
  std::string labels_;  // model_name="..."
  int64_t prompt_tokens_ = 0, generation_tokens_ = 0;
  std::map<std::string, int64_t> finished_;  // by finish reason
  std::map<int, int64_t> http_responses_;    // by status
  Histogram ttft_, tpot_, e2e_, prompt_len_, output_len_;
};

}  // namespace kvs
