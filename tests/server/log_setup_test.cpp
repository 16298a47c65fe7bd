// --log-format json / --log-level: one JSON object per line with time, level,
// message and the request id of the scope; the level filters.
#include "server/logging/log_setup.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "engine/errors.h"

namespace kvs {
namespace {

class LogSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("log-setup-test",
                                                   std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    spdlog::set_default_logger(logger);
  }
  void TearDown() override {
    spdlog::set_default_logger(previous_);
    spdlog::set_pattern("%+");
    spdlog::set_level(spdlog::level::info);
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(LogSetupTest, JsonLinesCarryTimeLevelMessageAndRequestId) {
  configure_logging("json", "info");
  spdlog::info("plain \"quoted\"\nline");
  {
    const RequestLogScope scope("req-7");
    spdlog::warn("inside");
  }
  spdlog::debug("filtered out");
  std::istringstream lines(out_.str());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  nlohmann::json first = nlohmann::json::parse(line);
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["message"], "plain \"quoted\"\nline");
  EXPECT_EQ(first["time"].get<std::string>().back(), 'Z');
  EXPECT_FALSE(first.contains("request_id"));
  ASSERT_TRUE(std::getline(lines, line));
  nlohmann::json second = nlohmann::json::parse(line);
  EXPECT_EQ(second["level"], "warning");
  EXPECT_EQ(second["request_id"], "req-7");
  EXPECT_FALSE(std::getline(lines, line)) << "debug must be filtered at info: " << line;
}

TEST_F(LogSetupTest, LevelFiltersAndBadNamesAreRejected) {
  configure_logging("text", "error");
  spdlog::warn("not shown");
  spdlog::error("shown");
  EXPECT_EQ(out_.str().find("not shown"), std::string::npos);
  EXPECT_NE(out_.str().find("shown"), std::string::npos);
  EXPECT_THROW(configure_logging("text", "loud"), InvalidArgument);
  EXPECT_THROW(configure_logging("xml", "info"), InvalidArgument);
}

}  // namespace
}  // namespace kvs
