// Unit tests of kvs_client: the SSE parser, statistics, workloads, options,
// request bodies and URL parsing.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "client/backend/backend.h"
#include "client/backend/sse_parser.h"
#include "client/driver/load_driver.h"
#include "client/options.h"
#include "client/report/report.h"
#include "client/stats.h"
#include "client/workload/lengths.h"
#include "client/workload/workload.h"
#include "tests/common/test_paths.h"

namespace kvs::client {
namespace {

using nlohmann::json;

std::vector<std::string> parse_in_pieces(const std::string& body, size_t piece, bool* clean = nullptr,
                                         size_t* malformed = nullptr) {
  std::vector<std::string> events;
  SseParser parser([&](const std::string& data) {
    events.push_back(data);
    return true;
  });
  for (size_t i = 0; i < body.size(); i += piece) parser.feed(body.data() + i, std::min(piece, body.size() - i));
  const bool ok = parser.finish();
  if (clean) *clean = ok;
  if (malformed) *malformed = parser.num_malformed_lines();
  return events;
}

TEST(SseParser, SameEventsWhateverTheSplit) {
  const std::string body =
      ": ping\r\n\r\ndata: {\"a\":1}\r\n\r\nevent: x\nid: 3\ndata: line1\ndata:line2\n\ndata: [DONE]\r\r";
  for (size_t piece : {1, 2, 3, 7, 1000}) {
    bool clean = false;
    size_t malformed = 99;
    const auto events = parse_in_pieces(body, piece, &clean, &malformed);
    ASSERT_EQ(events.size(), 3u) << "piece " << piece;
    EXPECT_EQ(events[0], "{\"a\":1}");
    EXPECT_EQ(events[1], "line1\nline2");
    EXPECT_EQ(events[2], "[DONE]");
    EXPECT_TRUE(clean);
    EXPECT_EQ(malformed, 0u);
  }
}

TEST(SseParser, FlagsGarbageAndCutOffEvents) {
  bool clean = true;
  size_t malformed = 0;
  auto events = parse_in_pieces("this is not sse\ndata: {\"a\":1}\n\n", 4, &clean, &malformed);
  EXPECT_EQ(malformed, 1u);
  EXPECT_EQ(events.size(), 1u);
  events = parse_in_pieces("data: {\"a\":1}\n\ndata: {\"b\"", 5, &clean, &malformed);
  EXPECT_FALSE(clean);  // the last event never got its blank line
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1], "{\"b\"");
}

TEST(SseParser, HandlerCanStop) {
  int calls = 0;
  SseParser parser([&](const std::string&) { return ++calls < 2; });
  const std::string body = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
  EXPECT_FALSE(parser.feed(body.data(), body.size()));
  EXPECT_EQ(calls, 2);
}

TEST(Stats, PercentilesInterpolateLikeNumpy) {
  std::vector<double> v(10);
  std::iota(v.begin(), v.end(), 1.0);  // 1..10
  const Distribution d = describe(v);
  EXPECT_DOUBLE_EQ(d.mean, 5.5);
  EXPECT_DOUBLE_EQ(d.median, 5.5);
  EXPECT_DOUBLE_EQ(d.p90, 9.1);   // numpy.percentile(range(1, 11), 90)
  EXPECT_DOUBLE_EQ(d.p99, 9.91);
  EXPECT_EQ(describe({}).count, 0u);
}

RequestRecord ok_record(double ttft, double e2e, int64_t out) {
  RequestRecord r;
  r.success = true;
  r.ttft_ms = ttft;
  r.e2e_ms = e2e;
  r.output_tokens = out;
  r.prompt_tokens = 10;
  for (int64_t i = 1; i < out; ++i) r.itl_ms.push_back((e2e - ttft) / static_cast<double>(out - 1));
  return r;
}

