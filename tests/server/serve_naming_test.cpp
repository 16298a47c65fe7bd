// Names the server derives from its input: the API model name from --model,
// Prometheus label values, and usable request ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "server/cli/model_bundle.h"
#include "server/logging/log_setup.h"
#include "server/metrics/server_metrics.h"

namespace kvs {
namespace {

TEST(ModelNameFromPath, FilesGiveTheirStemFoldersTheirNameTrailingSlashesIgnored) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "kvs-naming-test" / "SmolLM2-1.7B";
  std::filesystem::create_directories(dir);
  EXPECT_EQ(model_name_from_path(dir.string()), "SmolLM2-1.7B");
  EXPECT_EQ(model_name_from_path(dir.string() + "/"), "SmolLM2-1.7B");
  EXPECT_EQ(model_name_from_path(dir.string() + "//"), "SmolLM2-1.7B");
  EXPECT_EQ(model_name_from_path("models/SmolLM2-135M-Instruct.Q4_1.gguf"), "SmolLM2-135M-Instruct.Q4_1");
  EXPECT_EQ(model_name_from_path("models/missing-folder/"), "missing-folder");
  std::filesystem::remove_all(dir.parent_path());
}

TEST(PrometheusLabels, ValuesAreEscapedPerTheExpositionFormat) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  ServerMetrics metrics("kv\"serve\n");
  const std::string page = metrics.render(EngineMetrics{}, 0, false);
  EXPECT_NE(page.find("model_name=\"kv\\\"serve\\n\""), std::string::npos);
  EXPECT_EQ(page.find("kv\"serve"), std::string::npos);
}

TEST(RequestIds, PrintableAsciiUpTo128Characters) {
  EXPECT_TRUE(is_valid_request_id("abc-123_XYZ.~"));
  EXPECT_TRUE(is_valid_request_id(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_request_id(std::string(129, 'a')));
  EXPECT_FALSE(is_valid_request_id(""));
  EXPECT_FALSE(is_valid_request_id("has space"));
  EXPECT_FALSE(is_valid_request_id("tab\there"));
  EXPECT_FALSE(is_valid_request_id("caf\xc3\xa9"));
  const RequestLogScope outer("outer");
  {
    const RequestLogScope inner("inner");
    EXPECT_EQ(current_request_id(), "inner");
  }
  EXPECT_EQ(current_request_id(), "outer");
}

}  // namespace
}  // namespace kvs
