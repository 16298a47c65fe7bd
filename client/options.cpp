#include "client/options.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace kvs::client {
namespace {

double parse_rate(const std::string& text) {
  if (text == "inf" || text == "Inf" || text == "INF") return std::numeric_limits<double>::infinity();
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(value > 0)) throw std::invalid_argument("bad request rate '" + text + "' (a number > 0 or inf)");
  return value;
}

void validate(BenchOptions& o) {
  if (!o.plot_from.empty()) {
    if (o.plot_svg.empty()) throw std::invalid_argument("--plot-from needs --plot");
    return;
  }
  if (o.url.empty() == o.grpc_target.empty()) throw std::invalid_argument("give exactly one of --url and --grpc");
  if (!o.url.empty() && o.url.rfind("http://", 0) != 0) {
    throw std::invalid_argument("--url must start with http:// (got '" + o.url + "')");
  }
  if (o.num_requests <= 0 && o.duration_s <= 0) throw std::invalid_argument("give --num-requests and/or --duration");
  if (o.closed_loop() && o.concurrency < 1) o.concurrency = 1;
  if (o.concurrency < 0) throw std::invalid_argument("--concurrency must be >= 0");
  if (!(o.burstiness > 0)) throw std::invalid_argument("--burstiness must be > 0");
  if (o.input_len < 1 || o.output_len < 1) throw std::invalid_argument("--input-len and --output-len must be >= 1");
  if (o.input_len_range < 0 || o.output_len_range < 0) throw std::invalid_argument("length ranges must be >= 0");
  if (o.dataset == DatasetKind::kJsonl && o.dataset_path.empty()) throw std::invalid_argument("--dataset jsonl needs --dataset-path");
  if (o.dataset == DatasetKind::kSharedPrefix && (o.num_prefix_groups < 1 || o.prefix_len < 1)) {
    throw std::invalid_argument("--num-prefix-groups and --prefix-len must be >= 1");
  }
  if (!o.extra_body.empty()) {
    nlohmann::json extra;
    try {
      extra = nlohmann::json::parse(o.extra_body);
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument("--extra-body is not valid JSON");
    }
    if (!extra.is_object()) throw std::invalid_argument("--extra-body must be a JSON object");
  }
  if (!(o.timeout_s > 0)) throw std::invalid_argument("--timeout must be > 0");
  if (!o.grpc_target.empty() && o.endpoint == Endpoint::kChat) {
    throw std::invalid_argument("--endpoint chat is HTTP only (gRPC Generate takes a text prompt)");
  }
}

}  // namespace

Slo parse_slo(const std::string& text) {
  Slo slo;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--slo item '" + item + "' is not key=value");
    const std::string key = item.substr(0, eq);
    double value = 0;
    try {
      value = std::stod(item.substr(eq + 1));
    } catch (const std::exception&) {
      throw std::invalid_argument("--slo value in '" + item + "' is not a number");
    }
    if (!(value > 0)) throw std::invalid_argument("--slo value in '" + item + "' must be > 0");
    if (key == "ttft_ms" || key == "ttft") slo.ttft_ms = value;
    else if (key == "tpot_ms" || key == "tpot") slo.tpot_ms = value;
    else if (key == "e2e_ms" || key == "e2e" || key == "e2el_ms") slo.e2e_ms = value;
    else throw std::invalid_argument("--slo key '" + key + "' is not one of ttft_ms, tpot_ms, e2e_ms");
  }
  return slo;
}

std::vector<double> parse_rates(const std::string& text) {
  std::vector<double> rates;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) rates.push_back(parse_rate(item));
  }
  if (rates.empty()) throw std::invalid_argument("--sweep-rates is empty");
  return rates;
}

const char* endpoint_name(Endpoint endpoint) { return endpoint == Endpoint::kChat ? "chat" : "completions"; }

const char* dataset_name(DatasetKind dataset) {
  switch (dataset) {
    case DatasetKind::kJsonl: return "jsonl";
    case DatasetKind::kSharedPrefix: return "shared-prefix";
    default: return "synthetic";
  }
}