TEST(Stats, SummaryCountsErrorsThroughputAndGoodput) {
  std::vector<RequestRecord> records = {ok_record(100, 500, 5), ok_record(300, 700, 5), ok_record(100, 900, 5)};
  RequestRecord bad;
  bad.error_kind = "http_500";
  records.push_back(bad);
  bad.error_kind = "timeout";
  records.push_back(bad);
  records.push_back(bad);
  bad.error_kind = "cancelled";
  records.push_back(bad);
  Slo slo;
  slo.ttft_ms = 200;   // fails the second
  slo.tpot_ms = 150;   // fails the third (TPOT 200)
  const Summary s = summarize(records, 2.0, slo);
  EXPECT_EQ(s.completed, 3);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.cancelled, 1);
  EXPECT_EQ(s.errors_by_kind.at("http_500"), 1);
  EXPECT_EQ(s.errors_by_kind.at("timeout"), 2);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.5);
  EXPECT_DOUBLE_EQ(s.output_throughput, 7.5);
  EXPECT_DOUBLE_EQ(s.total_token_throughput, 22.5);
  EXPECT_EQ(s.num_good, 1);
  EXPECT_DOUBLE_EQ(s.goodput, 0.5);
  EXPECT_DOUBLE_EQ(s.tpot_ms.median, 100);
  EXPECT_EQ(s.itl_ms.count, 12u);
}

BenchOptions synthetic_options() {
  BenchOptions o;
  o.url = "http://127.0.0.1:1";
  o.num_requests = 50;
  o.input_len = 40;
  o.output_len = 20;
  o.seed = 3;
  return o;
}

size_t count_words(const std::string& text) {
  size_t n = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

TEST(Workload, SyntheticFixedAndUniformLengths) {
  BenchOptions o = synthetic_options();
  for (const RequestSpec& s : build_workload(o, 50)) {
    EXPECT_EQ(count_words(s.prompt), 40u);
    EXPECT_EQ(s.expected_prompt_tokens, 40);
    EXPECT_EQ(s.max_tokens, 20);
  }
  o.length_distribution = LengthDistribution::kUniform;
  o.input_len_range = 0.5;
  o.output_len_range = 0.25;
  int64_t min_in = 1000, max_in = 0;
  for (const RequestSpec& s : build_workload(o, 200)) {
    EXPECT_EQ(count_words(s.prompt), static_cast<size_t>(s.expected_prompt_tokens));
    EXPECT_GE(s.max_tokens, 15);
    EXPECT_LE(s.max_tokens, 25);
    min_in = std::min(min_in, s.expected_prompt_tokens);
    max_in = std::max(max_in, s.expected_prompt_tokens);
  }
  EXPECT_GE(min_in, 20);
  EXPECT_LE(max_in, 60);
  EXPECT_LT(max_in - min_in, 41);
  EXPECT_GT(max_in - min_in, 20);  // really spread
  // Deterministic for a seed.
  EXPECT_EQ(build_workload(o, 5)[4].prompt, build_workload(o, 5)[4].prompt);
}

TEST(Workload, SharedPrefixGroups) {
  BenchOptions o = synthetic_options();
  o.dataset = DatasetKind::kSharedPrefix;
  o.num_prefix_groups = 3;
  o.prefix_len = 100;
  const auto specs = build_workload(o, 9);
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(specs[i].system_prompt, specs[i % 3].system_prompt);
    EXPECT_EQ(specs[i].expected_prompt_tokens, 140);
    EXPECT_EQ(count_words(specs[i].system_prompt), 99u);  // "Group N:" + 97 words
  }
  EXPECT_NE(specs[0].system_prompt, specs[1].system_prompt);
  EXPECT_NE(specs[0].prompt, specs[3].prompt);
}

