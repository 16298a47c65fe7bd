// Paged varlen attention against a dense, per-sequence reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/attention_half.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/paged_attention.h"
#include "tests/kernels/random_blocks.h"

namespace kvs::kernels {
namespace {

struct Case {
  int64_t num_heads, num_kv_heads, head_dim, block_size;
  std::vector<int32_t> cached, fresh;  // per sequence: tokens already cached, new tokens
};

// Dense reference: for one sequence with all K/V [len, kv_heads, dim].
void reference_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                         int64_t num_new, int64_t len, const Case& c, std::vector<float>& out) {
  const int64_t group = c.num_heads / c.num_kv_heads;
  out.assign(num_new * c.num_heads * c.head_dim, 0.0f);
  for (int64_t j = 0; j < num_new; ++j) {
    const int64_t position = len - num_new + j;
    for (int64_t h = 0; h < c.num_heads; ++h) {
      const int64_t kh = h / group;
      std::vector<double> scores(position + 1);
      double max = -1e300, sum = 0.0;
      for (int64_t p = 0; p <= position; ++p) {
        double dot = 0.0;
        for (int64_t i = 0; i < c.head_dim; ++i) {
          dot += q[(j * c.num_heads + h) * c.head_dim + i] * k[(p * c.num_kv_heads + kh) * c.head_dim + i];
        }
        scores[p] = dot / std::sqrt(static_cast<double>(c.head_dim));
        max = std::max(max, scores[p]);
      }
      for (double& s : scores) sum += (s = std::exp(s - max));
      for (int64_t p = 0; p <= position; ++p) {
        for (int64_t i = 0; i < c.head_dim; ++i) {
          out[(j * c.num_heads + h) * c.head_dim + i] +=
              static_cast<float>(scores[p] / sum * v[(p * c.num_kv_heads + kh) * c.head_dim + i]);
        }
      }
    }
  }
}

void run_case(const Case& c, KvDType dtype = KvDType::F32) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist;
  const int64_t num_seqs = static_cast<int64_t>(c.cached.size());
  const int64_t kv_row = c.num_kv_heads * c.head_dim, q_row = c.num_heads * c.head_dim;
  // Blocks handed out in a scrambled order so the block tables matter.
  int64_t max_blocks = 0, total_blocks = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t blocks = (c.cached[s] + c.fresh[s] + c.block_size - 1) / c.block_size;
    max_blocks = std::max(max_blocks, blocks);
    total_blocks += blocks;
  }
  std::vector<int32_t> order(total_blocks);
  for (int64_t i = 0; i < total_blocks; ++i) order[i] = static_cast<int32_t>((i * 7 + 3) % total_blocks);
  const size_t element = dtype == KvDType::F16 ? 2 : 4;
  std::vector<uint8_t> k_cache(total_blocks * c.block_size * kv_row * element), v_cache(k_cache.size());
  PagedKvLayer cache{k_cache.data(), v_cache.data(), dtype, total_blocks, c.block_size, c.num_kv_heads, c.head_dim};
  std::vector<int32_t> cu{0}, context, tables(num_seqs * max_blocks, -1);
  std::vector<float> q, keys_all, values_all;
  std::vector<std::vector<float>> seq_k(num_seqs), seq_v(num_seqs), seq_q(num_seqs);
  int64_t next = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t len = c.cached[s] + c.fresh[s];
    const int64_t blocks = (len + c.block_size - 1) / c.block_size;
    for (int64_t b = 0; b < blocks; ++b) tables[s * max_blocks + b] = order[next++];
    seq_k[s].resize(len * kv_row);
    seq_v[s].resize(len * kv_row);
    for (float& x : seq_k[s]) x = dist(rng);
    for (float& x : seq_v[s]) x = dist(rng);
    std::vector<int32_t> slots;
    for (int64_t p = 0; p < len; ++p) {
      slots.push_back(tables[s * max_blocks + p / c.block_size] * static_cast<int32_t>(c.block_size) +
                      static_cast<int32_t>(p % c.block_size));
    }
    ASSERT_TRUE(write_kv(cache, seq_k[s].data(), kv_row, seq_v[s].data(), kv_row, slots.data(), len).ok());
    seq_q[s].resize(c.fresh[s] * q_row);
    for (float& x : seq_q[s]) x = dist(rng);
    q.insert(q.end(), seq_q[s].begin(), seq_q[s].end());
    cu.push_back(cu.back() + c.fresh[s]);
    context.push_back(static_cast<int32_t>(len));
  }
  VarlenBatch batch{num_seqs, cu.data(), context.data(), tables.data(), max_blocks};
  std::vector<float> out(cu.back() * q_row);
  ASSERT_TRUE(attention_varlen_paged(q.data(), q_row, out.data(), cache, batch, c.num_heads,
                                     1.0f / std::sqrt(static_cast<float>(c.head_dim))).ok());
  for (int64_t s = 0; s < num_seqs; ++s) {
    std::vector<float> expected;
    if (dtype == KvDType::F16) {  // the reference sees the inputs the half cache keeps
      for (auto* v : {&seq_q[s], &seq_k[s], &seq_v[s]}) {
        for (float& x : *v) x = fp16_to_fp32(fp32_to_fp16(x));
      }
    }
    reference_attention(seq_q[s], seq_k[s], seq_v[s], c.fresh[s], context[s], c, expected);
    // Half precision also rounds the softmax weights (relative 2^-11 each).
    const float tolerance = dtype == KvDType::F16 ? 2e-3f : 2e-5f;
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(out[cu[s] * q_row + i], expected[i], tolerance) << "seq " << s << " index " << i;
    }
  }
}