bool parse_options(int argc, char** argv, BenchOptions& o) {
  CLI::App app{"kvserve-bench: load generator for OpenAI-compatible servers and kvserve's gRPC API"};
  app.option_defaults()->always_capture_default();
  std::string rate_text, sweep_text, slo_text;
  app.add_option("--url", o.url, "HTTP server, http://host:port");
  app.add_option("--grpc", o.grpc_target, "kvserve gRPC server, host:port");
  app.add_option("--api-key", o.api_key, "API key (Authorization: Bearer)");
  app.add_option("--endpoint", o.endpoint, "HTTP API: completions or chat")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Endpoint>{{"completions", Endpoint::kCompletions},
                                                                          {"chat", Endpoint::kChat}}));
  app.add_option("--model", o.model, "model name (default: the first id of GET /v1/models)");
  app.add_flag("--stream,!--no-stream", o.stream, "stream the responses (default) or not");
  app.add_option("--timeout", o.timeout_s, "per-request timeout, seconds");
  app.add_option("--concurrency", o.concurrency, "closed loop: requests in flight; open loop: cap (0 = none)");
  app.add_option("--request-rate", rate_text, "open loop arrivals per second (inf = all at once)");
  app.add_option("--burstiness", o.burstiness, "gamma shape of inter-arrival times (1 = Poisson)");
  app.add_option("--num-requests", o.num_requests, "requests to send (per run)");
  app.add_option("--duration", o.duration_s, "seconds to send for (per run)");
  app.add_option("--warmup-requests", o.warmup_requests, "requests sent first and not measured");
  app.add_option("--sweep-rates", sweep_text, "one run per request rate, e.g. \"1,2,4,inf\"");
  app.add_option("--dataset", o.dataset, "synthetic, jsonl or shared-prefix")
      ->transform(CLI::CheckedTransformer(std::map<std::string, DatasetKind>{
          {"synthetic", DatasetKind::kSynthetic}, {"jsonl", DatasetKind::kJsonl},
          {"shared-prefix", DatasetKind::kSharedPrefix}}));
  app.add_option("--dataset-path", o.dataset_path, "JSONL (or JSON array) file: ShareGPT or {\"prompt\": ...}");
  app.add_option("--input-len", o.input_len, "prompt tokens (synthetic; shared-prefix: after the prefix)");
  app.add_option("--output-len", o.output_len, "output tokens to ask for (max_tokens)");
  app.add_option("--length-distribution", o.length_distribution, "fixed, uniform or normal")
      ->transform(CLI::CheckedTransformer(std::map<std::string, LengthDistribution>{
          {"fixed", LengthDistribution::kFixed}, {"uniform", LengthDistribution::kUniform},
          {"normal", LengthDistribution::kNormal}}));
  app.add_option("--input-len-range", o.input_len_range, "relative spread of input lengths (e.g. 0.5)");
  app.add_option("--output-len-range", o.output_len_range, "relative spread of output lengths");
  app.add_option("--num-prefix-groups", o.num_prefix_groups, "shared-prefix: groups sharing a system prompt");
  app.add_option("--prefix-len", o.prefix_len, "shared-prefix: tokens in each group's shared prompt");
  app.add_flag("--ignore-eos", o.ignore_eos, "ask the server to ignore EOS (fixed output length)");
  app.add_option("--temperature", o.temperature, "sampling temperature");
  app.add_option("--extra-body", o.extra_body, "JSON object merged into every HTTP request body");
  app.add_option("--plot-from", o.plot_from, "plot only: RESULT.json=LABEL (repeatable), drawn into --plot");
  app.add_option("--slo", slo_text, "goodput objectives, e.g. ttft_ms=500,tpot_ms=50,e2e_ms=5000");
  app.add_option("--result-json", o.result_json, "write the summary and every request's record here");
  app.add_option("--plot", o.plot_svg, "write an SVG plot here (latency CDFs; sweep: throughput vs latency)");
  app.add_option("--seed", o.seed, "random seed for workloads and arrivals");
  app.add_flag("--quiet", o.quiet, "no progress bar");
  app.add_flag("--save-output", o.save_output, "keep generated text in the JSON records");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    if (code == 0) return false;
    throw std::invalid_argument("bad command line (see above)");
  }
  if (!rate_text.empty()) o.request_rate = parse_rate(rate_text);
  if (!sweep_text.empty()) o.sweep_rates = parse_rates(sweep_text);
  if (!slo_text.empty()) o.slo = parse_slo(slo_text);
  o.output_len_set = app.count("--output-len") > 0;
  validate(o);
  return true;
}

}  // namespace kvs::client
