// The request limits both front ends apply (server/serving/request_limits.h),
// concurrent streams per key (server/serving/stream_slots.h), which key a
// request authenticated with (ApiKeys::find), the serve flags / config keys
// that set the limits, and an audit that no log call can print a key.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "engine/errors.h"
#include "server/api/api_error.h"
#include "server/api/openai_parse.h"
#include "server/grpc/grpc_validation.h"
#include "server/serve/serve_config.h"
#include "server/serving/api_keys.h"
#include "server/serving/request_limits.h"
#include "server/serving/stream_slots.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

// The ApiError check_request_limits throws, as (status, param); {200, ""} if none.
std::pair<int, std::string> limit_error(const RequestLimits& limits, const GenerationOptions& options) {
  try {
    check_request_limits(limits, options);
  } catch (const ApiError& e) {
    return {e.status(), e.param()};
  }
  return {200, ""};
}

using Result = std::pair<int, std::string>;

TEST(RequestLimitsTest, DefaultsKeepTodaysBoundsAndNameTheField) {
  const RequestLimits limits;
  EXPECT_EQ(limits.max_n, 128);
  EXPECT_EQ(limits.max_tokens, 0);
  EXPECT_EQ(limits.max_stop, 16);
  EXPECT_EQ(limits.max_stop_bytes, 256);
  EXPECT_EQ(limits.max_streams_per_key, 64);
  GenerationOptions options;
  options.n = 128;
  options.max_tokens = 1 << 30;  // no cap by default: the context decides (add_choices)
  options.stop.assign(16, std::string(256, 'x'));
  EXPECT_EQ(limit_error(limits, options), Result(200, ""));
  GenerationOptions many = options;
  many.n = 129;
  EXPECT_EQ(limit_error(limits, many), Result(400, "n"));
  GenerationOptions stops = options;
  stops.stop.push_back("y");
  EXPECT_EQ(limit_error(limits, stops), Result(400, "stop"));
  GenerationOptions long_stop = options;
  long_stop.stop[3] += "x";
  EXPECT_EQ(limit_error(limits, long_stop), Result(400, "stop"));
}

TEST(RequestLimitsTest, ConfiguredBoundsApplyToParsedHttpAndGrpcRequests) {
  RequestLimits limits;
  limits.max_n = 2;
  limits.max_tokens = 50;
  limits.max_stop = 1;
  limits.max_stop_bytes = 4;
  const auto http = [&](const std::string& body) { return limit_error(limits, parse_completion_request(body).options); };
  EXPECT_EQ(http(R"({"prompt":"x","n":2,"max_tokens":50,"stop":"abcd"})"), Result(200, ""));
  EXPECT_EQ(http(R"({"prompt":"x","n":3})"), Result(400, "n"));
  EXPECT_EQ(http(R"({"prompt":"x","max_tokens":51})"), Result(400, "max_tokens"));
  EXPECT_EQ(http(R"({"prompt":"x","max_completion_tokens":51})"), Result(400, "max_tokens"));
  EXPECT_EQ(http(R"({"prompt":"x","stop":["a","b"]})"), Result(400, "stop"));
  EXPECT_EQ(http(R"({"prompt":"x","stop":"abcde"})"), Result(400, "stop"));
  // n above 128 is the server's call now, not the parser's.
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","n":1000})").options.n, 1000);
  EXPECT_EQ(limit_error(RequestLimits{}, parse_completion_request(R"({"prompt":"x","n":129})").options),
            Result(400, "n"));

  kvserve::v1::GenerateRequest grpc;
  grpc.set_text("x");
  grpc.set_max_tokens(51);
  EXPECT_EQ(limit_error(limits, grpc_generation_options(grpc)), Result(400, "max_tokens"));
  grpc.set_max_tokens(5);
  grpc.add_stop("ab");
  EXPECT_EQ(limit_error(limits, grpc_generation_options(grpc)), Result(200, ""));
  grpc.add_stop("cd");
  EXPECT_EQ(limit_error(limits, grpc_generation_options(grpc)), Result(400, "stop"));
}

