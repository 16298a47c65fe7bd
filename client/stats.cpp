#include "client/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kvs::client {

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Distribution describe(std::vector<double> values) {
  Distribution d;
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  d.count = values.size();
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(d.count);
  double squares = 0;
  for (double v : values) squares += (v - d.mean) * (v - d.mean);
  d.stddev = std::sqrt(squares / static_cast<double>(d.count));
  d.median = percentile(values, 50);
  d.p90 = percentile(values, 90);
  d.p99 = percentile(values, 99);
  d.min = values.front();
  d.max = values.back();
  return d;
}

bool meets_slo(const RequestRecord& r, const Slo& slo) {
  if (!r.success) return false;
  if (slo.ttft_ms > 0 && !(r.ttft_ms >= 0 && r.ttft_ms <= slo.ttft_ms)) return false;
  if (slo.tpot_ms > 0 && r.tpot_ms() > slo.tpot_ms) return false;  // < 2 tokens: no TPOT to miss
  if (slo.e2e_ms > 0 && r.e2e_ms > slo.e2e_ms) return false;
  return true;
}

Summary summarize(const std::vector<RequestRecord>& records, double duration_s, const Slo& slo) {
  Summary s;
  s.duration_s = duration_s;
  s.slo_set = slo.any();
  std::vector<double> ttft, tpot, itl, e2e;
  for (const RequestRecord& r : records) {
    if (r.error_kind == "cancelled") {
      ++s.cancelled;
      continue;
    }
    if (!r.success) {
      ++s.failed;
      ++s.errors_by_kind[r.error_kind];
      continue;
    }
    ++s.completed;
    s.total_input_tokens += r.prompt_tokens;
    s.total_output_tokens += r.output_tokens;
    if (r.ttft_ms >= 0) ttft.push_back(r.ttft_ms);
    if (r.tpot_ms() >= 0) tpot.push_back(r.tpot_ms());
    itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
    e2e.push_back(r.e2e_ms);
    if (meets_slo(r, slo)) ++s.num_good;
  }
  s.ttft_ms = describe(std::move(ttft));
  s.tpot_ms = describe(std::move(tpot));
  s.itl_ms = describe(std::move(itl));
  s.e2e_ms = describe(std::move(e2e));
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / duration_s;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / duration_s;
    s.total_token_throughput = static_cast<double>(s.total_input_tokens + s.total_output_tokens) / duration_s;
    s.goodput = static_cast<double>(s.num_good) / duration_s;
  }
  return s;
}

}  // namespace kvs::client
