// Reports of finished runs: the text table (stdout), the JSON result file and
// the SVG plot. Pure functions of the runs; the caller does the I/O.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/options.h"
#include "client/record.h"
#include "client/stats.h"

namespace kvs::client {

// One run (one request rate) and its summary.
struct RunReport {
  std::string label;          // e.g. "rate 4/s" or "concurrency 8"
  std::string group;          // runs of one group form one throughput-vs-latency curve
  double request_rate = 0;    // 0 = closed loop; inf = all at once
  bool interrupted = false;
  Summary summary;
  std::vector<RequestRecord> records;
};

// The human-readable table of one run (vllm bench serve's layout).
std::string text_report(const RunReport& run, const BenchOptions& options);
// One line per rate for a sweep.
std::string sweep_table(const std::vector<RunReport>& runs);

nlohmann::json config_json(const BenchOptions& options, const std::string& model);
nlohmann::json summary_json(const Summary& summary);
nlohmann::json record_json(const RequestRecord& record);
// One run: {"config", "summary", "requests"}; a sweep: {"config", "runs": [{"request_rate",
// "summary", "requests"}, ...]} (client/README.md documents the fields).
nlohmann::json result_json(const std::vector<RunReport>& runs, const BenchOptions& options, const std::string& model);

// Reads the runs back from a result_json() document (for --plot-from);
// throws std::runtime_error when it is not one. Every run's group is `label`;
// its label adds "c=N" (closed loop) or "rate R".
std::vector<RunReport> runs_from_json(const nlohmann::json& result, const std::string& label);

// A standalone SVG: CDFs of TTFT, TPOT, ITL and E2E latency (one curve per run)
// and, for two or more runs, output throughput vs. latency (a curve per group).
std::string svg_plot(const std::vector<RunReport>& runs, const std::string& title);

}  // namespace kvs::client