TEST(RequestLimitsTest, MaxTokensCapAlsoBoundsRequestsThatSetNone) {
  RequestLimits limits;
  GenerationOptions unset;
  GenerationOptions asked;
  asked.max_tokens = 7;
  EXPECT_EQ(effective_max_tokens(limits, unset, 1000), 1000) << "no cap: the room left in the context";
  EXPECT_EQ(effective_max_tokens(limits, asked, 1000), 7);
  limits.max_tokens = 100;
  EXPECT_EQ(effective_max_tokens(limits, unset, 1000), 100);
  EXPECT_EQ(effective_max_tokens(limits, unset, 40), 40);
  EXPECT_EQ(effective_max_tokens(limits, asked, 1000), 7);
}

TEST(RequestLimitsTest, PromptsTimesNIsBoundedByMaxN) {
  RequestLimits limits;
  limits.max_n = 8;
  EXPECT_NO_THROW(check_choice_count(limits, 1, 8));
  EXPECT_NO_THROW(check_choice_count(limits, 4, 2));
  EXPECT_NO_THROW(check_choice_count(limits, 8, 1));
  const std::vector<std::pair<int64_t, int64_t>> over = {
      {3, 3}, {9, 1}, {2, 5}, {1000000, 1000000}, {128, std::numeric_limits<int64_t>::max()}};
  for (const auto& [prompts, n] : over) {
    try {
      check_choice_count(limits, prompts, n);
      ADD_FAILURE() << prompts << " x " << n << " was accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(e.param(), "prompt");
    }
  }
}

TEST(StreamSlotsTest, PerBucketLimitReleasedOnDestruction) {
  StreamCounts counts;
  auto first = std::make_unique<StreamSlot>(counts, 0, 2);
  StreamSlot second(counts, 0, 2);
  EXPECT_EQ(counts.open(0), 2);
  try {
    StreamSlot third(counts, 0, 2);
    ADD_FAILURE() << "a third stream opened";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 429);
    EXPECT_EQ(e.code(), "too_many_streams");
  }
  EXPECT_EQ(counts.open(0), 2) << "a refused stream holds nothing";
  StreamSlot other_key(counts, 1, 2);  // another key has its own count
  EXPECT_EQ(counts.open(1), 1);
  first.reset();
  EXPECT_EQ(counts.open(0), 1);
  EXPECT_NO_THROW(StreamSlot again(counts, 0, 2));
  EXPECT_EQ(counts.open(0), 1);
}

TEST(StreamSlotsTest, ZeroMeansUnlimited) {
  StreamCounts counts;
  std::vector<std::unique_ptr<StreamSlot>> slots;
  for (int i = 0; i < 1000; ++i) slots.push_back(std::make_unique<StreamSlot>(counts, 0, 0));
  EXPECT_EQ(counts.open(0), 1000);
  slots.clear();
  EXPECT_EQ(counts.open(0), 0);
}

