#include <cmath>
#include <cstdio>
#include <sstream>

#include "client/report/report.h"

namespace kvs::client {
namespace {

std::string line(const char* name, double value, const char* format = "%.2f") {
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, "%-40s", name);
  std::string out = buffer;
  std::snprintf(buffer, sizeof buffer, format, value);
  return out + buffer + "\n";
}

std::string rate_text(double rate) {
  if (rate == 0) return "closed loop";
  if (std::isinf(rate)) return "inf";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", rate);
  return buffer;
}

void latency_block(std::ostringstream& out, const char* title, const char* unit, const Distribution& d) {
  out << "---------------" << title << "---------------\n";
  const std::string u(unit);
  out << line(("Mean " + u + ":").c_str(), d.mean) << line(("Median " + u + ":").c_str(), d.median)
      << line(("P90 " + u + ":").c_str(), d.p90) << line(("P99 " + u + ":").c_str(), d.p99);
}

}  // namespace

std::string text_report(const RunReport& run, const BenchOptions& options) {
  const Summary& s = run.summary;
  std::ostringstream out;
  out << "============ Serving Benchmark Result ============\n";
  if (!run.label.empty()) out << run.label << (run.interrupted ? " (interrupted)" : "") << "\n";
  else if (run.interrupted) out << "(interrupted)\n";
  out << line("Successful requests:", static_cast<double>(s.completed), "%.0f")
      << line("Failed requests:", static_cast<double>(s.failed), "%.0f");
  for (const auto& [kind, count] : s.errors_by_kind) {
    out << line(("  " + kind + ":").c_str(), static_cast<double>(count), "%.0f");
  }
  if (s.cancelled > 0) out << line("Cancelled (interrupted):", static_cast<double>(s.cancelled), "%.0f");
  out << line("Benchmark duration (s):", s.duration_s) << line("Total input tokens:", s.total_input_tokens, "%.0f")
      << line("Total generated tokens:", s.total_output_tokens, "%.0f")
      << line("Request throughput (req/s):", s.request_throughput)
      << line("Output token throughput (tok/s):", s.output_throughput)
      << line("Total token throughput (tok/s):", s.total_token_throughput);
  if (s.slo_set) {
    out << line("Requests within SLO:", static_cast<double>(s.num_good), "%.0f")
        << line("Request goodput (req/s):", s.goodput);
  }
  latency_block(out, "Time to First Token", "TTFT (ms)", s.ttft_ms);
  latency_block(out, "Time per Output Token (excl. 1st token)", "TPOT (ms)", s.tpot_ms);
  latency_block(out, "Inter-token Latency", "ITL (ms)", s.itl_ms);
  latency_block(out, "End-to-end Latency", "E2E (ms)", s.e2e_ms);
  out << "==================================================\n";
  (void)options;
  return out.str();
}

std::string sweep_table(const std::vector<RunReport>& runs) {
  std::ostringstream out;
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, "%-12s %6s %6s %9s %10s %10s %10s %10s %10s %10s\n", "rate (req/s)", "ok",
                "failed", "req/s", "out tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "E2E p50", "E2E p99");
  out << buffer;
  for (const RunReport& r : runs) {
    const Summary& s = r.summary;
    std::snprintf(buffer, sizeof buffer, "%-12s %6lld %6lld %9.2f %10.1f %10.1f %10.1f %10.2f %10.1f %10.1f\n",
                  rate_text(r.request_rate).c_str(), static_cast<long long>(s.completed),
                  static_cast<long long>(s.failed), s.request_throughput, s.output_throughput, s.ttft_ms.median,
                  s.ttft_ms.p99, s.tpot_ms.median, s.e2e_ms.median, s.e2e_ms.p99);
    out << buffer;
  }
  out << "(latencies in ms)\n";
  return out.str();
}

}  // namespace kvs::client
