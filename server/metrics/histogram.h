#pragma once
// A Prometheus histogram (cumulative buckets, sum, count). Not thread-safe;
// ServerMetrics guards it.
#include <cstdint>
#include <string>
#include <vector>

namespace kvs {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size(), 0) {}
  void observe(double value);
  // Appends `name_bucket{labels,le=..}`, `name_sum`, `name_count` lines.
  // `labels` is "" or `key="value"` pairs without braces.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0.0;
};

}  // namespace kvs
