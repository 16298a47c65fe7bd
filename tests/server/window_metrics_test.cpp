// The sliding-window KV series in /metrics (issue 19): blocks in use per
// KV-cache group kind, layers per block and blocks the windows freed.
#include <gtest/gtest.h>

#include "server/metrics/server_metrics.h"

namespace kvs {
namespace {

TEST(WindowMetricsTest, BlocksInUsePerGroupKindAndFreedByWindows) {
  EngineMetrics engine;
  engine.kv_blocks_used = 672;
  engine.kv_blocks_used_full = 512;
  engine.kv_blocks_used_window = 160;
  engine.kv_layers_per_block = 3;
  engine.kv_window_released_blocks = 2400;
  const std::string out = ServerMetrics("m").render(engine, 0, false);
  const auto has = [&](const std::string& line) { return out.find("\n" + line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("# TYPE kvserve:kv_blocks_in_use gauge")) << out;
  EXPECT_TRUE(has("kvserve:kv_blocks_in_use{model_name=\"m\",group=\"full\"} 512")) << out;
  EXPECT_TRUE(has("kvserve:kv_blocks_in_use{model_name=\"m\",group=\"sliding_window\"} 160")) << out;
  EXPECT_TRUE(has("kvserve:kv_layers_per_block{model_name=\"m\"} 3")) << out;
  EXPECT_TRUE(has("# TYPE kvserve:kv_window_blocks_freed_total counter")) << out;
  EXPECT_TRUE(has("kvserve:kv_window_blocks_freed_total{model_name=\"m\"} 2400")) << out;
  EXPECT_TRUE(has("kvserve:kv_blocks_used{model_name=\"m\"} 672")) << out;
}

}  // namespace
}  // namespace kvs