TEST(Workload, PromptFilesShareGptAndPlain) {
  const std::string dir = test::make_temp_dir("client_jsonl");
  {
    std::ofstream out(dir + "/data.jsonl");
    out << R"({"prompt": "hello there", "output_len": 7})" << "\n\n"
        << R"({"conversations": [{"from": "human", "value": "what is two plus two"}, {"from": "gpt", "value": "It is four, of course."}]})"
        << "\n"
        << R"({"conversations": [{"from": "human", "value": "no reply"}]})" << "\n"
        << R"({"other": 1})" << "\n";
  }
  auto specs = load_prompt_file(dir + "/data.jsonl", 0);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].prompt, "hello there");
  EXPECT_EQ(specs[0].max_tokens, 7);
  EXPECT_EQ(specs[1].prompt, "what is two plus two");
  EXPECT_EQ(specs[1].max_tokens, estimate_tokens("It is four, of course."));
  specs = load_prompt_file(dir + "/data.jsonl", 33);
  EXPECT_EQ(specs[0].max_tokens, 33);
  EXPECT_EQ(specs[1].max_tokens, 33);
  {
    std::ofstream out(dir + "/array.json");
    out << R"([{"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}])";
  }
  EXPECT_EQ(load_prompt_file(dir + "/array.json", 0).size(), 1u);
  {
    std::ofstream out(dir + "/bad.jsonl");
    out << R"({"prompt": "ok"})" << "\n{broken\n";
  }
  try {
    load_prompt_file(dir + "/bad.jsonl", 0);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_prompt_file(dir + "/missing.jsonl", 0), std::runtime_error);
  BenchOptions o = synthetic_options();
  o.dataset = DatasetKind::kJsonl;
  o.dataset_path = dir + "/data.jsonl";
  const auto cycled = build_workload(o, 5);
  ASSERT_EQ(cycled.size(), 5u);
  EXPECT_EQ(cycled[4].prompt, "hello there");
}

TEST(Options, SloRatesAndValidation) {
  const Slo slo = parse_slo("ttft_ms=200,tpot_ms=50,e2e_ms=3000");
  EXPECT_EQ(slo.ttft_ms, 200);
  EXPECT_EQ(slo.tpot_ms, 50);
  EXPECT_EQ(slo.e2e_ms, 3000);
  EXPECT_THROW(parse_slo("ttft_ms"), std::invalid_argument);
  EXPECT_THROW(parse_slo("latency=3"), std::invalid_argument);
  EXPECT_THROW(parse_slo("ttft_ms=-1"), std::invalid_argument);
  const auto rates = parse_rates("1,2.5,inf");
  ASSERT_EQ(rates.size(), 3u);
  EXPECT_EQ(rates[1], 2.5);
  EXPECT_TRUE(std::isinf(rates[2]));
  EXPECT_THROW(parse_rates("1,x"), std::invalid_argument);
  EXPECT_THROW(parse_rates("0"), std::invalid_argument);

  std::vector<std::string> args = {"kvserve-bench", "--url", "http://h:1", "--num-requests", "3", "--no-stream",
                                   "--request-rate", "inf", "--endpoint", "chat", "--output-len", "9"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  BenchOptions o;
  ASSERT_TRUE(parse_options(static_cast<int>(argv.size()), argv.data(), o));
  EXPECT_FALSE(o.stream);
  EXPECT_TRUE(std::isinf(o.request_rate));
  EXPECT_EQ(o.endpoint, Endpoint::kChat);
  EXPECT_TRUE(o.output_len_set);
}

TEST(HttpBackend, RequestBodyAndUrl) {
  BenchOptions o = synthetic_options();
  o.ignore_eos = true;
  RequestSpec spec;
  spec.system_prompt = "sys ";
  spec.prompt = "user text";
  spec.max_tokens = 12;
  json body = json::parse(openai_request_body(o, "m", spec));
  EXPECT_EQ(body["prompt"], "sys user text");
  EXPECT_EQ(body["max_tokens"], 12);
  EXPECT_EQ(body["ignore_eos"], true);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["model"], "m");
  o.endpoint = Endpoint::kChat;
  o.stream = false;
  o.ignore_eos = false;
  body = json::parse(openai_request_body(o, "m", spec));
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][1]["content"], "user text");
  EXPECT_FALSE(body.contains("stream_options"));
  EXPECT_FALSE(body.contains("ignore_eos"));

  HttpTarget t = parse_http_url("http://example.org:8080");
  EXPECT_EQ(t.host, "example.org");
  EXPECT_EQ(t.port, 8080);
  EXPECT_EQ(t.api_prefix, "/v1");
  t = parse_http_url("http://[::1]:9000/proxy/v1/");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.port, 9000);
  EXPECT_EQ(t.api_prefix, "/proxy/v1");
  EXPECT_EQ(parse_http_url("http://h").port, 80);
  EXPECT_THROW(parse_http_url("http://h:port"), std::invalid_argument);
  EXPECT_THROW(parse_http_url("https://h:1"), std::invalid_argument);
}