TEST(PagedAttentionTest, SingleSequencePrefill) { run_case({4, 2, 16, 16, {0}, {37}}); }
TEST(PagedAttentionTest, DecodeAfterLongContextOddBlockSize) { run_case({6, 2, 8, 5, {123}, {1}}); }
TEST(PagedAttentionTest, MixedBatchOfPrefillChunksAndDecodes) {
  run_case({9, 3, 64, 16, {0, 40, 17, 0}, {1, 1, 9, 33}});
}
TEST(PagedAttentionTest, MultiHeadWithoutGqa) { run_case({3, 3, 32, 1, {2}, {3}}); }
TEST(PagedAttentionTest, HalfPrecisionCacheMixedBatch) {
  run_case({9, 3, 64, 16, {0, 40, 17, 0}, {1, 1, 9, 33}}, KvDType::F16);
  run_case({6, 2, 8, 5, {123}, {1}}, KvDType::F16);
}

// The K/V write path's float -> half row conversion (F16C eight at a time)
// gives fp32_to_fp16's halves: random values over the whole half range and
// beyond, ties between two halves, subnormal halves, overflow to infinity.
TEST(HalfConversionTest, RowConversionEqualsOneAtATime) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> exponent(-30.0f, 17.0f);
  std::vector<float> x(1027);
  for (float& v : x) v = std::exp2(exponent(rng)) * (rng() % 2 ? 1.0f : -1.0f);
  x[0] = 1.0f + 1.0f / 2048.0f;              // halfway between two halves: to even
  x[1] = 1.0f + 3.0f / 2048.0f;              // halfway: up to even
  x[2] = 65520.0f, x[3] = -1e9f, x[4] = 0.0f, x[5] = -0.0f;
  x[6] = 3e-8f, x[7] = std::numeric_limits<float>::infinity();
  std::vector<uint16_t> row(x.size());
  float_row_to_half(x.data(), row.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(row[i], fp32_to_fp16(x[i])) << x[i] << " at " << i;
}

