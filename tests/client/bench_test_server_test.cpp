// kvserve-bench (the real binary) against tests/client/server, an OpenAI test
// server with injected delays and faults: measured latencies match the
// injected ones, injected errors are counted by kind, the client sustains
// thousands of requests/s, open-loop arrivals follow the schedule, Ctrl-C
// reports what finished.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "client/driver/load_driver.h"
#include "tests/client/bench_process.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

// Rate and timing bounds hold only at full speed: a sanitizer build (CMake
// KVS_SANITIZE) runs the client several times slower, so they are skipped
// there; everything else in those tests is still checked first.
#ifdef KVS_SANITIZER_BUILD
constexpr const char* kSanitizerBuild = KVS_SANITIZER_BUILD;
#else
constexpr const char* kSanitizerBuild = nullptr;
#endif

using nlohmann::json;

// The test server on a free port with `flags`.
class TestServer {
 public:
  explicit TestServer(std::vector<std::string> flags) : port_(test::free_port()) {
    std::vector<std::string> args = {test::test_server_binary(), "--port", std::to_string(port_)};
    args.insert(args.end(), flags.begin(), flags.end());
    process_ = std::make_unique<test::ChildProcess>(args);
    healthy_ = process_->started() && test::wait_healthy(port_, 20);
  }
  bool healthy() const { return healthy_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  std::unique_ptr<test::ChildProcess> process_;
  bool healthy_ = false;
};

json errors_of(const json& result) { return result.at("summary").at("errors_by_kind"); }

void expect_delays(const std::string& endpoint) {
  TestServer server({"--ttft-ms", "200", "--itl-ms", "20"});
  ASSERT_TRUE(server.healthy());
  const std::string dir = test::make_temp_dir("bench_delays");
  json result;
  ASSERT_EQ(test::run_bench({"--url", server.url(), "--endpoint", endpoint, "--num-requests", "16", "--concurrency",
                             "4", "--input-len", "32", "--output-len", "11", "--warmup-requests", "2"},
                            dir, result),
            0);
  ASSERT_FALSE(result.is_null());
  const json& s = result["summary"];
  EXPECT_EQ(s["completed"], 16);
  EXPECT_EQ(s["failed"], 0);
  EXPECT_EQ(result["requests"].size(), 16u);  // warm-up excluded
  // Within 5% of what the server injected.
  EXPECT_NEAR(s["ttft_ms"]["mean"].get<double>(), 200.0, 10.0);
  EXPECT_NEAR(s["ttft_ms"]["median"].get<double>(), 200.0, 10.0);
  EXPECT_NEAR(s["itl_ms"]["mean"].get<double>(), 20.0, 1.0);
  EXPECT_NEAR(s["itl_ms"]["median"].get<double>(), 20.0, 1.0);
  EXPECT_NEAR(s["tpot_ms"]["mean"].get<double>(), 20.0, 1.0);
  EXPECT_NEAR(s["e2e_ms"]["mean"].get<double>(), 400.0, 20.0);
  EXPECT_EQ(s["itl_ms"]["count"], 16 * 10);
  EXPECT_EQ(s["total_output_tokens"], 16 * 11);
  for (const json& r : result["requests"]) {
    EXPECT_TRUE(r["usage_reported"].get<bool>());
    EXPECT_EQ(r["output_tokens"], 11);
    if (endpoint == "completions") {
      EXPECT_EQ(r["prompt_tokens"], 32);  // one word per token
    }
  }
}

TEST(BenchTestServer, MeasuresInjectedDelaysCompletions) { expect_delays("completions"); }
TEST(BenchTestServer, MeasuresInjectedDelaysChat) { expect_delays("chat"); }

void expect_faults(bool stream) {
  // Per 7 requests: 3 ok, one each of 500, drop, garbage, hang (> --timeout).
  TestServer server({"--itl-ms", "1", "--faults", "ok,500,ok,drop,ok,garbage,hang", "--hang-ms", "2500"});
  ASSERT_TRUE(server.healthy());
  const std::string dir = test::make_temp_dir("bench_faults");
  json result;
  std::string out;
  ASSERT_EQ(test::run_bench({"--url", server.url(), "--num-requests", "70", "--concurrency", "8", "--input-len",
                             "8", "--output-len", "5", "--timeout", "1", stream ? "--stream" : "--no-stream"},
                            dir, result, &out),
            0);
  ASSERT_FALSE(result.is_null()) << out;
  EXPECT_EQ(result["summary"]["completed"], 30);
  EXPECT_EQ(result["summary"]["failed"], 40);
  const json errors = errors_of(result);
  EXPECT_EQ(errors.value("http_500", 0), 10) << errors.dump();
  EXPECT_EQ(errors.value("connection", 0), 10) << errors.dump();
  EXPECT_EQ(errors.value(stream ? "malformed_sse" : "malformed_response", 0), 10) << errors.dump();
  EXPECT_EQ(errors.value("timeout", 0), 10) << errors.dump();
  EXPECT_EQ(errors.size(), 4u) << errors.dump();
  // The text report lists them too.
  EXPECT_NE(out.find("http_500:"), std::string::npos) << out;
  int num_with_status_500 = 0;
  for (const json& r : result["requests"]) num_with_status_500 += r.value("http_status", 0) == 500;
  EXPECT_EQ(num_with_status_500, 10);
}

TEST(BenchTestServer, CountsInjectedErrorsByKindStreaming) { expect_faults(true); }
TEST(BenchTestServer, CountsInjectedErrorsByKindNonStreaming) { expect_faults(false); }

TEST(BenchTestServer, RefusedConnectionsAreCountedNotFatal) {
  const std::string dir = test::make_temp_dir("bench_refused");
  json result;
  const int port = test::free_port();  // nothing listens there
  ASSERT_EQ(test::run_bench({"--url", "http://127.0.0.1:" + std::to_string(port), "--model", "m", "--num-requests",
                             "5", "--concurrency", "2"},
                            dir, result),
            0);
  ASSERT_FALSE(result.is_null());
  EXPECT_EQ(result["summary"]["failed"], 5);
  EXPECT_EQ(errors_of(result).value("connection", 0), 5);
}

TEST(BenchTestServer, GrpcUnavailableIsCountedByStatus) {
  const std::string dir = test::make_temp_dir("bench_grpc_refused");
  json result;
  const int port = test::free_port();  // nothing listens there
  ASSERT_EQ(test::run_bench({"--grpc", "127.0.0.1:" + std::to_string(port), "--num-requests", "3", "--concurrency",
                             "1", "--timeout", "20"},
                            dir, result),
            0);
  ASSERT_FALSE(result.is_null());
  EXPECT_EQ(result["summary"]["failed"], 3);
  EXPECT_EQ(errors_of(result).value("grpc_unavailable", 0), 3) << errors_of(result).dump();
}

TEST(BenchTestServer, JsonlPromptsAreSent) {
  TestServer server({});
  ASSERT_TRUE(server.healthy());
  const std::string dir = test::make_temp_dir("bench_jsonl");
  {
    std::ofstream out(dir + "/prompts.jsonl");
    out << R"({"prompt": "one two three", "output_len": 3})" << "\n"
        << R"({"conversations": [{"from": "human", "value": "a b c d e"}, {"from": "gpt", "value": "12345678"}]})"
        << "\n";
  }
  json result;
  ASSERT_EQ(test::run_bench({"--url", server.url(), "--endpoint", "chat", "--dataset", "jsonl", "--dataset-path",
                             dir + "/prompts.jsonl", "--num-requests", "4", "--concurrency", "1"},
                            dir, result),
            0);
  ASSERT_FALSE(result.is_null());
  ASSERT_EQ(result["summary"]["completed"], 4);
  for (const json& r : result["requests"]) {
    const bool first = r["index"].get<int>() % 2 == 0;
    EXPECT_EQ(r["prompt_tokens"], first ? 3 : 5);  // the test server counts words
    EXPECT_EQ(r["output_tokens"], first ? 3 : 2);  // 8 characters of reply ~ 2 tokens
  }
}

// Acceptance 2: never the bottleneck. Closed loop, 64 in flight, tiny streamed
// requests with no server delay, for 3 seconds.
TEST(BenchTestServer, SustainsTwoThousandRequestsPerSecond) {
  TestServer server({});
  ASSERT_TRUE(server.healthy());
  const std::string dir = test::make_temp_dir("bench_throughput");
  json result;
  ASSERT_EQ(test::run_bench({"--url", server.url(), "--duration", "3", "--concurrency", "64", "--input-len", "8",
                             "--output-len", "4"},
                            dir, result),
            0);
  ASSERT_FALSE(result.is_null());
  const double rate = result["summary"]["request_throughput"].get<double>();
  std::cout << "[ INFO     ] sustained " << rate << " requests/s (" << result["summary"]["completed"]
            << " completed)\n";
  EXPECT_EQ(result["summary"]["failed"], 0);
  if (kSanitizerBuild != nullptr) {
    GTEST_SKIP() << "rate bound not checked in a " << kSanitizerBuild << " sanitizer build";
  }
  EXPECT_GE(rate, 2000.0);
}

// Open loop: each request is sent at its scheduled Poisson arrival time.
TEST(BenchTestServer, OpenLoopFollowsArrivalSchedule) {
  TestServer server({"--ttft-ms", "5", "--itl-ms", "5"});
  ASSERT_TRUE(server.healthy());
  const std::string dir = test::make_temp_dir("bench_open_loop");
  json result;
  ASSERT_EQ(test::run_bench({"--url", server.url(), "--request-rate", "40", "--burstiness", "0.5", "--seed", "7",
                             "--num-requests", "80", "--input-len", "8", "--output-len", "4"},
                            dir, result),
            0);
  ASSERT_FALSE(result.is_null());
  ASSERT_EQ(result["summary"]["completed"], 80);
  const std::vector<double> schedule = client::arrival_times(40, 0.5, 80, 7);
  std::vector<double> lags;
  for (const json& r : result["requests"]) {
    lags.push_back(r["start_ms"].get<double>() - schedule.at(r["index"].get<size_t>()) * 1000);
  }
  std::sort(lags.begin(), lags.end());
  if (kSanitizerBuild != nullptr) {
    GTEST_SKIP() << "arrival lag bounds not checked in a " << kSanitizerBuild << " sanitizer build";
  }
  // Typically on time; the worst case allows for CPU contention on a shared machine
  // (arrivals span ~2 s, so sending all at once or at a wrong rate still fails).
  EXPECT_GE(lags.front(), -1.0);
  EXPECT_LT(lags[lags.size() / 2], 5.0);
  EXPECT_LT(lags.back(), 100.0);
  EXPECT_EQ(result["config"]["request_rate"], 40.0);
}

TEST(BenchTestServer, SweepWritesRunsAndPlot) {
  TestServer server({"--ttft-ms", "10", "--itl-ms", "2"});
  ASSERT_TRUE(server.healthy());
  const std::string dir = test::make_temp_dir("bench_sweep");
  json result;
  std::string out;
  ASSERT_EQ(test::run_bench({"--url", server.url(), "--sweep-rates", "20,inf", "--num-requests", "20",
                             "--input-len", "8", "--output-len", "6", "--plot", dir + "/plot.svg", "--slo",
                             "ttft_ms=1000,tpot_ms=1000"},
                            dir, result, &out),
            0);
  ASSERT_FALSE(result.is_null());
  ASSERT_EQ(result["runs"].size(), 2u);
  EXPECT_EQ(result["runs"][0]["request_rate"], 20.0);
  EXPECT_EQ(result["runs"][1]["request_rate"], "inf");
  for (const json& run : result["runs"]) {
    EXPECT_EQ(run["summary"]["completed"], 20);
    EXPECT_EQ(run["requests"].size(), 20u);
    EXPECT_GT(run["summary"]["goodput"].get<double>(), 0);
    EXPECT_EQ(run["summary"]["num_within_slo"], 20);
  }
  const std::string svg = test::read_file(dir + "/plot.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("TTFT CDF"), std::string::npos);
  EXPECT_NE(svg.find("Latency vs throughput"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(out.find("rate (req/s)"), std::string::npos) << out;  // the sweep table
}

TEST(BenchTestServer, InterruptPrintsWhatFinished) {
  TestServer server({"--ttft-ms", "50", "--itl-ms", "50"});
  ASSERT_TRUE(server.healthy());
  const std::string dir = test::make_temp_dir("bench_sigint");
  const std::string json_path = dir + "/result.json";
  test::ChildProcess bench({test::bench_binary(), "--url", server.url(), "--num-requests", "1000", "--concurrency",
                            "4", "--input-len", "8", "--output-len", "10", "--quiet", "--result-json", json_path},
                           dir + "/stdout.txt");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  bench.signal(SIGINT);
  EXPECT_EQ(bench.wait(20), 130);
  const std::string out = test::read_file(dir + "/stdout.txt");
  EXPECT_NE(out.find("(interrupted)"), std::string::npos) << out;
  std::ifstream in(json_path);
  ASSERT_TRUE(in.good());
  const json result = json::parse(in);
  EXPECT_TRUE(result["interrupted"].get<bool>());
  const int64_t completed = result["summary"]["completed"];
  EXPECT_GE(completed, 8);    // ~0.55 s per request, 4 at a time, for 2.5 s
  EXPECT_LT(completed, 100);
  EXPECT_EQ(result["summary"]["failed"], 0);
}

TEST(BenchTestServer, BadArgumentsExitWithAMessage) {
  const std::string dir = test::make_temp_dir("bench_args");
  json result;
  std::string out;
  EXPECT_EQ(test::run_bench({"--url", "http://127.0.0.1:1", "--grpc", "127.0.0.1:2", "--num-requests", "1"}, dir,
                            result, &out),
            2);
  EXPECT_NE(out.find("exactly one of --url and --grpc"), std::string::npos) << out;
  EXPECT_EQ(test::run_bench({"--url", "http://127.0.0.1:1", "--num-requests", "1", "--slo", "ttft=abc"}, dir,
                            result, &out),
            2);
  EXPECT_NE(out.find("--slo"), std::string::npos) << out;
  EXPECT_EQ(test::run_bench({"--url", "http://127.0.0.1:1"}, dir, result, &out), 2);
  EXPECT_NE(out.find("--num-requests"), std::string::npos) << out;
}

}  // namespace
}  // namespace kvs
