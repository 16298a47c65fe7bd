// CUDA sampler against the CPU reference, token for token: greedy, and
// temperature / top-k / top-p with given uniforms and with Philox seeds, on
// odd vocabulary sizes (1, 7, 1000, 32001, 128256) and rows with ties and
// -inf logits. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/sampling_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/sampling.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;

struct Rows {
  std::vector<float> logits, temperatures, top_p;
  std::vector<int32_t> top_k;
  std::vector<uint64_t> seeds, offsets;
  std::vector<double> uniforms;
};

Rows make_rows(int64_t num_rows, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Rows r;
  r.logits.resize(num_rows * vocab);
  for (int64_t row = 0; row < num_rows; ++row) {
    float* l = r.logits.data() + row * vocab;
    for (int64_t i = 0; i < vocab; ++i) l[i] = normal(rng);
    if (row % 4 == 1) {  // quantised logits: many exact ties
      for (int64_t i = 0; i < vocab; ++i) l[i] = std::round(l[i]);
    }
    if (row % 4 == 2) {  // a masked vocabulary
      for (int64_t i = 0; i < vocab; i += 3) l[i] = -INFINITY;
    }
    const float temperatures[] = {0.0f, 1.0f, 0.7f, 1.3f, 0.05f};
    const int32_t top_ks[] = {0, 1, 5, 50, static_cast<int32_t>(vocab)};
    const float top_ps[] = {1.0f, 0.9f, 0.5f, 0.01f, 0.999f};
    r.temperatures.push_back(temperatures[row % 5]);
    r.top_k.push_back(top_ks[(row / 5) % 5]);
    r.top_p.push_back(top_ps[(row / 25) % 5]);
    r.seeds.push_back(0x9e3779b97f4a7c15ull * (row + 1));
    r.offsets.push_back(static_cast<uint64_t>(row) * 31);
    r.uniforms.push_back(row % 7 == 0 ? 0.0 : row % 7 == 1 ? 0.9999999999 : uniform(rng));
  }
  return r;
}

void check(int64_t num_rows, int64_t vocab, bool given_uniforms) {
  const Rows r = make_rows(num_rows, vocab, static_cast<uint32_t>(vocab));
  SamplingArgs host;
  host.logits = r.logits.data();
  host.logits_row_stride = vocab;
  host.num_rows = num_rows;
  host.vocab_size = vocab;
  host.temperatures = r.temperatures.data();
  host.top_k = r.top_k.data();
  host.top_p = r.top_p.data();
  host.seeds = r.seeds.data();
  host.offsets = r.offsets.data();
  host.uniforms = given_uniforms ? r.uniforms.data() : nullptr;
  std::vector<int32_t> want(num_rows, -1);
  host.out_tokens = want.data();
  ASSERT_TRUE(sample_reference(host).ok());

  DeviceBuffer d_logits(r.logits), d_t(r.temperatures), d_k(r.top_k), d_p(r.top_p), d_seeds(r.seeds),
      d_offsets(r.offsets), d_u(r.uniforms), d_out(num_rows * sizeof(int32_t));
  SamplingArgs a = host;
  a.logits = d_logits.as<float>();
  a.temperatures = d_t.as<float>();
  a.top_k = d_k.as<int32_t>();
  a.top_p = d_p.as<float>();
  a.seeds = d_seeds.as<uint64_t>();
  a.offsets = d_offsets.as<uint64_t>();
  a.uniforms = given_uniforms ? d_u.as<double>() : nullptr;
  a.out_tokens = d_out.as<int32_t>();
  ASSERT_TRUE(cuda::sample(a, nullptr).ok());
  test::gpu::sync_ok();
  const auto got = d_out.download<int32_t>(num_rows);
  for (int64_t row = 0; row < num_rows; ++row) {
    EXPECT_EQ(got[row], want[row]) << "vocab " << vocab << " row " << row << " T " << r.temperatures[row] << " k "
                                   << r.top_k[row] << " p " << r.top_p[row] << (given_uniforms ? " (uniforms)" : "");
  }
}

TEST(CudaSamplingTest, MatchesCpuReferenceWithGivenUniforms) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t vocab : {1, 7, 1000, 32001, 128256}) check(125, vocab, true);
}

TEST(CudaSamplingTest, MatchesCpuReferenceWithPhiloxSeeds) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t vocab : {7, 1000, 128256}) check(125, vocab, false);
}

TEST(CudaSamplingTest, ExpAndUniformAgreeWithHostBitForBit) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  // Through the kernel: a row {-delta, 0} and u just below / just at the
  // boundary w(-delta) the host computes; a device exp one float ulp off
  // moves the boundary by ~2^16 weight units and flips one of the two.
  for (const float delta : {0.001f, 0.5f, 3.0f, 17.25f, 27.9f}) {
    const uint64_t w0 = sampling_weight(0.0f), w1 = sampling_weight(-delta);
    const uint64_t total = w0 + w1;
    for (const uint64_t boundary : {w1 - 1, w1}) {
      const double u = (static_cast<double>(boundary) + 0.5) / static_cast<double>(total);
      const std::vector<float> logits = {-delta, 0.0f};
      const std::vector<float> t = {1.0f};
      const std::vector<double> us = {u};
      DeviceBuffer d_logits(logits), d_t(t), d_u(us), d_out(sizeof(int32_t));
      SamplingArgs a;
      a.logits = d_logits.as<float>();
      a.logits_row_stride = 2;
      a.num_rows = 1;
      a.vocab_size = 2;
      a.temperatures = d_t.as<float>();
      a.uniforms = d_u.as<double>();
      a.out_tokens = d_out.as<int32_t>();
      ASSERT_TRUE(cuda::sample(a, nullptr).ok());
      test::gpu::sync_ok();
      EXPECT_EQ(d_out.download<int32_t>(1)[0], boundary < w1 ? 0 : 1) << "delta " << delta;
    }
  }
}

}  // namespace
}  // namespace kvs::kernels
