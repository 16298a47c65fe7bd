// The KV cache dtype at the server edge (issue 21): --kv-cache-dtype takes
// every kv_dtype_name (the engine then says which it runs), and /metrics
// gives the cache's bytes per token with its dtype, beside the block count.
#include <gtest/gtest.h>

#include "engine/errors.h"
#include "server/metrics/server_metrics.h"
#include "server/serve/serve_config.h"

namespace kvs {
namespace {

TEST(KvDtypeOptionsTest, EveryDtypeNameIsAcceptedAndOthersNamed) {
  ServeConfig config;
  for (const char* name : {"auto", "f16", "f32", "bf16", "q8_0", "q4_0", "fp8_e4m3"}) {
    config.kv_cache_dtype = name;
    EXPECT_NO_THROW(config.validate()) << name;
  }
  for (const char* name : {"q5_0", "fp16", "Q8_0", ""}) {
    config.kv_cache_dtype = name;
    try {
      config.validate();
      ADD_FAILURE() << "accepted \"" << name << "\"";
    } catch (const InvalidArgument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("--kv-cache-dtype"), std::string::npos) << message;
      EXPECT_NE(message.find("q8_0, q4_0"), std::string::npos) << message;
    }
  }
}

TEST(KvDtypeOptionsTest, MetricsGiveBytesPerTokenWithTheDtypeAndTheBlocks) {
  EngineMetrics engine;
  engine.kv_cache_dtype = "q8_0";
  engine.kv_cache_bytes_per_token = 12240;
  engine.kv_blocks_total = 2741;
  const std::string out = ServerMetrics("m").render(engine, 0, false);
  const auto has = [&](const std::string& line) { return out.find("\n" + line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("# TYPE kvserve:kv_cache_bytes_per_token gauge")) << out;
  EXPECT_TRUE(has("kvserve:kv_cache_bytes_per_token{model_name=\"m\",dtype=\"q8_0\"} 12240")) << out;
  EXPECT_TRUE(has("kvserve:kv_blocks_total{model_name=\"m\"} 2741")) << out;
}

}  // namespace
}  // namespace kvs
