#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "client/report/report.h"

namespace kvs::client {

using nlohmann::json;

namespace {

json number_or_inf(double value) {
  if (std::isinf(value)) return "inf";
  return value;
}

json distribution_json(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"median", d.median}, {"p90", d.p90}, {"p99", d.p99},
          {"min", d.min},     {"max", d.max},   {"stddev", d.stddev}};
}

}  // namespace

json config_json(const BenchOptions& o, const std::string& model) {
  json slo = json::object();
  if (o.slo.ttft_ms > 0) slo["ttft_ms"] = o.slo.ttft_ms;
  if (o.slo.tpot_ms > 0) slo["tpot_ms"] = o.slo.tpot_ms;
  if (o.slo.e2e_ms > 0) slo["e2e_ms"] = o.slo.e2e_ms;
  json rates = json::array();
  for (double r : o.sweep_rates) rates.push_back(number_or_inf(r));
  const char* distributions[] = {"fixed", "uniform", "normal"};
  return {{"backend", o.url.empty() ? "grpc" : "http"},
          {"target", o.url.empty() ? o.grpc_target : o.url},
          {"endpoint", o.url.empty() ? "generate" : endpoint_name(o.endpoint)},
          {"model", model},
          {"stream", o.stream},
          {"concurrency", o.concurrency},
          {"request_rate", o.closed_loop() ? json(nullptr) : number_or_inf(o.request_rate)},
          {"burstiness", o.burstiness},
          {"num_requests", o.num_requests},
          {"duration_s", o.duration_s},
          {"warmup_requests", o.warmup_requests},
          {"sweep_rates", rates},
          {"dataset", dataset_name(o.dataset)},
          {"dataset_path", o.dataset_path},
          {"input_len", o.input_len},
          {"output_len", o.output_len},
          {"length_distribution", distributions[static_cast<int>(o.length_distribution)]},
          {"input_len_range", o.input_len_range},
          {"output_len_range", o.output_len_range},
          {"num_prefix_groups", o.num_prefix_groups},
          {"prefix_len", o.prefix_len},
          {"ignore_eos", o.ignore_eos},
          {"temperature", o.temperature},
          {"timeout_s", o.timeout_s},
          {"slo", slo},
          {"seed", o.seed}};
}

json summary_json(const Summary& s) {
  json out = {{"completed", s.completed},
              {"failed", s.failed},
              {"cancelled", s.cancelled},
              {"errors_by_kind", s.errors_by_kind},
              {"duration_s", s.duration_s},
              {"total_input_tokens", s.total_input_tokens},
              {"total_output_tokens", s.total_output_tokens},
              {"request_throughput", s.request_throughput},
              {"output_throughput", s.output_throughput},
              {"total_token_throughput", s.total_token_throughput},
              {"ttft_ms", distribution_json(s.ttft_ms)},
              {"tpot_ms", distribution_json(s.tpot_ms)},
              {"itl_ms", distribution_json(s.itl_ms)},
              {"e2e_ms", distribution_json(s.e2e_ms)}};
  if (s.slo_set) {
    out["goodput"] = s.goodput;
    out["num_within_slo"] = s.num_good;
  } else {
    out["goodput"] = nullptr;
  }
  return out;
}

json record_json(const RequestRecord& r) {
  json out = {{"index", r.index},
              {"start_ms", r.start_ms},
              {"success", r.success},
              {"ttft_ms", r.ttft_ms >= 0 ? json(r.ttft_ms) : json(nullptr)},
              {"tpot_ms", r.tpot_ms() >= 0 ? json(r.tpot_ms()) : json(nullptr)},
              {"e2e_ms", r.e2e_ms},
              {"itl_ms", r.itl_ms},
              {"prompt_tokens", r.prompt_tokens},
              {"output_tokens", r.output_tokens},
              {"usage_reported", r.usage_reported},
              {"streamed", r.streamed},
              {"max_tokens", r.max_tokens}};
  if (!r.success) {
    out["error_kind"] = r.error_kind;
    out["error"] = r.error_message;
  }
  if (r.http_status) out["http_status"] = r.http_status;
  if (!r.output_text.empty()) out["output_text"] = r.output_text;
  return out;
}