TEST(LoadDriver, GammaArrivalsHaveTheAskedMeanRate) {
  for (double burstiness : {1.0, 0.25, 4.0}) {
    const auto times = arrival_times(20, burstiness, 20001, 11);
    EXPECT_EQ(times.front(), 0);
    EXPECT_NEAR(times.back() / 20000.0, 1.0 / 20, 0.05 / 20) << "burstiness " << burstiness;
    // Variance of the gaps is mean^2 / burstiness for a gamma distribution.
    double sum_sq = 0;
    for (size_t i = 1; i < times.size(); ++i) sum_sq += std::pow(times[i] - times[i - 1] - 0.05, 2);
    EXPECT_NEAR(sum_sq / 20000.0, 0.05 * 0.05 / burstiness, 0.15 * 0.05 * 0.05 / burstiness);
  }
  const auto all_at_once = arrival_times(INFINITY, 1, 5, 1);
  for (double t : all_at_once) EXPECT_EQ(t, 0);
}

TEST(Report, JsonAndTextHaveTheFields) {
  BenchOptions o = synthetic_options();
  RunReport run;
  run.records = {ok_record(100, 500, 5)};
  RequestRecord bad;
  bad.error_kind = "connection";
  bad.error_message = "refused";
  run.records.push_back(bad);
  run.summary = summarize(run.records, 1.0, o.slo);
  const json result = result_json({run}, o, "m");
  for (const char* key : {"completed", "failed", "errors_by_kind", "request_throughput", "output_throughput",
                          "total_token_throughput", "ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "goodput"}) {
    EXPECT_TRUE(result["summary"].contains(key)) << key;
  }
  for (const char* key : {"mean", "median", "p90", "p99"}) EXPECT_TRUE(result["summary"]["ttft_ms"].contains(key));
  EXPECT_EQ(result["requests"].size(), 2u);
  EXPECT_EQ(result["requests"][1]["error_kind"], "connection");
  EXPECT_EQ(result["config"]["input_len"], 40);
  const std::string text = text_report(run, o);
  EXPECT_NE(text.find("connection:"), std::string::npos);
  EXPECT_NE(text.find("Median TTFT (ms):"), std::string::npos);
  const std::string svg = svg_plot({run}, "t");
  EXPECT_NE(svg.find("E2E latency CDF"), std::string::npos);
}

TEST(Report, ResultJsonReadsBackForPlotting) {
  BenchOptions o = synthetic_options();
  o.concurrency = 3;
  RunReport run;
  run.records = {ok_record(100, 500, 5), ok_record(120, 700, 9)};
  run.summary = summarize(run.records, 2.0, o.slo);
  const std::vector<RunReport> back = runs_from_json(result_json({run}, o, "m"), "server-a");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].group, "server-a");
  EXPECT_EQ(back[0].label, "server-a c=3");
  EXPECT_EQ(back[0].summary.completed, 2);
  EXPECT_DOUBLE_EQ(back[0].summary.output_throughput, run.summary.output_throughput);
  EXPECT_DOUBLE_EQ(back[0].summary.ttft_ms.p99, run.summary.ttft_ms.p99);
  ASSERT_EQ(back[0].records.size(), 2u);
  EXPECT_DOUBLE_EQ(back[0].records[1].tpot_ms(), run.records[1].tpot_ms());
  EXPECT_EQ(back[0].records[1].itl_ms, run.records[1].itl_ms);

  o.sweep_rates = {2, INFINITY};
  RunReport fast = run;
  fast.request_rate = INFINITY;
  run.request_rate = 2;
  const auto sweep = runs_from_json(result_json({run, fast}, o, "m"), "b");
  ASSERT_EQ(sweep.size(), 2u);
  EXPECT_EQ(sweep[0].label, "b rate 2");
  EXPECT_TRUE(std::isinf(sweep[1].request_rate));
  EXPECT_THROW(runs_from_json(json{{"summary", 1}}, "x"), std::runtime_error);
}

}  // namespace
}  // namespace kvs::client
