// CUDA naive attention (kernels/cuda/naive_attention.h) against the CPU
// reference (kernels/cpu/naive_attention_reference.h) on odd shapes: head
// dims 1..256 (16-, 4- and 2-byte load paths), GQA groups 1/3/4/8, block
// sizes 1/7/16, windows crossing blocks, chunks after earlier context, an
// empty query, windows over 4096; with and without the score side output,
// with and without Gumbel noise. Tolerances: outputs |got - want| <= 1e-2 +
// 1e-2 |want| (bf16 inputs and output); scores (int64 fixed point, 2^32 = 1)
// within 1 unit per summed (row, head) term: the logits are the CPU's bit for
// bit, and the device's double exp/log are within 1 ulp of glibc's. Skips
// without a GPU (the argument checks run everywhere).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/naive_attention_reference.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/naive_attention.h"
#include "tests/common/prefill_attention_batch.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvs::kernels {
namespace {

using test::gpu::DeviceBuffer;
using Seqs = std::vector<std::pair<int32_t, int32_t>>;

// Score side output per sequence: row_begin (-1: off) and tau (0: no noise;
// empty: a null tau pointer); empty row_begin: no side output.
struct ScoreSpec {
  std::vector<int32_t> row_begin;
  std::vector<float> tau;
};

void check(const Seqs& seqs, int64_t kv_heads, int64_t group, int64_t head_dim, int64_t block_size,
           const ScoreSpec& spec) {
  const test::PrefillBatch b = test::make_prefill_batch(seqs, kv_heads * group, kv_heads, head_dim, block_size, 29);
  const int64_t width = b.num_heads * head_dim, num_seqs = static_cast<int64_t>(seqs.size());
  const bool with_scores = !spec.row_begin.empty();
  std::vector<int64_t> offsets, terms;
  std::vector<uint64_t> seeds;
  int64_t total = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    offsets.push_back(total);
    seeds.push_back(0x1234567ull * static_cast<uint64_t>(s + 1));
    total += b.context_lens[s];
  }
  terms.assign(static_cast<size_t>(total), 0);
  for (int64_t s = 0; with_scores && s < num_seqs; ++s) {
    const int64_t query_len = seqs[s].first;
    for (int64_t j = std::max<int64_t>(spec.row_begin[s], 0); spec.row_begin[s] >= 0 && j < query_len; ++j) {
      for (int64_t p = 0; p <= b.context_lens[s] - query_len + j; ++p) terms[offsets[s] + p] += b.num_heads;
    }
  }

  NaiveAttentionArgs host;
  host.attention = b.args();
  host.num_query_tokens = b.num_tokens;
  std::vector<int64_t> want_scores(static_cast<size_t>(std::max<int64_t>(total, 1)), 0);
  if (with_scores) {
    host.score_row_begin = spec.row_begin.data();
    host.score_offsets = offsets.data();
    host.score_tau = spec.tau.empty() ? nullptr : spec.tau.data();
    host.score_seeds = seeds.data();
    host.scores = want_scores.data();
  }
  std::vector<float> want(static_cast<size_t>(std::max<int64_t>(b.num_tokens, 1) * width));
  const Status reference = naive_attention_reference(host, want.data());
  ASSERT_TRUE(reference.ok()) << reference.message;

  DeviceBuffer d_q(b.q), d_k(b.k), d_v(b.v), d_cu(b.cu_query_lens), d_ctx(b.context_lens), d_tables(b.block_tables),
      d_out(want.size() * sizeof(uint16_t)), d_row_begin(spec.row_begin), d_offsets(offsets), d_tau(spec.tau),
      d_seeds(seeds), d_scores(want_scores.size() * sizeof(int64_t));
  NaiveAttentionArgs args = host;
  args.attention.q = d_q.as<uint16_t>();
  args.attention.k_cache = d_k.as<uint16_t>();
  args.attention.v_cache = d_v.as<uint16_t>();
  args.attention.cu_query_lens = d_cu.as<int32_t>();
  args.attention.context_lens = d_ctx.as<int32_t>();
  args.attention.block_tables = d_tables.as<int32_t>();
  args.attention.out = d_out.as<uint16_t>();
  if (with_scores) {
    args.score_row_begin = d_row_begin.as<int32_t>();
    args.score_offsets = d_offsets.as<int64_t>();
    args.score_tau = spec.tau.empty() ? nullptr : d_tau.as<float>();
    args.score_seeds = d_seeds.as<uint64_t>();
    args.scores = d_scores.as<int64_t>();
  }
  const Status status = cuda::naive_attention(args, nullptr);
  ASSERT_TRUE(status.ok()) << status.message;
  test::gpu::sync_ok();

