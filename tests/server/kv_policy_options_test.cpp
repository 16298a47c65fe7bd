// KV compression options at the server edge (issue 8): the `kvserve` object's
// kv_policy / kv_budget, their completion from the server's default
// (resolve_kv_policy), --kv-policy / --kv-budget and the config-file keys, and
// the per-policy /metrics series.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "engine/errors.h"
#include "server/api/api_error.h"
#include "server/api/openai_parse.h"
#include "server/metrics/server_metrics.h"
#include "server/serve/serve_config.h"
#include "server/serving/kv_policy_request.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

// The param of the ApiError `body` raises, "" if none.
std::string param_of(const std::string& body) {
  try {
    parse_completion_request(body);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.param();
  }
  return "";
}

std::string resolve_param(std::optional<KvPolicyKind> kind, std::optional<double> budget, KvPolicySpec server) {
  try {
    resolve_kv_policy(kind, budget, server);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.param();
  }
  return "";
}

TEST(KvPolicyOptionsTest, KvserveObjectCarriesPolicyAndBudget) {
  const GenerationOptions both =
      parse_completion_request(R"({"prompt":"x","kvserve":{"kv_policy":"streaming","kv_budget":16}})").options;
  EXPECT_EQ(both.kv_policy, KvPolicyKind::kStreaming);
  EXPECT_EQ(both.kv_budget, 16.0);
  const GenerationOptions alone = parse_chat_request(
      R"({"messages":[{"role":"user","content":"x"}],"kvserve":{"kv_budget":0.25,"priority":2}})").options;
  EXPECT_FALSE(alone.kv_policy.has_value());
  EXPECT_EQ(alone.kv_budget, 0.25);
  EXPECT_EQ(alone.priority, 2);
  const GenerationOptions none = parse_completion_request(R"({"prompt":"x","kvserve":{"kv_policy":null}})").options;
  EXPECT_FALSE(none.kv_policy.has_value());
  EXPECT_FALSE(none.kv_budget.has_value());
  for (const char* name : {"none", "streaming", "h2o", "snapkv", "keyformer", "residual"}) {
    const auto body = std::string(R"({"prompt":"x","kvserve":{"kv_policy":")") + name + "\"}}";
    EXPECT_EQ(kv_policy_name(*parse_completion_request(body).options.kv_policy), std::string(name));
  }
}

TEST(KvPolicyOptionsTest, BadValuesAre400sNamingTheParam) {
  EXPECT_EQ(param_of(R"({"prompt":"x","kvserve":{"kv_policy":"lru"}})"), "kvserve.kv_policy");
  EXPECT_EQ(param_of(R"({"prompt":"x","kvserve":{"kv_policy":"Streaming"}})"), "kvserve.kv_policy");
  EXPECT_EQ(param_of(R"({"prompt":"x","kvserve":{"kv_policy":3}})"), "kvserve.kv_policy");
  EXPECT_EQ(param_of(R"({"prompt":"x","kvserve":{"kv_budget":"16"}})"), "kvserve.kv_budget");
  EXPECT_EQ(param_of(R"({"prompt":"x","kvserve":{"kv_budget":[16]}})"), "kvserve.kv_budget");
  EXPECT_EQ(param_of(R"({"prompt":"x","kvserve":{"kv_polcy":"h2o"}})"), "kvserve.kv_polcy");
  try {
    parse_completion_request(R"({"prompt":"x","kvserve":{"kv_policy":"lru"}})");
  } catch (const ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("lru"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("keyformer"), std::string::npos) << "lists the known names: " << e.what();
  }
}

TEST(KvPolicyOptionsTest, ResolveCompletesFromTheServerDefault) {
  const KvPolicySpec plain{};                                  // none, no budget
  const KvPolicySpec budget_only{KvPolicyKind::kNone, 0.5};    // none, but a default budget
  const KvPolicySpec h2o{KvPolicyKind::kH2O, 64};
  EXPECT_FALSE(resolve_kv_policy(std::nullopt, std::nullopt, h2o).has_value()) << "unset = the engine's default";

  auto spec = resolve_kv_policy(KvPolicyKind::kStreaming, 16.0, plain);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->kind, KvPolicyKind::kStreaming);
  EXPECT_EQ(spec->budget, 16.0);
  spec = resolve_kv_policy(KvPolicyKind::kSnapKV, std::nullopt, h2o);  // policy alone: the server's budget
  EXPECT_EQ(spec->kind, KvPolicyKind::kSnapKV);
  EXPECT_EQ(spec->budget, 64.0);
  spec = resolve_kv_policy(KvPolicyKind::kResidual, std::nullopt, budget_only);
  EXPECT_EQ(spec->kind, KvPolicyKind::kResidual);
  EXPECT_EQ(spec->budget, 0.5);
  spec = resolve_kv_policy(std::nullopt, 0.1, h2o);  // budget alone: the server's policy
  EXPECT_EQ(spec->kind, KvPolicyKind::kH2O);
  EXPECT_EQ(spec->budget, 0.1);
  spec = resolve_kv_policy(KvPolicyKind::kNone, std::nullopt, h2o);  // opting out of the default
  EXPECT_FALSE(spec->compresses());

  EXPECT_EQ(resolve_param(KvPolicyKind::kH2O, std::nullopt, plain), "kvserve.kv_budget") << "no budget anywhere";
  EXPECT_EQ(resolve_param(std::nullopt, 16.0, plain), "kvserve.kv_budget") << "a budget for policy none";
  EXPECT_EQ(resolve_param(std::nullopt, 16.0, budget_only), "kvserve.kv_budget");
  for (double bad : {0.0, -1.0, 1.5, 1.0e13}) {
    EXPECT_EQ(resolve_param(KvPolicyKind::kStreaming, bad, plain), "kvserve.kv_budget") << bad;
    EXPECT_EQ(resolve_param(std::nullopt, bad, h2o), "kvserve.kv_budget") << bad;
  }
  EXPECT_EQ(resolve_param(KvPolicyKind::kStreaming, 1.0, plain), "");
  EXPECT_EQ(resolve_param(KvPolicyKind::kStreaming, 0.999, plain), "");
}