TEST(HalfAttentionTest, DotOrdersFollowLlamaCppsTwoMatmulPaths) {
  // 2^24 + 1 rounds back to 2^24. Elements 0, 16 and 48 share tinyBLAS lane 0
  // (added one after the other: both ones are lost); ggml_vec_dot_f16 puts
  // them in accumulators 0, 1, 3 and adds 1 + 1 before 2^24.
  std::vector<float> a(64, 0.0f), b(64, 1.0f);
  a[0] = 16777216.0f;
  a[16] = 1.0f;
  a[48] = 1.0f;
  EXPECT_EQ(dot_halves(a.data(), b.data(), 64, HalfMatmulOrder::kBatched), 16777216.0f);
  EXPECT_EQ(dot_halves(a.data(), b.data(), 64, HalfMatmulOrder::kSingle), 16777218.0f);
  // A length tinyBLAS cannot take (not a multiple of 16) uses the single order;
  // past the last block of 64 the sum is in double.
  std::vector<float> c(72, 0.0f), d(72, 1.0f);
  c[0] = 16777216.0f;
  c[64] = 1.0f;
  c[65] = 1.0f;
  EXPECT_EQ(dot_halves(c.data(), d.data(), 72, HalfMatmulOrder::kBatched), 16777218.0f);
}

// One sequence of `len` cached tokens (one block) and its attention for the
// last `query_len` of them through attention_varlen_paged.
struct HalfSequence {
  int64_t heads = 4, kv_heads = 2, dim = 64, len = 0;
  std::vector<uint16_t> k, v;
  std::vector<float> q;
  explicit HalfSequence(int64_t length, uint32_t seed) : len(length) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist;
    std::vector<float> kf(len * kv_heads * dim), vf(kf.size());
    for (float& x : kf) x = dist(rng);
    for (float& x : vf) x = dist(rng);
    k.resize(kf.size());
    v.resize(vf.size());
    for (size_t i = 0; i < kf.size(); ++i) k[i] = fp32_to_fp16(kf[i]), v[i] = fp32_to_fp16(vf[i]);
    q.resize(len * heads * dim);
    for (float& x : q) x = dist(rng);
  }
  PagedKvLayer cache() { return {k.data(), v.data(), KvDType::F16, 1, len, kv_heads, dim}; }
};

TEST(HalfAttentionTest, PrefillRowsUseTheBatchedOrderAndDecodeTheSingleOne) {
  HalfSequence seq(40, 11);
  const int32_t table = 0;
  for (int32_t query_len : {1, 7}) {
    std::vector<int32_t> cu{0, query_len}, context{static_cast<int32_t>(seq.len)};
    VarlenBatch batch{1, cu.data(), context.data(), &table, 1};
    const float* q = seq.q.data() + (seq.len - query_len) * seq.heads * seq.dim;
    std::vector<float> out(query_len * seq.heads * seq.dim);
    ASSERT_TRUE(attention_varlen_paged(q, seq.heads * seq.dim, out.data(), seq.cache(), batch, seq.heads, 0.125f).ok());
    const HalfMatmulOrder order = query_len >= 2 ? HalfMatmulOrder::kBatched : HalfMatmulOrder::kSingle;
    HalfAttentionScratch scratch;
    std::vector<float> expected(seq.dim);
    for (int32_t j = 0; j < query_len; ++j) {
      for (int64_t h = 0; h < seq.heads; ++h) {
        const int64_t window = seq.len - query_len + j + 1;
        attend_one_half(q + (j * seq.heads + h) * seq.dim, seq.k.data(), seq.v.data(), &table, seq.len,
                        seq.kv_heads * seq.dim, (h / 2) * seq.dim, seq.dim, window, 0.125f, order, scratch,
                        expected.data());
        for (int64_t i = 0; i < seq.dim; ++i) {
          ASSERT_EQ(out[(j * seq.heads + h) * seq.dim + i], expected[i]) << query_len << " " << j << " " << h;
        }
      }
    }
  }
}