  const std::string shape = " (D=" + std::to_string(head_dim) + " group " + std::to_string(group) + " block " +
                            std::to_string(block_size) + ")";
  const auto got = d_out.download<uint16_t>(static_cast<size_t>(b.num_tokens * width));
  for (size_t i = 0; i < got.size(); ++i) {
    const float g = bf16_to_fp32(got[i]), w = want[i];
    ASSERT_LE(std::abs(g - w), 1e-2f + 1e-2f * std::abs(w))
        << "token " << i / width << " head " << (i % width) / head_dim << " dim " << i % head_dim << " got " << g
        << " want " << w << shape;
  }
  if (!with_scores) return;
  const auto got_scores = d_scores.download<int64_t>(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i) {
    ASSERT_LE(std::abs(got_scores[i] - want_scores[i]), terms[i])
        << "score " << i << " got " << got_scores[i] << " want " << want_scores[i] << shape;
  }
}

// (query_len, context_len): decode-like rows, a pure prefill, chunks after
// earlier context (windows crossing blocks), an empty query.
const Seqs kSeqs = {{1, 100}, {7, 7}, {33, 233}, {0, 5}, {17, 40}, {65, 130}};
const ScoreSpec kMass = {{0, 3, -1, 0, 10, 60}, {}};
const ScoreSpec kGumbel = {{0, 3, 0, -1, 10, 60}, {0.5f, 1.0f, 0.0f, 2.0f, 0.25f, 1.5f}};

TEST(CudaNaiveAttentionTest, HeadDimsGroupsAndBlockSizes) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t head_dim : {16, 64, 80, 128, 256}) {
    for (const int64_t group : {1, 3, 4, 8}) {
      for (const int64_t block_size : {1, 16}) check(kSeqs, 2, group, head_dim, block_size, {});
    }
  }
}

TEST(CudaNaiveAttentionTest, OddHeadDimsUseNarrowLoads) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t head_dim : {1, 5, 18, 33, 250}) check(kSeqs, 2, 3, head_dim, 7, kMass);
}

TEST(CudaNaiveAttentionTest, AttentionMassSideOutput) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t head_dim : {16, 80, 128}) {
    for (const int64_t group : {1, 4}) {
      for (const int64_t block_size : {1, 16}) check(kSeqs, 2, group, head_dim, block_size, kMass);
    }
  }
}

TEST(CudaNaiveAttentionTest, GumbelScoreSideOutput) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  for (const int64_t head_dim : {64, 80, 256}) {
    for (const int64_t group : {1, 8}) check(kSeqs, 2, group, head_dim, 16, kGumbel);
  }
}

TEST(CudaNaiveAttentionTest, WindowsLongerThan4096) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const Seqs seqs = {{3, 5000}, {1, 4500}, {2, 2}};
  check(seqs, 2, 4, 128, 16, {});
  check(seqs, 2, 4, 128, 16, {{0, 0, 1}, {0.0f, 0.0f, 0.0f}});
  check(seqs, 1, 3, 80, 16, {{1, 0, 0}, {1.0f, 0.5f, 0.0f}});
}

// Launcher argument checks: no device needed (rejected before any CUDA call).
TEST(CudaNaiveAttentionTest, RejectsBadArguments) {
  const test::PrefillBatch b = test::make_prefill_batch({{4, 4}}, 4, 2, 64, 16, 1);
  std::vector<uint16_t> out(4 * 4 * 64);
  NaiveAttentionArgs a;
  a.attention = b.args();
  a.attention.out = out.data();
  a.num_query_tokens = 4;
  NaiveAttentionArgs bad = a;
  bad.attention.head_dim = 300;
  bad.attention.q_row_stride = 8 * 300;
  bad.attention.out_row_stride = 4 * 300;
  EXPECT_EQ(cuda::naive_attention(bad, nullptr).code, StatusCode::Unsupported);
  bad = a;
  bad.attention.num_heads = 3;
  EXPECT_EQ(cuda::naive_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  bad = a;
  bad.attention.v_cache = nullptr;
  EXPECT_EQ(cuda::naive_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  bad = a;
  bad.attention.out_row_stride = 4 * 64 - 1;
  EXPECT_EQ(cuda::naive_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  int64_t scores[4] = {};
  bad = a;
  bad.scores = scores;  // without row_begin / offsets
  EXPECT_EQ(cuda::naive_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  const int32_t row_begin[1] = {0};
  const int64_t offsets[1] = {0};
  const float tau[1] = {1.0f};
  bad.score_row_begin = row_begin;
  bad.score_offsets = offsets;
  bad.score_tau = tau;  // without seeds
  EXPECT_EQ(cuda::naive_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  bad = a;
  bad.num_query_tokens = -1;
  EXPECT_EQ(cuda::naive_attention(bad, nullptr).code, StatusCode::InvalidArgument);
  bad = a;
  bad.attention.num_seqs = 0;
  EXPECT_TRUE(cuda::naive_attention(bad, nullptr).ok());
  bad = a;
  bad.num_query_tokens = 0;
  EXPECT_TRUE(cuda::naive_attention(bad, nullptr).ok());
}

}  // namespace
}  // namespace kvs::kernels