TEST(StreamSlotsTest, ManyThreadsNeverExceedTheLimit) {
  StreamCounts counts;
  constexpr int64_t kLimit = 3;
  std::atomic<int64_t> inside{0}, most{0}, refused{0}, admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        try {
          StreamSlot slot(counts, 7, kLimit);
          const int64_t now = inside.fetch_add(1) + 1;
          int64_t seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          admitted.fetch_add(1);
          inside.fetch_sub(1);
        } catch (const ApiError&) {
          refused.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(most.load(), kLimit);
  EXPECT_GT(admitted.load(), 0);
  EXPECT_EQ(admitted.load() + refused.load(), 8 * 2000);
  EXPECT_EQ(counts.open(7), 0);
}

TEST(ApiKeysTest, FindNamesTheKeyThatMatched) {
  const ApiKeys keys({"alpha", "beta", "alpha"});
  EXPECT_EQ(keys.find("alpha"), std::optional<size_t>(0)) << "the first of a repeated key";
  EXPECT_EQ(keys.find("beta"), std::optional<size_t>(1));
  EXPECT_EQ(keys.find("gamma"), std::nullopt);
  EXPECT_EQ(keys.find("alph"), std::nullopt);
  EXPECT_EQ(keys.find("alphaa"), std::nullopt);
  EXPECT_EQ(keys.find(""), std::nullopt);
  EXPECT_EQ(keys.find_authorization("Bearer beta"), std::optional<size_t>(1));
  EXPECT_EQ(keys.find_authorization("beta"), std::nullopt);
  EXPECT_EQ(keys.find_authorization("Bearer "), std::nullopt);
  EXPECT_EQ(ApiKeys({}).find("anything"), std::nullopt);
}

// The message validate() throws, or "" when it passes.
std::string validation_error(const ServeConfig& config) {
  try {
    config.validate();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(ServeConfigLimitsTest, ValidateNamesTheBadFlag) {
  EXPECT_EQ(validation_error(ServeConfig{}), "");
  const auto with = [](auto change) {
    ServeConfig config;
    change(config.limits);
    return validation_error(config);
  };
  EXPECT_NE(with([](RequestLimits& l) { l.max_header_bytes = 100; }).find("--max-header-bytes"), std::string::npos);
  EXPECT_NE(with([](RequestLimits& l) { l.max_header_bytes = 1LL << 40; }).find("--max-header-bytes"), std::string::npos);
  EXPECT_NE(with([](RequestLimits& l) { l.max_body_bytes = 1LL << 40; }).find("--max-body-bytes"), std::string::npos);
  EXPECT_NE(with([](RequestLimits& l) { l.max_n = 0; }).find("--max-n"), std::string::npos);
  EXPECT_NE(with([](RequestLimits& l) { l.max_tokens = -1; }).find("--max-tokens-limit"), std::string::npos);
  EXPECT_NE(with([](RequestLimits& l) { l.max_stop = -1; }).find("--max-stop"), std::string::npos);
  EXPECT_NE(with([](RequestLimits& l) { l.max_stop_bytes = 0; }).find("--max-stop-bytes"), std::string::npos);
  EXPECT_NE(with([](RequestLimits& l) { l.max_streams_per_key = -1; }).find("--max-streams-per-key"), std::string::npos);
  EXPECT_EQ(with([](RequestLimits& l) { l.max_streams_per_key = 0; l.max_stop = 0; l.max_n = 1000; }), "");
}

TEST(ServeConfigLimitsTest, ConfigFileKeysAreTheFlagNames) {
  const std::string path = test::make_temp_dir("limits-config") + "/serve.json";
  std::ofstream(path) << R"({"max_header_bytes": 4096, "max-n": 4, "max_tokens_limit": 256, "max_stop": 2,
                             "max_stop_bytes": 32, "max-streams-per-key": 3, "max_body_bytes": 65536})";
  ServeConfig config;
  load_serve_config_file(path, config);
  EXPECT_EQ(config.limits.max_header_bytes, 4096);
  EXPECT_EQ(config.limits.max_n, 4);
  EXPECT_EQ(config.limits.max_tokens, 256);
  EXPECT_EQ(config.limits.max_stop, 2);
  EXPECT_EQ(config.limits.max_stop_bytes, 32);
  EXPECT_EQ(config.limits.max_streams_per_key, 3);
  EXPECT_EQ(config.limits.max_body_bytes, 65536);
  EXPECT_EQ(validation_error(config), "");
  std::ofstream(path) << R"({"max_stop": "many"})";
  EXPECT_THROW(load_serve_config_file(path, config), InvalidArgument);
  std::remove(path.c_str());
}

// Audit: no log call under server/ is handed a header, gRPC metadata, a body
// or a key. String literals (format text) are dropped first; what a log may
// name that looks alike: the request id header, whether keys exist, the body's size.
TEST(SecurityAuditTest, NoLogCallCanPrintAnApiKey) {
  const std::regex log_call(R"(spdlog::(trace|debug|info|warn|error|critical)\s*\(([^;]*);)");
  const std::regex literal(R"("([^"\\]|\\.)*")");
  const std::regex secret(R"(key|authorization|header|metadata|body|bearer)", std::regex::icase);
  int calls = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(test::source_dir() + "/server")) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".cpp" && entry.path().extension() != ".h") continue;
    const std::string source = test::read_file(path);
    for (auto it = std::sregex_iterator(source.begin(), source.end(), log_call); it != std::sregex_iterator(); ++it) {
      ++calls;
      std::string args = (*it)[2];
      args = std::regex_replace(args, std::regex(R"(res\.get_header_value\("X-Request-Id"\))"), "request_id");
      args = std::regex_replace(args, std::regex(R"(keys\.empty\(\))"), "no_auth");
      args = std::regex_replace(args, std::regex(R"(req\.body\.size\(\))"), "num_bytes");
      args = std::regex_replace(args, literal, "\"\"");
      EXPECT_FALSE(std::regex_search(args, secret)) << path << ": " << (*it)[0];
    }
  }
  EXPECT_GE(calls, 5) << "the audit found the log calls";
}

}  // namespace
}  // namespace kvs