json result_json(const std::vector<RunReport>& runs, const BenchOptions& options, const std::string& model) {
  const auto run_json = [](const RunReport& run) {
    json requests = json::array();
    for (const RequestRecord& r : run.records) requests.push_back(record_json(r));
    return json{{"request_rate", run.request_rate == 0 ? json(nullptr) : number_or_inf(run.request_rate)},
                {"interrupted", run.interrupted},
                {"summary", summary_json(run.summary)},
                {"requests", std::move(requests)}};
  };
  json out = {{"config", config_json(options, model)}};
  if (options.sweep_rates.empty() && runs.size() == 1) {
    json run = run_json(runs.front());
    out["interrupted"] = run["interrupted"];
    out["summary"] = std::move(run["summary"]);
    out["requests"] = std::move(run["requests"]);
  } else {
    out["runs"] = json::array();
    for (const RunReport& run : runs) out["runs"].push_back(run_json(run));
  }
  return out;
}

namespace {

RequestRecord record_from_json(const json& j) {
  RequestRecord r;
  r.index = j.value("index", int64_t{0});
  r.start_ms = j.value("start_ms", 0.0);
  r.success = j.value("success", false);
  r.error_kind = j.value("error_kind", "");
  r.error_message = j.value("error", "");
  r.http_status = j.value("http_status", 0);
  r.ttft_ms = j.contains("ttft_ms") && j["ttft_ms"].is_number() ? j["ttft_ms"].get<double>() : -1;
  r.e2e_ms = j.value("e2e_ms", 0.0);
  r.itl_ms = j.value("itl_ms", std::vector<double>{});
  r.prompt_tokens = j.value("prompt_tokens", int64_t{0});
  r.output_tokens = j.value("output_tokens", int64_t{0});
  r.usage_reported = j.value("usage_reported", false);
  r.streamed = j.value("streamed", true);
  r.max_tokens = j.value("max_tokens", int64_t{0});
  return r;
}

Distribution distribution_from_json(const json& j) {
  Distribution d;
  d.count = j.value("count", size_t{0});
  d.mean = j.value("mean", 0.0);
  d.median = j.value("median", 0.0);
  d.p90 = j.value("p90", 0.0);
  d.p99 = j.value("p99", 0.0);
  d.min = j.value("min", 0.0);
  d.max = j.value("max", 0.0);
  d.stddev = j.value("stddev", 0.0);
  return d;
}

RunReport run_from_json(const json& run, const std::string& label) {
  RunReport out;
  out.label = label;
  const json& rate = run.contains("request_rate") ? run["request_rate"] : json(nullptr);
  out.request_rate = rate.is_number() ? rate.get<double>() : rate.is_string() ? INFINITY : 0;
  out.interrupted = run.value("interrupted", false);
  const json& s = run.at("summary");
  out.summary.completed = s.value("completed", int64_t{0});
  out.summary.failed = s.value("failed", int64_t{0});
  out.summary.duration_s = s.value("duration_s", 0.0);
  out.summary.request_throughput = s.value("request_throughput", 0.0);
  out.summary.output_throughput = s.value("output_throughput", 0.0);
  out.summary.total_token_throughput = s.value("total_token_throughput", 0.0);
  out.summary.ttft_ms = distribution_from_json(s.at("ttft_ms"));
  out.summary.tpot_ms = distribution_from_json(s.at("tpot_ms"));
  out.summary.itl_ms = distribution_from_json(s.at("itl_ms"));
  out.summary.e2e_ms = distribution_from_json(s.at("e2e_ms"));
  for (const json& r : run.at("requests")) out.records.push_back(record_from_json(r));
  return out;
}

}  // namespace

std::vector<RunReport> runs_from_json(const json& result, const std::string& label) {
  std::vector<RunReport> runs;
  try {
    const json one[] = {result};
    const json& list = result.contains("runs") ? result["runs"] : json(one);
    for (const json& run : list) {
      RunReport r = run_from_json(run, label);
      r.group = label;
      char buffer[64];
      if (r.request_rate == 0) {
        std::snprintf(buffer, sizeof buffer, " c=%lld",
                      static_cast<long long>(result.at("config").value("concurrency", int64_t{0})));
      } else {
        std::snprintf(buffer, sizeof buffer, " rate %g", r.request_rate);
      }
      r.label += buffer;
      runs.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("not a kvserve-bench result: ") + e.what());
  }
  return runs;
}

}  // namespace kvs::client