TEST(HalfAttentionTest, BatchedAndSingleOrdersAgreeClosely) {
  HalfSequence seq(100, 12);
  const int32_t table = 0;
  HalfAttentionScratch scratch;
  std::vector<float> batched(seq.dim), single(seq.dim);
  const float* q = seq.q.data() + (seq.len - 1) * seq.heads * seq.dim;
  for (auto [order, out] : {std::pair{HalfMatmulOrder::kBatched, &batched}, {HalfMatmulOrder::kSingle, &single}}) {
    attend_one_half(q, seq.k.data(), seq.v.data(), &table, seq.len, seq.kv_heads * seq.dim, 0, seq.dim, seq.len,
                    0.125f, order, scratch, out->data());
  }
  for (int64_t i = 0; i < seq.dim; ++i) EXPECT_NEAR(batched[i], single[i], 1e-5) << i;
}

// The SIMD attention (AVX2 + F16C builds) equals the portable reference bit
// for bit: both orders, head dims with and without a tail past 64 / 16,
// windows that start past 0, scores written out, blocks through a table.
TEST(HalfAttentionTest, SimdEqualsThePortableReference) {
  using test::float_bits;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  for (int64_t dim : {64, 80, 96, 256, 40}) {
    const int64_t kv_heads = 2, block = 16, blocks = 9, len = 131;
    std::vector<uint16_t> k(blocks * block * kv_heads * dim), v(k.size());
    for (size_t i = 0; i < k.size(); ++i) k[i] = fp32_to_fp16(dist(rng)), v[i] = fp32_to_fp16(dist(rng));
    std::vector<int32_t> table{3, 0, 8, 1, 7, 2, 6, 4, 5};
    std::vector<float> q(dim);
    for (float& x : q) x = dist(rng);
    for (HalfMatmulOrder order : {HalfMatmulOrder::kBatched, HalfMatmulOrder::kSingle}) {
      for (int64_t first : {0, 37}) {
        HalfAttentionScratch scratch;
        std::vector<float> got(dim), want(dim), got_logits(len), want_logits(len);
        attend_one_half(q.data(), k.data(), v.data(), table.data(), block, kv_heads * dim, dim, dim, len, 0.11f, order,
                        scratch, got.data(), nullptr, nullptr, blocks, got_logits.data(), first);
        attend_one_half_reference(q.data(), k.data(), v.data(), table.data(), block, kv_heads * dim, dim, dim, len,
                                  0.11f, order, scratch, want.data(), nullptr, nullptr, blocks, want_logits.data(),
                                  first);
        for (int64_t i = 0; i < dim; ++i) {
          ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << "dim " << dim << " first " << first << " at " << i;
        }
        for (int64_t p = first; p < len; ++p) ASSERT_EQ(float_bits(got_logits[p]), float_bits(want_logits[p])) << p;
      }
    }
  }
}

// A GQA group's query heads attended together (one pass over K and V) give
// each head's attend_one_half result bit for bit, in both orders: head dims with and without
// the 64-multiple fast path, groups of 1 to 5 (chunks of 4 plus a rest),
// windows that start past 0 and end off a multiple of 8 or 16.
TEST(HalfAttentionTest, GroupEqualsOneHeadAtATime) {
  using test::float_bits;
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  for (int64_t dim : {64, 256, 80}) {
    const int64_t kv_heads = 2, block = 16, blocks = 9, len = 139;
    std::vector<uint16_t> k(blocks * block * kv_heads * dim), v(k.size());
    for (size_t i = 0; i < k.size(); ++i) k[i] = fp32_to_fp16(dist(rng)), v[i] = fp32_to_fp16(dist(rng));
    std::vector<int32_t> table{3, 0, 8, 1, 7, 2, 6, 4, 5};
    for (int64_t group : {1, 3, 4, 5}) {
      std::vector<float> q(group * dim);
      for (float& x : q) x = dist(rng);
      for (int64_t first : {0, 37}) {
        for (int64_t window : {len, int64_t{61}}) {
          for (HalfMatmulOrder order : {HalfMatmulOrder::kBatched, HalfMatmulOrder::kSingle}) {
            HalfAttentionScratch scratch;
            std::vector<float> got(group * dim), want(dim);
            attend_group_half(q.data(), dim, group, k.data(), v.data(), table.data(), block, kv_heads * dim, dim, dim,
                              window, 0.09f, order, scratch, got.data(), dim, nullptr, nullptr, blocks, first);
            for (int64_t g = 0; g < group; ++g) {
              attend_one_half(q.data() + g * dim, k.data(), v.data(), table.data(), block, kv_heads * dim, dim, dim,
                              window, 0.09f, order, scratch, want.data(), nullptr, nullptr, blocks, nullptr, first);
              for (int64_t i = 0; i < dim; ++i) {
                ASSERT_EQ(float_bits(got[g * dim + i]), float_bits(want[i]))
                    << "dim " << dim << " group " << group << " head " << g << " first " << first << " window "
                    << window << " order " << static_cast<int>(order) << " at " << i;
              }
            }
          }
        }
      }
    }
  }
}

