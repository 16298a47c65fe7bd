// kvserve-bench: load-tests an OpenAI-compatible HTTP server or kvserve's gRPC
// API and reports latency/throughput (client/README.md).
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "client/backend/backend.h"
#include "client/driver/load_driver.h"
#include "client/options.h"
#include "client/report/report.h"
#include "client/stats.h"
#include "client/workload/workload.h"

namespace {

std::atomic<bool> g_interrupt{false};

void on_sigint(int) {
  if (g_interrupt.exchange(true)) {  // second Ctrl-C: leave now
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

std::string rate_label(double rate, int64_t concurrency) {
  if (rate == 0) return "closed loop, concurrency " + std::to_string(concurrency);
  if (std::isinf(rate)) return "request rate inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "request rate %g/s", rate);
  return buffer;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

// --plot-from: draws earlier result files together (e.g. two servers, same workload).
int plot_only(const kvs::client::BenchOptions& options) {
  using namespace kvs::client;
  std::vector<RunReport> runs;
  std::string labels;
  for (const std::string& item : options.plot_from) {
    const size_t eq = item.find('=');
    const std::string path = item.substr(0, eq);
    const std::string label = eq == std::string::npos ? path : item.substr(eq + 1);
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read '" + path + "'");
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error("'" + path + "' is not JSON: " + e.what());
    }
    for (RunReport& run : runs_from_json(doc, label)) runs.push_back(std::move(run));
    labels += (labels.empty() ? "" : " vs ") + label;
  }
  // NOTE: the throughput-vs-latency panels need two or more runs.
  write_file(options.plot_svg, svg_plot(runs, "kvserve-bench: " + labels));
  if (!options.quiet) std::cerr << "wrote " << options.plot_svg << "\n";
  return 0;
}

int run(int argc, char** argv) {
  using namespace kvs::client;
  BenchOptions options;
  try {
    if (!parse_options(argc, argv, options)) return 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "kvserve-bench: " << e.what() << "\n";
    return 2;
  }
  if (!options.plot_from.empty()) return plot_only(options);
  std::string model = options.model;
  if (!options.url.empty() && model.empty()) model = first_model_id(options);
  const BackendFactory factory = make_backend_factory(options, model);
  std::signal(SIGINT, on_sigint);

  if (options.warmup_requests > 0) {
    BenchOptions warm = options;
    warm.seed = options.seed + 1;
    const std::vector<RequestSpec> specs = build_workload(warm, options.warmup_requests);
    LoadPlan plan;
    plan.concurrency = std::max<int64_t>(1, std::min(options.concurrency > 0 ? options.concurrency : 1,
                                                     options.warmup_requests));
    plan.num_requests = options.warmup_requests;
    plan.label = "warm-up";
    plan.show_progress = !options.quiet;
    const RunResult result = run_load(plan, specs, factory, g_interrupt);
    int64_t ok = 0;
    for (const RequestRecord& r : result.records) ok += r.success;
    if (!options.quiet) std::cerr << "warm-up: " << ok << "/" << options.warmup_requests << " succeeded\n";
  }

  const int64_t num_specs = options.num_requests > 0 ? options.num_requests : 10000;
  const std::vector<RequestSpec> specs = build_workload(options, num_specs);
  std::vector<double> rates = options.sweep_rates;
  if (rates.empty()) rates.push_back(options.request_rate);
  std::vector<RunReport> runs;
  for (double rate : rates) {
    if (g_interrupt) break;
    LoadPlan plan;
    plan.request_rate = rate;
    plan.burstiness = options.burstiness;
    plan.concurrency = options.concurrency;
    plan.num_requests = options.num_requests;
    plan.duration_s = options.duration_s;
    plan.seed = options.seed;
    plan.label = rate_label(rate, options.concurrency);
    plan.show_progress = !options.quiet;
    RunResult result = run_load(plan, specs, factory, g_interrupt);
    RunReport report;
    report.label = plan.label;
    report.request_rate = rate;
    report.interrupted = result.interrupted;
    report.summary = summarize(result.records, result.duration_s, options.slo);
    report.records = std::move(result.records);
    std::cout << text_report(report, options) << std::flush;
    runs.push_back(std::move(report));
  }
  if (runs.size() > 1) std::cout << sweep_table(runs) << std::flush;
  if (!options.result_json.empty()) {
    write_file(options.result_json, result_json(runs, options, model).dump(1) + "\n");
    if (!options.quiet) std::cerr << "wrote " << options.result_json << "\n";
  }
  if (!options.plot_svg.empty()) {
    const std::string target = options.url.empty() ? "grpc://" + options.grpc_target : options.url;
    write_file(options.plot_svg, svg_plot(runs, "kvserve-bench: " + target + (model.empty() ? "" : " (" + model + ")")));
    if (!options.quiet) std::cerr << "wrote " << options.plot_svg << "\n";
  }
  return g_interrupt ? 130 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "kvserve-bench: " << e.what() << "\n";
    return 1;
  }
}
