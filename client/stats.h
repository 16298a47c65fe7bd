// Summary statistics of a run's request records. Pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/options.h"
#include "client/record.h"

namespace kvs::client {

// Percentiles use linear interpolation between closest ranks (numpy's
// default), as vllm's benchmark does. All zero for no values.
struct Distribution {
  size_t count = 0;
  double mean = 0, median = 0, p90 = 0, p99 = 0, min = 0, max = 0, stddev = 0;
};
Distribution describe(std::vector<double> values);
double percentile(const std::vector<double>& sorted, double q);  // q in [0, 100]

struct Summary {
  int64_t completed = 0;
  int64_t failed = 0;                          // errors, not counting cancelled
  int64_t cancelled = 0;                       // in flight when interrupted
  std::map<std::string, int64_t> errors_by_kind;
  double duration_s = 0;                       // first send -> last completion
  int64_t total_input_tokens = 0;              // completed requests
  int64_t total_output_tokens = 0;
  double request_throughput = 0;               // completed / duration
  double output_throughput = 0;                // output tokens / duration
  double total_token_throughput = 0;           // (input + output) / duration
  Distribution ttft_ms, tpot_ms, itl_ms, e2e_ms;
  bool slo_set = false;
  int64_t num_good = 0;                        // completed and within every SLO
  double goodput = 0;                          // num_good / duration, requests/s
};

// `duration_s` is the run's wall time (the driver measures it).
Summary summarize(const std::vector<RequestRecord>& records, double duration_s, const Slo& slo);

// Whether a completed request meets every set objective.
bool meets_slo(const RequestRecord& record, const Slo& slo);

}  // namespace kvs::client
