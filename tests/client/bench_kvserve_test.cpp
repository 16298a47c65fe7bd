// kvserve-bench against the real `kvserve serve` (default model, one thread):
// HTTP completions (streamed), HTTP chat (not streamed) and gRPC, a few short
// requests each; token counts come from kvserve's usage.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/client/bench_process.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

using nlohmann::json;

class BenchKvserveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::ifstream(test::default_model()).good()) return;
    http_port_ = test::free_port();
    grpc_port_ = test::free_port();
    server_ = new test::ChildProcess({test::binary_dir() + "/kvserve", "serve", "--model", test::default_model(),
                                      "--port", std::to_string(http_port_), "--grpc-port", std::to_string(grpc_port_),
                                      "--kv-cache-memory", "64MiB", "--threads", "1"});
    healthy_ = server_->started() && test::wait_healthy(http_port_, 120);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!std::ifstream(test::default_model()).good()) GTEST_SKIP() << "default model missing: " << test::default_model();
    ASSERT_TRUE(healthy_) << "kvserve did not start";
  }
  static std::string url() { return "http://127.0.0.1:" + std::to_string(http_port_); }

  static void expect_all_ok(const json& result, int num_requests, int input_len, int output_len, int prompt_slack) {
    ASSERT_FALSE(result.is_null());
    EXPECT_EQ(result["summary"]["completed"], num_requests) << result["summary"].dump();
    EXPECT_EQ(result["summary"]["failed"], 0) << result["summary"].dump();
    for (const json& r : result["requests"]) {
      EXPECT_TRUE(r["usage_reported"].get<bool>());
      EXPECT_EQ(r["output_tokens"], output_len);  // --ignore-eos: exactly max_tokens
      // One token per synthetic word, plus what a chat template / joins add.
      EXPECT_GE(r["prompt_tokens"].get<int>(), input_len);
      EXPECT_LE(r["prompt_tokens"].get<int>(), input_len + prompt_slack);
      EXPECT_GT(r["ttft_ms"].get<double>(), 0);
    }
    EXPECT_GT(result["summary"]["output_throughput"].get<double>(), 0);
  }

  static test::ChildProcess* server_;
  static int http_port_, grpc_port_;
  static bool healthy_;
};
test::ChildProcess* BenchKvserveTest::server_ = nullptr;
int BenchKvserveTest::http_port_ = 0;
int BenchKvserveTest::grpc_port_ = 0;
bool BenchKvserveTest::healthy_ = false;

TEST_F(BenchKvserveTest, HttpCompletionsStreamed) {
  const std::string dir = test::make_temp_dir("bench_kvserve_http");
  json result;
  ASSERT_EQ(test::run_bench({"--url", url(), "--num-requests", "4", "--concurrency", "2", "--input-len", "24",
                             "--output-len", "6", "--ignore-eos"},
                            dir, result),
            0);
  expect_all_ok(result, 4, 24, 6, 0);
  EXPECT_EQ(result["config"]["model"].get<std::string>().empty(), false);  // asked /v1/models
  EXPECT_GT(result["summary"]["itl_ms"]["count"].get<int>(), 0);
}

TEST_F(BenchKvserveTest, HttpChatNotStreamed) {
  const std::string dir = test::make_temp_dir("bench_kvserve_chat");
  json result;
  ASSERT_EQ(test::run_bench({"--url", url(), "--endpoint", "chat", "--no-stream", "--num-requests", "3",
                             "--concurrency", "3", "--input-len", "16", "--output-len", "5", "--ignore-eos"},
                            dir, result),
            0);
  expect_all_ok(result, 3, 16, 5, 40);
  for (const json& r : result["requests"]) EXPECT_FALSE(r["streamed"].get<bool>());
}

TEST_F(BenchKvserveTest, GrpcGenerate) {
  const std::string dir = test::make_temp_dir("bench_kvserve_grpc");
  json result;
  ASSERT_EQ(test::run_bench({"--grpc", "127.0.0.1:" + std::to_string(grpc_port_), "--num-requests", "4",
                             "--concurrency", "2", "--input-len", "24", "--output-len", "6", "--ignore-eos"},
                            dir, result),
            0);
  expect_all_ok(result, 4, 24, 6, 0);
  EXPECT_EQ(result["config"]["backend"], "grpc");
}

TEST_F(BenchKvserveTest, SharedPrefixWorkload) {
  const std::string dir = test::make_temp_dir("bench_kvserve_prefix");
  json result;
  ASSERT_EQ(test::run_bench({"--url", url(), "--dataset", "shared-prefix", "--num-prefix-groups", "2",
                             "--prefix-len", "64", "--num-requests", "4", "--concurrency", "2", "--input-len", "8",
                             "--output-len", "4", "--ignore-eos"},
                            dir, result),
            0);
  expect_all_ok(result, 4, 72, 4, 3);
}

}  // namespace
}  // namespace kvs
