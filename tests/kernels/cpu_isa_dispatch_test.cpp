// Runtime ISA dispatch (issue 22; kernels/cpu/cpu_isa.h): which copy of the
// CPU kernels runs, and that the public entry points of the copy in use give
// the portable references' results. ctest runs this suite twice in a
// dispatch build: as cpuid chooses, and with KVS_FORCE_ISA=avx2.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/attention_half.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_k.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/weight_format.h"
#include "tests/kernels/random_blocks.h"

namespace kvs::kernels {
namespace {

std::string expected_isa() {
  if (const char* forced = std::getenv("KVS_FORCE_ISA"); forced != nullptr && *forced != '\0') return forced;
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("x86-64-v4") && __builtin_cpu_supports("avx512vnni");
  return avx512 ? "avx512" : "avx2";
}

TEST(CpuIsaTest, DispatchBuildChoosesByCpuidUnlessForced) {
  if (!cpu_isa_dispatch_build()) GTEST_SKIP() << "a -march build: one copy, " << cpu_isa_name();
  EXPECT_EQ(std::string(cpu_isa_name()), expected_isa());
  EXPECT_NE(cpu_isa_description().find(cpu_isa_name()), std::string::npos) << cpu_isa_description();
}

TEST(CpuIsaTest, MarchBuildNamesItsCompiledLevel) {
  if (cpu_isa_dispatch_build()) GTEST_SKIP() << "a dispatch build";
  const std::string name = cpu_isa_name();
  EXPECT_TRUE(name == "avx512" || name == "avx2" || name == "generic") << name;
}

// matmul (the copy in use) against per-row portable dot products of the same
// 8-bit activations: one token (the GEMV paths), 9 tokens (tiles, and
// llama.cpp's repacked GEMM for Q4_0 / Q4_K with rows a multiple of 8).
TEST(CpuIsaTest, MatmulOfTheCopyInUseEqualsThePortableReference) {
  const int64_t num_out = 40, num_in = 512;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  for (WeightFormat format :
       {WeightFormat::Q4_1, WeightFormat::Q8_0, WeightFormat::Q4_0, WeightFormat::Q4_K, WeightFormat::Q6_K}) {
    const int64_t block = format_block_elements(format), num_blocks = num_in / block;
    const std::vector<uint8_t> w = test::random_blocks(format, num_out * num_blocks, rng);
    const size_t row_bytes = format_row_bytes(format, num_in);
    for (int64_t num_tokens : {1, 9}) {
      std::vector<float> x(num_tokens * num_in), y(num_tokens * num_out);
      for (float& v : x) v = dist(rng);
      MatmulScratch scratch;
      ASSERT_TRUE(matmul(format, w.data(), num_out, num_in, x.data(), num_tokens, y.data(), scratch).ok());
      for (int64_t t = 0; t < num_tokens; ++t) {
        std::vector<ActivationBlockQ8> xq(num_blocks);
        std::vector<ActivationBlockQ8K> xk(num_blocks);
        if (block == kQuantBlock) {
          quantize_activations(x.data() + t * num_in, xq.data(), num_in);
        } else {
          quantize_activations_q8_k_reference(x.data() + t * num_in, xk.data(), num_in);
        }
        for (int64_t n = 0; n < num_out; ++n) {
          const uint8_t* row = w.data() + n * row_bytes;
          const float want = block == kQuantBlock ? dot_quantized_reference(format, row, xq.data(), num_blocks)
                                                  : dot_quantized_k_reference(format, row, xk.data(), num_blocks);
          EXPECT_NEAR(y[t * num_out + n], want, 1e-4f * (1.0f + std::fabs(want)))
              << format_name(format) << " tokens " << num_tokens << " t " << t << " n " << n << " (" << cpu_isa_name()
              << ")";
        }
      }
    }
  }
}

// attention_varlen_paged over an f16 cache (the copy in use: on AVX-512 the
// grouped-query path) equals attend_one_half_reference bit for bit, in the
// decode (one new token) and the prefill (several) order.
TEST(CpuIsaTest, HalfAttentionOfTheCopyInUseEqualsThePortableReference) {
  const int64_t heads = 8, kv_heads = 2, dim = 64, block = 16, blocks = 5, len = 70;
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<uint16_t> k(blocks * block * kv_heads * dim), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) k[i] = fp32_to_fp16(dist(rng)), v[i] = fp32_to_fp16(dist(rng));
  const std::vector<int32_t> table{3, 0, 4, 1, 2};
  const PagedKvLayer cache{k.data(), v.data(), KvDType::F16, blocks, block, kv_heads, dim};
  for (int32_t query_len : {1, 6}) {
    std::vector<float> q(query_len * heads * dim), out(q.size());
    for (float& x : q) x = dist(rng);
    const std::vector<int32_t> cu{0, query_len}, context{static_cast<int32_t>(len)};
    const VarlenBatch batch{1, cu.data(), context.data(), table.data(), blocks};
    ASSERT_TRUE(attention_varlen_paged(q.data(), heads * dim, out.data(), cache, batch, heads, 0.125f).ok());
    const HalfMatmulOrder order = query_len >= 2 ? HalfMatmulOrder::kBatched : HalfMatmulOrder::kSingle;
    HalfAttentionScratch scratch;
    std::vector<float> want(dim);
    for (int32_t j = 0; j < query_len; ++j) {
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t window = len - query_len + j + 1;
        attend_one_half_reference(q.data() + (j * heads + h) * dim, k.data(), v.data(), table.data(), block,
                                  kv_heads * dim, (h / (heads / kv_heads)) * dim, dim, window, 0.125f, order, scratch,
                                  want.data(), nullptr, nullptr, blocks);
        for (int64_t i = 0; i < dim; ++i) {
          ASSERT_EQ(test::float_bits(out[(j * heads + h) * dim + i]), test::float_bits(want[i]))
              << "query_len " << query_len << " j " << j << " head " << h << " at " << i << " (" << cpu_isa_name()
              << ")";
        }
      }
    }
  }
}

}  // namespace
}  // namespace kvs::kernels
