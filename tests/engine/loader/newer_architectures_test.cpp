// Qwen 3, Mistral, YaRN and Phi-3 configs: what they parse to, and the
// variants kvserve does not run, each refused with an error naming it. (The
// logits of real conversions are checked in tests/engine/model/tiny_arch_test.cpp.)
#include <gtest/gtest.h>

#include <string>

#include "engine/errors.h"
#include "engine/loader/hf_config.h"
#include "engine/loader/loaded_model.h"
#include "tests/engine/loader/loader_test_util.h"
#include "tests/engine/loader/tiny_models.h"

namespace kvs {
namespace {

using namespace test;

std::string hf_config(const std::string& architecture, const std::string& extra) {
  return R"({"architectures": [")" + architecture + R"("], "vocab_size": 100, "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "max_position_embeddings": 256, "rms_norm_eps": 1e-06, "hidden_act": "silu")" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

std::string hf_error(const std::string& config) {
  try {
    model_config_from_hf_json(config, "");
  } catch (const ModelLoadError& error) {
    return error.what();
  }
  return "<no error>";
}

TEST(NewerArchitectures, HfConfigsParse) {
  const ModelConfig qwen3 = model_config_from_hf_json(hf_config("Qwen3ForCausalLM", R"("head_dim": 32)"), "");
  EXPECT_EQ(qwen3.architecture, "qwen3");
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(qwen3.attention_bias);
  EXPECT_EQ(qwen3.head_dim, 32);
  const ModelConfig mistral = model_config_from_hf_json(hf_config("MistralForCausalLM", R"("sliding_window": 4096)"), "");
  EXPECT_EQ(mistral.architecture, "llama");
  EXPECT_EQ(mistral.sliding_window, 4096);
  EXPECT_TRUE(mistral.is_window_layer(0) && mistral.is_window_layer(1));
  EXPECT_EQ(model_config_from_hf_json(hf_config("MistralForCausalLM", R"("sliding_window": null)"), "").sliding_window, 0);
  const ModelConfig phi3 = model_config_from_hf_json(hf_config("Phi3ForCausalLM", R"("sliding_window": 2047)"), "");
  EXPECT_EQ(phi3.architecture, "phi3");
  EXPECT_EQ(phi3.sliding_window, 2047);
  // YaRN: transformers' defaults, and an explicit attention factor.
  const ModelConfig yarn = model_config_from_hf_json(
      hf_config("LlamaForCausalLM",
                R"("rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0,
                   "original_max_position_embeddings": 64})"),
      "");
  EXPECT_EQ(yarn.rope_scaling.type, "yarn");
  EXPECT_EQ(yarn.rope_scaling.factor, 4.0f);
  EXPECT_EQ(yarn.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(yarn.rope_scaling.beta_fast, 32.0f);
  EXPECT_EQ(yarn.rope_scaling.beta_slow, 1.0f);
  EXPECT_EQ(yarn.rope_scaling.attention_factor, 0.0f);
  const ModelConfig yarn_set = model_config_from_hf_json(
      hf_config("Qwen3ForCausalLM", R"("rope_scaling": {"type": "yarn", "factor": 2.0, "beta_fast": 16,
                   "beta_slow": 2, "attention_factor": 1.25})"),
      "");
  EXPECT_EQ(yarn_set.rope_scaling.original_max_position_embeddings, 256);  // max_position_embeddings
  EXPECT_EQ(yarn_set.rope_scaling.beta_fast, 16.0f);
  EXPECT_EQ(yarn_set.rope_scaling.beta_slow, 2.0f);
  EXPECT_EQ(yarn_set.rope_scaling.attention_factor, 1.25f);
}

TEST(NewerArchitectures, HfConfigsRefused) {
  EXPECT_TRUE(contains(hf_error(hf_config("Qwen3MoeForCausalLM", "")),
                       "architecture 'Qwen3MoeForCausalLM' is not supported"));
  EXPECT_TRUE(contains(hf_error(hf_config("Qwen3ForCausalLM", R"("attention_bias": true)")),
                       "qwen3 with attention_bias is not supported"));
  EXPECT_TRUE(contains(hf_error(hf_config("Qwen3ForCausalLM", R"("use_sliding_window": true)")),
                       "use_sliding_window is not supported"));
  // Phi-3 128k (LongRoPE, formerly "su") and Phi-4-mini's partial rotary embeddings.
  EXPECT_TRUE(contains(hf_error(hf_config("Phi3ForCausalLM", R"("rope_scaling": {"type": "longrope",
                                  "long_factor": [1.0], "short_factor": [1.0]})")),
                       "rope type 'longrope' is not supported"));
  EXPECT_TRUE(contains(hf_error(hf_config("Phi3ForCausalLM", R"("rope_scaling": {"type": "su", "long_factor": [1.0]})")),
                       "rope type 'su' is not supported"));
  EXPECT_TRUE(contains(hf_error(hf_config("Phi3ForCausalLM", R"("partial_rotary_factor": 0.75)")),
                       "partial_rotary_factor 0.75 is not supported"));
  EXPECT_TRUE(contains(hf_error(hf_config("Phi3ForCausalLM", R"("rope_parameters": {"rope_type": "default",
                                  "rope_theta": 1e4, "partial_rotary_factor": 0.5})")),
                       "partial_rotary_factor 0.5 is not supported"));
  EXPECT_TRUE(contains(hf_error(hf_config("LlamaForCausalLM", R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                  "truncate": false})")),
                       "yarn 'truncate': false is not supported"));
  EXPECT_TRUE(contains(hf_error(hf_config("LlamaForCausalLM", R"("rope_scaling": {"rope_type": "dynamic", "factor": 4.0})")),
                       "rope type 'dynamic' is not supported"));
}

// A tiny GGUF of `arch` changed by `edit`, loaded: the error ("<no error>" if it loaded).
template <typename Edit>
std::string gguf_error(const std::string& arch, Edit edit) {
  TempDir dir("newer-arch");
  GgufWriter w = tiny_gguf_model(arch, TinyDims{}, 7, /*tied=*/false);
  edit(w);
  w.write(dir.file("model.gguf"));
  try {
    load_model(dir.file("model.gguf"));
  } catch (const ModelLoadError& error) {
    return error.what();
  }
  return "<no error>";
}

TEST(NewerArchitectures, GgufRefused) {
  EXPECT_TRUE(contains(gguf_error("qwen3moe", [](GgufWriter&) {}), "architecture 'qwen3moe' is not supported"));
  EXPECT_TRUE(contains(gguf_error("phi2", [](GgufWriter&) {}), "architecture 'phi2' is not supported"));
  // YaRN with keys llama.cpp does not read for these architectures.
  EXPECT_TRUE(contains(gguf_error("llama",
                                  [](GgufWriter& w) {
                                    w.add_string("llama.rope.scaling.type", "yarn");
                                    w.add_f32("llama.rope.scaling.factor", 4.0f);
                                    w.add_f32("llama.rope.scaling.yarn_beta_fast", 16.0f);
                                  }),
                       "llama.rope.scaling.yarn_beta_fast is not supported"));
  EXPECT_TRUE(contains(gguf_error("llama", [](GgufWriter& w) { w.add_string("llama.rope.scaling.type", "longrope"); }),
                       "rope.scaling.type 'longrope' is not supported"));
  // Phi-3 128k's LongRoPE factors.
  EXPECT_TRUE(contains(gguf_error("phi3",
                                  [](GgufWriter& w) {
                                    w.add_tensor("rope_factors_long.weight", kF32, {8}, std::string(32, '\0'));
                                  }),
                       "rope_factors_long.weight (Phi-3 longrope / su rope scaling) is not supported"));
  // A phi3 file without the fused projections, a llama file with one.
  EXPECT_TRUE(contains(gguf_error("phi3", [](GgufWriter&) {}),
                       "missing tensor model.layers.0.self_attn.qkv_proj.weight"));
  EXPECT_TRUE(contains(gguf_error("llama",
                                  [](GgufWriter& w) {
                                    w.add_tensor("blk.0.attn_qkv.weight", kF32, {64, 128}, std::string(64 * 128 * 4, '\0'));
                                  }),
                       "unexpected tensor blk.0.attn_qkv.weight"));
  // The unmodified tiny model loads (the edits above are what fails).
  EXPECT_EQ(gguf_error("llama", [](GgufWriter&) {}), "<no error>");
}

}  // namespace
}  // namespace kvs