TEST(KvPolicyOptionsTest, FlagsMapOntoTheEngineDefault) {
  KvPolicySpec spec = kv_policy_from_flags("none", 0);
  EXPECT_FALSE(spec.compresses());
  spec = kv_policy_from_flags("keyformer", 0.25);
  EXPECT_EQ(spec.kind, KvPolicyKind::kKeyformer);
  EXPECT_EQ(spec.budget, 0.25);
  EXPECT_EQ(kv_policy_from_flags("none", 32).budget, 32.0) << "a default budget for requests that pick a policy";
  const auto message = [](const std::string& policy, double budget) {
    try {
      kv_policy_from_flags(policy, budget);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message("lru", 16).find("--kv-policy"), std::string::npos);
  EXPECT_NE(message("h2o", 0).find("--kv-budget"), std::string::npos) << "a policy needs a budget";
  EXPECT_NE(message("h2o", 2.5).find("--kv-budget"), std::string::npos);
  EXPECT_NE(message("none", -1).find("--kv-budget"), std::string::npos);
  ServeConfig config;
  config.kv_policy = "streaming";
  EXPECT_THROW(config.validate(), InvalidArgument);
  config.kv_budget = 128;
  config.validate();
}

TEST(KvPolicyOptionsTest, ConfigFileKeys) {
  const std::string path = test::make_temp_dir("kv-config") + "/serve.json";
  std::ofstream(path) << R"({"kv_policy": "residual", "kv-budget": 0.5})";
  ServeConfig config;
  load_serve_config_file(path, config);
  EXPECT_EQ(config.kv_policy, "residual");
  EXPECT_EQ(config.kv_budget, 0.5);
  config.validate();
  std::ofstream(path) << R"({"kv_budget": "lots"})";
  EXPECT_THROW(load_serve_config_file(path, config), InvalidArgument);
  std::remove(path.c_str());
}

TEST(KvPolicyOptionsTest, MetricsHaveOneSamplePerPolicy) {
  EngineMetrics engine;
  engine.kv_policies[static_cast<int>(KvPolicyKind::kStreaming)].evicted_tokens = 42;
  engine.kv_policies[static_cast<int>(KvPolicyKind::kResidual)].recomputed_tokens = 7;
  engine.kv_policies[static_cast<int>(KvPolicyKind::kResidual)].recompute_seconds = 0.5;
  engine.kv_policies[static_cast<int>(KvPolicyKind::kH2O)].bytes_saved = 4096;
  const std::string out = ServerMetrics("m").render(engine, 0, false);
  const auto has = [&](const std::string& line) { return out.find("\n" + line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("# TYPE kvserve:kv_evicted_tokens_total counter")) << out;
  EXPECT_TRUE(has("# TYPE kvserve:kv_bytes_saved gauge")) << out;
  EXPECT_TRUE(has("kvserve:kv_evicted_tokens_total{model_name=\"m\",policy=\"streaming\"} 42")) << out;
  EXPECT_TRUE(has("kvserve:kv_evicted_tokens_total{model_name=\"m\",policy=\"keyformer\"} 0")) << out;
  EXPECT_TRUE(has("kvserve:kv_recomputed_tokens_total{model_name=\"m\",policy=\"residual\"} 7")) << out;
  EXPECT_TRUE(has("kvserve:kv_recompute_seconds_total{model_name=\"m\",policy=\"residual\"} 0.5")) << out;
  EXPECT_TRUE(has("kvserve:kv_bytes_saved{model_name=\"m\",policy=\"h2o\"} 4096")) << out;
  for (const char* series : {"kvserve:kv_evicted_tokens_total{", "kvserve:kv_recomputed_tokens_total{",
                             "kvserve:kv_bytes_saved{", "kvserve:kv_recompute_seconds_total{"}) {
    size_t count = 0;
    for (size_t at = out.find(series); at != std::string::npos; at = out.find(series, at + 1)) ++count;
    EXPECT_EQ(count, static_cast<size_t>(kNumKvPolicies)) << series;
  }
}

}  // namespace
}  // namespace kvs
