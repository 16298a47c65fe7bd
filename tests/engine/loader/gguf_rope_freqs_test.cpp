#include "engine/loader/gguf_rope_freqs.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/loader/hf_export.h"
#include "engine/loader/loaded_model.h"
#include "tests/engine/loader/loader_test_util.h"
#include "tests/engine/loader/tiny_models.h"

namespace kvs {
namespace {

using namespace test;

// transformers' _compute_llama3_parameters, in frequency form: the divisor of
// dimension i is inv_freq / inv_freq_llama.
std::vector<float> transformers_divisors(double theta, int64_t head_dim, double factor, double low,
                                         double high, double original) {
  std::vector<float> out;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double inv_freq = 1.0 / std::pow(theta, static_cast<double>(2 * i) / head_dim);
    const double wavelen = 2 * 3.14159265358979323846 / inv_freq;
    double scaled = wavelen > original / low ? inv_freq / factor : inv_freq;
    const double smooth = (original / wavelen - low) / (high - low);
    if (!(wavelen < original / high) && !(wavelen > original / low)) {
      scaled = (1 - smooth) * scaled / factor + smooth * scaled;
    }
    out.push_back(static_cast<float>(inv_freq / scaled));
  }
  return out;
}

TEST(GgufRopeFreqs, DivisorsMatchTransformersFormula) {
  const RopeScaling llama31{"llama3", 8.0f, 1.0f, 4.0f, 8192};
  const std::vector<double> ours = llama3_rope_divisors(llama31, 500000.0, 128);
  const std::vector<float> reference = transformers_divisors(500000.0, 128, 8, 1, 4, 8192);
  ASSERT_EQ(ours.size(), 64u);
  EXPECT_EQ(ours.front(), 1.0);
  EXPECT_EQ(ours.back(), 8.0);
  int num_smooth = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_NEAR(ours[i], reference[i], 1e-5 * reference[i]) << i;
    if (ours[i] > 1.0 && ours[i] < 8.0) ++num_smooth;
  }
  EXPECT_GT(num_smooth, 3);
}

TEST(GgufRopeFreqs, RecoversLlama3Parameters) {
  for (const auto& [theta, head_dim, factor, original] :
       {std::tuple<double, int64_t, float, int64_t>{500000.0, 128, 8.0f, 8192},  // Llama 3.1
        {500000.0, 64, 32.0f, 8192},                                              // Llama 3.2 1B
        {10000.0, 16, 8.0f, 64}}) {
    const auto found = llama3_scaling_from_divisors(
        transformers_divisors(theta, head_dim, factor, 1, 4, static_cast<double>(original)), theta, head_dim);
    ASSERT_TRUE(found.has_value()) << head_dim;
    EXPECT_EQ(found->type, "llama3");
    EXPECT_EQ(found->factor, factor);
    EXPECT_EQ(found->low_freq_factor, 1.0f);
    EXPECT_EQ(found->high_freq_factor, 4.0f);
    EXPECT_EQ(found->original_max_position_embeddings, original);
  }
  std::vector<float> arbitrary = {1.0f, 1.7f, 1.1f, 5.0f, 2.0f, 8.0f, 8.0f, 8.0f};
  EXPECT_FALSE(llama3_scaling_from_divisors(arbitrary, 10000.0, 16).has_value());
  EXPECT_FALSE(llama3_scaling_from_divisors(arbitrary, 10000.0, 32).has_value());  // wrong size
}

GgufWriter tiny_with_rope_freqs(const std::vector<float>& divisors) {
  GgufWriter w = tiny_gguf_model("llama", TinyDims{}, 31, /*tied=*/true);
  w.add_tensor("rope_freqs.weight", kF32, {divisors.size()}, raw(divisors));
  return w;
}

TEST(GgufRopeFreqs, GgufModelGetsLlama3ScalingAndExportsIt) {
  TempDir dir("rope-freqs");
  // The tiny model: theta 1e4, head_dim 16.
  tiny_with_rope_freqs(transformers_divisors(10000.0, 16, 8, 1, 4, 64)).write(dir.file("m.gguf"));
  auto model = load_model(dir.file("m.gguf"));
  const RopeScaling& scaling = model->config.rope_scaling;
  EXPECT_EQ(scaling.type, "llama3");
  EXPECT_EQ(scaling.factor, 8.0f);
  EXPECT_EQ(scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(model->find("rope_freqs.weight"), nullptr);
  export_hf_folder(*model, dir.file("hf"));
  EXPECT_EQ(load_model(dir.file("hf"))->config, model->config);

  tiny_with_rope_freqs({1.0f, 1.7f, 1.1f, 5.0f, 2.0f, 8.0f, 8.0f, 8.0f}).write(dir.file("bad.gguf"));
  EXPECT_TRUE(contains(load_error(dir.file("bad.gguf")),
                       "rope_freqs.weight (per-dimension RoPE frequency factors) matches no Llama-3"));
  tiny_with_rope_freqs({1.0f, 2.0f}).write(dir.file("short.gguf"));
  EXPECT_TRUE(contains(load_error(dir.file("short.gguf")),
                       "rope_freqs.weight must be F32 with head_dim / 2 = 8 elements"));
}

}  // namespace
}  // namespace kvs