// The grouped kernel (each ISA's: AVX-512 or x86-64-v3) against the
// portable reference over a long window whose scores are so spread that most
// probabilities underflow (exp's saturated and subnormal ranges), and a window
// of 2048 positions as decode after a long prompt sees it.
TEST(HalfAttentionTest, GroupEqualsThePortableReferenceOnLongSpreadWindows) {
  using test::float_bits;
  std::mt19937 rng(13);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  const int64_t dim = 64, kv_heads = 2, block = 16, group = 3;
  for (int64_t len : {int64_t{2048}, int64_t{301}}) {
    const int64_t blocks = (len + block - 1) / block;
    std::vector<uint16_t> k(blocks * block * kv_heads * dim), v(k.size());
    for (size_t i = 0; i < k.size(); ++i) k[i] = fp32_to_fp16(dist(rng)), v[i] = fp32_to_fp16(dist(rng));
    std::vector<int32_t> table(blocks);
    for (int64_t b = 0; b < blocks; ++b) table[b] = static_cast<int32_t>((b * 5) % blocks);
    std::vector<float> q(group * dim);
    for (float& x : q) x = dist(rng);
    for (float scale : {0.125f, 3.0f}) {
      for (HalfMatmulOrder order : {HalfMatmulOrder::kBatched, HalfMatmulOrder::kSingle}) {
        HalfAttentionScratch scratch;
        std::vector<float> got(group * dim), want(dim);
        attend_group_half(q.data(), dim, group, k.data(), v.data(), table.data(), block, kv_heads * dim, dim, dim, len,
                          scale, order, scratch, got.data(), dim, nullptr, nullptr, blocks, 0);
        for (int64_t g = 0; g < group; ++g) {
          attend_one_half_reference(q.data() + g * dim, k.data(), v.data(), table.data(), block, kv_heads * dim, dim,
                                    dim, len, scale, order, scratch, want.data(), nullptr, nullptr, blocks);
          for (int64_t i = 0; i < dim; ++i) {
            ASSERT_EQ(float_bits(got[g * dim + i]), float_bits(want[i]))
                << "len " << len << " scale " << scale << " order " << static_cast<int>(order) << " head " << g
                << " at " << i;
          }
        }
      }
    }
  }
}

