// The speculative-decoding series in /metrics (issue 22), vLLM's names:
// drafts, draft tokens, accepted tokens, and accepted tokens per position.
#include <gtest/gtest.h>

#include "server/metrics/server_metrics.h"

namespace kvs {
namespace {

TEST(SpecDecodeMetricsTest, CountersAreRendered) {
  EngineMetrics engine;
  engine.spec_num_drafts = 12;
  engine.spec_num_draft_tokens = 40;
  engine.spec_num_accepted_tokens = 25;
  engine.spec_accepted_per_position = {11, 8, 6};
  const std::string out = ServerMetrics("m").render(engine, 0, false);
  const auto has = [&](const std::string& line) { return out.find("\n" + line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("# TYPE vllm:spec_decode_num_drafts_total counter")) << out;
  EXPECT_TRUE(has("vllm:spec_decode_num_drafts_total{model_name=\"m\"} 12")) << out;
  EXPECT_TRUE(has("# TYPE vllm:spec_decode_num_draft_tokens_total counter")) << out;
  EXPECT_TRUE(has("vllm:spec_decode_num_draft_tokens_total{model_name=\"m\"} 40")) << out;
  EXPECT_TRUE(has("# TYPE vllm:spec_decode_num_accepted_tokens_total counter")) << out;
  EXPECT_TRUE(has("vllm:spec_decode_num_accepted_tokens_total{model_name=\"m\"} 25")) << out;
  EXPECT_TRUE(has("vllm:spec_decode_num_accepted_tokens_per_pos_total{model_name=\"m\",position=\"0\"} 11")) << out;
  EXPECT_TRUE(has("vllm:spec_decode_num_accepted_tokens_per_pos_total{model_name=\"m\",position=\"2\"} 6")) << out;
}

TEST(SpecDecodeMetricsTest, ZeroWithoutSpeculation) {
  const std::string out = ServerMetrics("m").render(EngineMetrics{}, 0, false);
  EXPECT_NE(out.find("\nvllm:spec_decode_num_drafts_total{model_name=\"m\"} 0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("spec_decode_num_accepted_tokens_per_pos_total{"), std::string::npos) << out;
}

}  // namespace
}  // namespace kvs
