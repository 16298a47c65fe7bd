// kvserve-bench's configuration: one struct, filled from the command line by
// parse_options() and validated there (a bad value throws std::invalid_argument
// with a message naming the flag). See client/README.md for every flag.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kvs::client {

enum class Endpoint { kCompletions, kChat };
enum class DatasetKind { kSynthetic, kJsonl, kSharedPrefix };
enum class LengthDistribution { kFixed, kUniform, kNormal };

// Service-level objectives for goodput; a value <= 0 means "not set".
struct Slo {
  double ttft_ms = 0;
  double tpot_ms = 0;
  double e2e_ms = 0;
  bool any() const { return ttft_ms > 0 || tpot_ms > 0 || e2e_ms > 0; }
};

struct BenchOptions {
  // target
  std::string url;          // http://host:port (HTTP backend)
  std::string grpc_target;  // host:port (gRPC backend)
  std::string api_key;
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;        // empty: the first id from GET /v1/models
  bool stream = true;
  double timeout_s = 300;   // per request, end to end
  // load
  int64_t concurrency = 0;       // 0 = unbounded in open loop; closed loop needs >= 1
  double request_rate = 0;       // requests/s; 0 = closed loop; inf = all at once
  double burstiness = 1.0;       // gamma shape; 1 = Poisson
  int64_t num_requests = 0;      // 0 = unbounded (needs --duration)
  double duration_s = 0;         // 0 = unbounded (needs --num-requests)
  int64_t warmup_requests = 0;
  std::vector<double> sweep_rates;  // non-empty: one run per rate
  // workload
  DatasetKind dataset = DatasetKind::kSynthetic;
  std::string dataset_path;
  int64_t input_len = 128;
  int64_t output_len = 128;
  bool output_len_set = false;   // --output-len given (overrides a dataset's own lengths)
  LengthDistribution length_distribution = LengthDistribution::kFixed;
  double input_len_range = 0;    // relative spread of input lengths (uniform: +-r, normal: stddev r)
  double output_len_range = 0;   // same for output lengths
  int64_t num_prefix_groups = 4;
  int64_t prefix_len = 512;
  bool ignore_eos = false;
  double temperature = 0;
  std::string extra_body;        // JSON object merged into every HTTP request body
  // measurement and output
  Slo slo;
  std::string result_json;
  std::string plot_svg;
  uint64_t seed = 0;
  bool quiet = false;
  bool save_output = false;      // keep generated text in the per-request records
  // Plot-only mode: "result.json=label" inputs drawn together into plot_svg
  // (no load is sent).
  std::vector<std::string> plot_from;

  bool closed_loop() const { return request_rate == 0 && sweep_rates.empty(); }
};

// Parses argv; throws std::invalid_argument on a bad combination and returns
// false when the program should exit 0 (e.g. --help already printed).
bool parse_options(int argc, char** argv, BenchOptions& options);

// "ttft_ms=200,tpot_ms=50,e2e_ms=2000" -> Slo; throws std::invalid_argument.
Slo parse_slo(const std::string& text);

// "1,2,4,inf" -> rates; throws std::invalid_argument.
std::vector<double> parse_rates(const std::string& text);

const char* endpoint_name(Endpoint endpoint);
const char* dataset_name(DatasetKind dataset);

}  // namespace kvs::client