// A decode step of one or two sequences spreads its (row, KV head) items one
// by one over the threads (paged_attention.cpp): every output is bit for bit
// the one-thread result, for each cache dtype, Gemma 3's (one KV head of four
// queries, dim 256) and SmolLM2's (three of three, dim 64) shapes and more
// threads than items.
TEST(PagedAttentionTest, DecodeOverSeveralThreadsEqualsOneThread) {
  struct Shape {
    int64_t heads, kv_heads, dim;
  };
  for (const Shape shape : {Shape{4, 1, 256}, Shape{9, 3, 64}, Shape{6, 2, 32}}) {
    for (const KvDType dtype : {KvDType::F16, KvDType::F32, KvDType::Q8_0}) {
      for (const int64_t num_seqs : {1, 2}) {
        std::mt19937 rng(5);
        std::normal_distribution<float> dist;
        const int64_t block = 16, len = 300, blocks_per_seq = (len + block - 1) / block;
        const int64_t kv_row = shape.kv_heads * shape.dim, q_row = shape.heads * shape.dim;
        const int64_t num_blocks = num_seqs * blocks_per_seq;
        const int64_t slot_bytes = kv_row_bytes(dtype, kv_row);
        std::vector<uint8_t> k_cache(num_blocks * block * slot_bytes), v_cache(k_cache.size());
        PagedKvLayer cache{k_cache.data(), v_cache.data(), dtype, num_blocks, block, shape.kv_heads, shape.dim};
        std::vector<int32_t> tables(num_blocks), cu{0}, context;
        for (int64_t i = 0; i < num_blocks; ++i) tables[i] = static_cast<int32_t>((i * 5 + 1) % num_blocks);
        for (int64_t s = 0; s < num_seqs; ++s) {
          std::vector<float> k(len * kv_row), v(len * kv_row);
          for (float& x : k) x = dist(rng);
          for (float& x : v) x = dist(rng);
          std::vector<int32_t> slots;
          for (int64_t p = 0; p < len; ++p) {
            slots.push_back(tables[s * blocks_per_seq + p / block] * static_cast<int32_t>(block) +
                            static_cast<int32_t>(p % block));
          }
          ASSERT_TRUE(write_kv(cache, k.data(), kv_row, v.data(), kv_row, slots.data(), len).ok());
          cu.push_back(cu.back() + 1);
          context.push_back(static_cast<int32_t>(len - 7 * s));
        }
        std::vector<float> q(num_seqs * q_row);
        for (float& x : q) x = dist(rng);
        VarlenBatch batch{num_seqs, cu.data(), context.data(), tables.data(), blocks_per_seq};
        std::vector<float> one(q.size()), many(q.size());
        ASSERT_TRUE(attention_varlen_paged(q.data(), q_row, one.data(), cache, batch, shape.heads, 0.1f, nullptr, 1).ok());
        for (const int threads : {2, 3, 8}) {
          std::fill(many.begin(), many.end(), -1.0f);
          ASSERT_TRUE(
              attention_varlen_paged(q.data(), q_row, many.data(), cache, batch, shape.heads, 0.1f, nullptr, threads).ok());
          for (size_t i = 0; i < one.size(); ++i) {
            ASSERT_EQ(test::float_bits(many[i]), test::float_bits(one[i]))
                << "heads " << shape.heads << " dtype " << static_cast<int>(dtype) << " seqs " << num_seqs
                << " threads " << threads << " at " << i;
          }
        }
      }
    }
  }
}

TEST(PagedAttentionTest, RejectsBadArguments) {
  std::vector<float> k(64), v(64), q(64), out(64);
  PagedKvLayer cache{k.data(), v.data(), KvDType::F32, 1, 4, 2, 8};
  std::vector<int32_t> cu{0, 1}, context{9}, table{0};
  VarlenBatch batch{1, cu.data(), context.data(), table.data(), 1};  // 9 tokens need 3 blocks
  EXPECT_FALSE(attention_varlen_paged(q.data(), 24, out.data(), cache, batch, 3, 1.0f).ok());  // 3 % 2 != 0
  EXPECT_FALSE(attention_varlen_paged(q.data(), 16, out.data(), cache, batch, 2, 1.0f).ok());  // table too short
  const int32_t bad_slot = 4;
  EXPECT_FALSE(write_kv(cache, k.data(), 16, v.data(), 16, &bad_slot, 1).ok());
}

}  // namespace
}  // namespace kvs::kernels
