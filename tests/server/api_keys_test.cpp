// API keys: Bearer parsing and exact (constant-time) comparison.
#include <gtest/gtest.h>

#include "server/serving/api_keys.h"
#include "server/metrics/histogram.h"
#include "server/serve/serve_config.h"

namespace kvs {
namespace {

TEST(ApiKeysTest, AcceptsOnlyExactKeys) {
  const ApiKeys keys({"secret", "other-key"});
  EXPECT_TRUE(keys.enabled());
  EXPECT_TRUE(keys.accepts("secret"));
  EXPECT_TRUE(keys.accepts("other-key"));
  EXPECT_FALSE(keys.accepts("secre"));
  EXPECT_FALSE(keys.accepts("secrets"));
  EXPECT_FALSE(keys.accepts(""));
  EXPECT_TRUE(keys.accepts_authorization("Bearer secret"));
  EXPECT_FALSE(keys.accepts_authorization("secret"));
  EXPECT_FALSE(keys.accepts_authorization("Bearer "));
  EXPECT_FALSE(ApiKeys({}).enabled());
}

TEST(HistogramTest, RendersCumulativeBuckets) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5.0);
  std::string out;
  h.render(out, "x", "a=\"b\"");
  EXPECT_NE(out.find("x_bucket{a=\"b\",le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{a=\"b\",le=\"1\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{a=\"b\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count{a=\"b\"} 3\n"), std::string::npos) << out;
}

TEST(ServeConfigTest, ByteSizesAndValidation) {
  EXPECT_EQ(parse_byte_size("512MiB"), 512LL << 20);
  EXPECT_EQ(parse_byte_size("2g"), 2LL << 30);
  EXPECT_EQ(parse_byte_size("1000"), 1000);
  EXPECT_THROW(parse_byte_size("12parsecs"), std::exception);
  ServeConfig config;
  config.validate();
  config.port = 0;
  EXPECT_THROW(config.validate(), std::exception);
}

}  // namespace
}  // namespace kvs
