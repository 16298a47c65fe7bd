// The CPU reference of the CUDA naive attention
// (kernels/cpu/naive_attention_reference.h) against a dense computation in
// double from the bf16 inputs: outputs and the KV-policy score side output
// (attention mass, and Keyformer's Gumbel score with the shared noise of
// kernels/gumbel_noise.h) on odd shapes: head dims 5 and 80, GQA groups 1 and
// 3, block sizes 1, 7 and 16, an empty query, chunks after earlier context.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/half.h"
#include "kernels/cpu/naive_attention_reference.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/gumbel_noise.h"
#include "tests/common/prefill_attention_batch.h"

namespace kvs::kernels {
namespace {

using Seqs = std::vector<std::pair<int32_t, int32_t>>;

struct ScoreSetup {
  std::vector<int32_t> row_begin;
  std::vector<float> tau;
  std::vector<uint64_t> seeds;
  std::vector<int64_t> offsets;
  int64_t total = 0;
};

struct Dense {
  std::vector<double> out;     // [tokens, heads * head_dim]
  std::vector<double> scores;  // [total], in units of 1 (not fixed point)
  std::vector<int64_t> terms;  // (row, head) terms summed into each score
};

double bf(uint16_t x) { return bf16_to_fp32(x); }

Dense dense(const test::PrefillBatch& b, const ScoreSetup& setup) {
  const PrefillAttentionArgs a = b.args();
  const int64_t width = b.num_heads * b.head_dim, group = b.num_heads / b.num_kv_heads;
  Dense d;
  d.out.assign(static_cast<size_t>(b.num_tokens * width), 0.0);
  d.scores.assign(static_cast<size_t>(setup.total), 0.0);
  d.terms.assign(static_cast<size_t>(setup.total), 0);
  auto row_of = [&](const std::vector<uint16_t>& cache, int64_t s, int64_t p, int64_t kv_head) {
    const int64_t slot = b.block_tables[s * b.max_blocks_per_seq + p / b.block_size] * b.block_size + p % b.block_size;
    return cache.data() + (slot * b.num_kv_heads + kv_head) * b.head_dim;
  };
  for (int64_t s = 0; s + 1 < static_cast<int64_t>(b.cu_query_lens.size()); ++s) {
    const int64_t query_len = b.cu_query_lens[s + 1] - b.cu_query_lens[s];
    for (int64_t j = 0; j < query_len; ++j) {
      const int64_t t = b.cu_query_lens[s] + j, position = b.context_lens[s] - query_len + j;
      const bool scored = !setup.row_begin.empty() && setup.row_begin[s] >= 0 && j >= setup.row_begin[s];
      for (int64_t h = 0; h < b.num_heads; ++h) {
        const uint16_t* q = b.q.data() + t * b.q_row_stride + h * b.head_dim;
        std::vector<double> logit(static_cast<size_t>(position + 1));
        for (int64_t p = 0; p <= position; ++p) {
          const uint16_t* k = row_of(b.k, s, p, h / group);
          double dot = 0.0;
          for (int64_t i = 0; i < b.head_dim; ++i) dot += bf(q[i]) * bf(k[i]);
          logit[p] = a.scale * dot;
        }
        auto softmax = [](std::vector<double> x) {
          double max = -INFINITY, sum = 0.0;
          for (const double e : x) max = std::max(max, e);
          for (double& e : x) sum += (e = std::exp(e - max));
          for (double& e : x) e /= sum;
          return x;
        };
        const std::vector<double> w = softmax(logit);
        for (int64_t p = 0; p <= position; ++p) {
          const uint16_t* v = row_of(b.v, s, p, h / group);
          for (int64_t i = 0; i < b.head_dim; ++i) d.out[t * width + h * b.head_dim + i] += w[p] * bf(v[i]);
        }
        if (!scored) continue;
        std::vector<double> x = logit;
        if (setup.tau[s] > 0.0f) {
          for (int64_t p = 0; p <= position; ++p) {
            x[p] = (x[p] + gumbel_noise_value(gumbel_row_seed(setup.seeds[s], position), h, p)) / setup.tau[s];
          }
        }
        const std::vector<double> score = softmax(x);
        for (int64_t p = 0; p <= position; ++p) {
          d.scores[setup.offsets[s] + p] += score[p];
          ++d.terms[setup.offsets[s] + p];
        }
      }
    }
  }
  return d;
}

ScoreSetup make_setup(const test::PrefillBatch& b, std::vector<int32_t> row_begin, std::vector<float> tau) {
  ScoreSetup setup;
  setup.row_begin = std::move(row_begin);
  setup.tau = std::move(tau);
  for (size_t s = 0; s < b.context_lens.size(); ++s) {
    setup.seeds.push_back(1000 + 77 * s);
    setup.offsets.push_back(setup.total);
    setup.total += b.context_lens[s];
  }
  return setup;
}

void check(const Seqs& seqs, int64_t group, int64_t head_dim, int64_t block_size, const std::vector<int32_t>& row_begin,
           const std::vector<float>& tau) {
  const test::PrefillBatch b = test::make_prefill_batch(seqs, 2 * group, 2, head_dim, block_size, 23);
  const ScoreSetup setup = make_setup(b, row_begin, tau);
  NaiveAttentionArgs args;
  args.attention = b.args();
  args.num_query_tokens = b.num_tokens;
  std::vector<int64_t> scores(static_cast<size_t>(setup.total), 0);
  args.score_row_begin = setup.row_begin.data();
  args.score_offsets = setup.offsets.data();
  args.score_tau = setup.tau.data();
  args.score_seeds = setup.seeds.data();
  args.scores = scores.data();
  const int64_t width = b.num_heads * head_dim;
  std::vector<float> out(static_cast<size_t>(std::max<int64_t>(b.num_tokens, 1) * width));
  const Status status = naive_attention_reference(args, out.data());
  ASSERT_TRUE(status.ok()) << status.message;

  const Dense want = dense(b, setup);
  for (int64_t i = 0; i < b.num_tokens * width; ++i) {
    ASSERT_NEAR(out[i], want.out[i], 1e-4 + 1e-4 * std::abs(want.out[i]))
        << "token " << i / width << " D=" << head_dim << " group " << group << " block " << block_size;
  }
  for (int64_t s = 0; s < static_cast<int64_t>(seqs.size()); ++s) {
    double sum = 0.0;
    int64_t rows = 0, windows = 0;
    for (int64_t p = 0; p < b.context_lens[s]; ++p) {
      const int64_t at = setup.offsets[s] + p;
      // float logits vs double ones (~1e-7 relative), 2^-33 rounding per term
      ASSERT_NEAR(static_cast<double>(scores[at]) / kScoreOne, want.scores[at], 1e-5 * std::max<int64_t>(want.terms[at], 1))
          << "seq " << s << " key " << p << " tau " << tau[s];
      sum += static_cast<double>(scores[at]);
      windows += want.terms[at];
    }
    const int64_t query_len = seqs[s].first;
    if (row_begin[s] >= 0) rows = std::max<int64_t>(query_len - row_begin[s], 0);
    // Every (row, head) adds a distribution: its terms sum to 2^32, up to half a unit of rounding each.
    EXPECT_LE(std::abs(sum - static_cast<double>(rows * b.num_heads) * kScoreOne), 0.5 * static_cast<double>(windows))
        << "seq " << s;
  }
}

const Seqs kSeqs = {{1, 9}, {7, 7}, {4, 40}, {0, 3}, {5, 21}};

TEST(NaiveAttentionReferenceTest, MatchesDenseDoubleWithAttentionMass) {
  for (const int64_t head_dim : {5, 80}) {
    for (const int64_t group : {1, 3}) {
      for (const int64_t block_size : {1, 7, 16}) {
        check(kSeqs, group, head_dim, block_size, {0, 2, -1, 0, 4}, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f});
      }
    }
  }
}

TEST(NaiveAttentionReferenceTest, MatchesDenseDoubleWithGumbelScores) {
  for (const int64_t head_dim : {5, 80}) {
    check(kSeqs, 3, head_dim, 7, {0, 2, 1, 0, 0}, {0.7f, 1.0f, 0.0f, 2.5f, 0.3f});
  }
}

TEST(NaiveAttentionReferenceTest, SharedGumbelNoiseIsTheCpuKernelsAndGumbelDistributed) {
  double sum = 0.0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float g = gumbel_noise_value(gumbel_row_seed(42, i / 100), i % 7, i);
    ASSERT_EQ(g, gumbel_noise(gumbel_row_seed(42, i / 100), i % 7, i));
    ASSERT_TRUE(std::isfinite(g));
    sum += g;
  }
  // Gumbel(0, 1): mean = Euler's gamma, standard deviation pi / sqrt(6) (5 sigma).
  EXPECT_NEAR(sum / n, 0.5772156649, 5 * 1.2825 / std::sqrt(static_cast<double>(n)));
}

TEST(NaiveAttentionReferenceTest, RejectsBadArguments) {
  const test::PrefillBatch b = test::make_prefill_batch({{3, 5}}, 4, 2, 8, 4, 1);
  NaiveAttentionArgs args;
  args.attention = b.args();
  args.num_query_tokens = 2;  // not cu_query_lens[num_seqs]
  std::vector<float> out(3 * 4 * 8);
  EXPECT_EQ(naive_attention_reference(args, out.data()).code, StatusCode::InvalidArgument);
  args.num_query_tokens = 3;
  EXPECT_TRUE(naive_attention_reference(args, out.data()).ok());
  std::vector<int64_t> scores(5);
  args.scores = scores.data();  // without row_begin / offsets
  EXPECT_EQ(naive_attention_reference(args, out.data()).code, StatusCode::InvalidArgument);
  args.scores = nullptr;
  args.attention.num_heads = 3;
  EXPECT_EQ(naive_attention_reference(args, out.data()).code, StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace kvs::kernels
