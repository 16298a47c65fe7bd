// The LeanAttention workspace layout (kernels/lean_workspace_layout.h): parts
// aligned, in order, non-overlapping, within the total, and placed by the
// capacity alone, so every launch of num_seqs <= capacity addresses the same
// counters. Then the CPU emulation (which runs on that layout, as the CUDA
// launcher does) reusing one workspace over batch sizes 1 -> 64 -> 1 with
// split pairs, against the reference; and the workspace checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/decode_attention_reference.h"
#include "kernels/cpu/lean_attention_emulation.h"
#include "kernels/cpu/lean_schedule_plan.h"
#include "kernels/lean_workspace_layout.h"
#include "tests/common/decode_attention_batch.h"

namespace kvs::kernels {
namespace {

using lean::WorkspaceLayout;
using lean::WorkspaceShape;
using test::DecodeBatch;
using test::make_decode_batch;

constexpr float kOutTol = 2e-5f;  // as lean_attention_emulation_test.cpp
constexpr float kMassRelTol = 1e-4f;

// The bytes a launch of num_seqs sequences touches in each part (the kernel's
// indexing), which must stay inside the part.
void expect_launch_fits(const WorkspaceShape& s, const WorkspaceLayout& w, int64_t num_seqs) {
  const bool mass = s.token_mass_stride > 0;
  EXPECT_LE(w.counters + 4 * num_seqs * s.num_kv_heads, w.partials);
  EXPECT_LE(w.partials + 4 * 2 * s.grid * lean::partial_slot_floats(s), w.head_stats);
  if (mass) {
    EXPECT_LE(w.head_stats + 4 * 2 * num_seqs * s.num_heads, w.scores);
    EXPECT_LE(w.scores + 4 * num_seqs * s.num_heads * s.token_mass_stride, w.total);
  }
}

TEST(LeanWorkspaceLayoutTest, PartsAlignedOrderedAndPlacedByCapacityOnly) {
  for (int64_t grid : {1, 132, 264}) {
    for (auto [heads, kv_heads] : {std::pair<int64_t, int64_t>{32, 8}, {9, 3}, {8, 1}, {16, 16}}) {
      for (int64_t head_dim : {64, 128, 256}) {
        for (int64_t capacity : {0, 1, 7, 64, 1000}) {
          SCOPED_TRACE(::testing::Message() << "grid " << grid << " heads " << heads << "/" << kv_heads << " dim "
                                            << head_dim << " capacity " << capacity);
          WorkspaceShape s{capacity, grid, kv_heads, heads, head_dim, 0};
          const WorkspaceLayout plain = lean::workspace_layout(s);
          s.token_mass_stride = 4097;
          const WorkspaceLayout mass = lean::workspace_layout(s);
          s.token_mass_stride = 1;
          const WorkspaceLayout mass_short = lean::workspace_layout(s);
          for (const WorkspaceLayout& w : {plain, mass, mass_short}) {
            EXPECT_EQ(w.counters, 0);
            for (int64_t offset : {w.partials, w.head_stats, w.scores, w.total}) EXPECT_EQ(offset % 256, 0);
            EXPECT_LE(w.counters, w.partials);
            EXPECT_LT(w.partials, w.head_stats);  // grid >= 1: the slots are never empty
            EXPECT_LE(w.head_stats, w.scores);
            EXPECT_LE(w.scores, w.total);
          }
          // Counters and partials sit at the same place with or without the
          // side output; the stride moves nothing, it only sizes the scores.
          EXPECT_EQ(mass.partials, plain.partials);
          EXPECT_EQ(mass.head_stats, plain.head_stats);
          EXPECT_EQ(mass_short.head_stats, mass.head_stats);
          EXPECT_EQ(mass_short.scores, mass.scores);
          EXPECT_LE(mass_short.total, mass.total);
          EXPECT_EQ(plain.total, plain.head_stats);  // no side output: nothing after the partials
          // Any batch up to the capacity stays inside every part.
          for (int64_t n : {int64_t{0}, int64_t{1}, capacity / 2, capacity}) {
            if (n > capacity) continue;
            expect_launch_fits({capacity, grid, kv_heads, heads, head_dim, 0}, plain, n);
            expect_launch_fits({capacity, grid, kv_heads, heads, head_dim, 4097}, mass, n);
          }
        }
      }
    }
  }
}

TEST(LeanWorkspaceLayoutTest, PartialsNeverCoverCountersOfALargerCapacityBatch) {
  // The old bug: offsets from the launch's num_seqs put a 1-sequence launch's
  // partials on the counters of the 64-sequence launch before it. With the
  // capacity layout the partials start past all 64 * num_kv_heads counters
  // whatever the launch.
  const WorkspaceShape s{64, 132, 8, 32, 128, 0};
  const WorkspaceLayout w = lean::workspace_layout(s);
  EXPECT_GE(w.partials, 4 * 64 * 8);
}

TEST(LeanWorkspaceLayoutTest, CheckWorkspaceRejectsMissingDataOverCapacityAndShortBuffers) {
  const WorkspaceShape s{16, 132, 8, 32, 128, 0};
  const int64_t need = lean::workspace_layout(s).total;
  std::vector<uint8_t> bytes(static_cast<size_t>(need));
  const LeanWorkspace ok{bytes.data(), bytes.size(), 16};
  EXPECT_TRUE(lean::check_workspace(ok, 16, s, "test").ok());
  EXPECT_TRUE(lean::check_workspace(ok, 1, s, "test").ok());
  EXPECT_EQ(lean::check_workspace(ok, 17, s, "test").code, StatusCode::InvalidArgument);
  LeanWorkspace unset = ok;
  unset.max_num_seqs = 0;  // capacity not recorded
  EXPECT_EQ(lean::check_workspace(unset, 1, s, "test").code, StatusCode::InvalidArgument);
  LeanWorkspace short_buffer = ok;
  short_buffer.bytes = static_cast<size_t>(need - 1);
  EXPECT_EQ(lean::check_workspace(short_buffer, 1, s, "test").code, StatusCode::InvalidArgument);
  LeanWorkspace none = ok;
  none.data = nullptr;
  EXPECT_EQ(lean::check_workspace(none, 1, s, "test").code, StatusCode::InvalidArgument);
}

// One emulated launch on `workspace` against the reference (side output on,
// overwrite mode). Asserts that some pair is split across CTAs (so counters
// are used).
void check_launch(const std::vector<int32_t>& lens, const LeanEmulationOptions& options, const LeanWorkspace& workspace,
                  uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "batch of " << lens.size());
  const DecodeBatch b = make_decode_batch(lens, 8, 2, 64, 16, DecodeKvType::BF16, seed);
  const int64_t stride = 4100;
  ASSERT_LE(b.max_len(), stride);
  lean::SchedulePlan plan;
  ASSERT_TRUE(lean::plan_schedule(b.lens.data(), b.num_seqs(), b.num_kv_heads, options.tile_size, options.grid, plan).ok());
  bool split = false;
  for (const auto& cta : plan.ctas) {
    for (const lean::SegmentPlan& sp : cta) split = split || sp.slot >= 0;
  }
  ASSERT_TRUE(split) << "no pair is split: the counters are not exercised";
  const size_t out_size = static_cast<size_t>(b.num_seqs() * b.num_heads * b.head_dim);
  const size_t mass_size = static_cast<size_t>(b.num_seqs() * b.num_kv_heads * stride);
  std::vector<float> ref(out_size), got(out_size, NAN), ref_mass(mass_size, 0.0f), got_mass(mass_size, 0.0f);
  ASSERT_TRUE(decode_attention_reference(b.args(ref.data(), ref_mass.data(), stride)).ok());
  const Status st = lean_attention_emulate(b.args(got.data(), got_mass.data(), stride), options, workspace);
  ASSERT_TRUE(st.ok()) << st.message;
  for (size_t i = 0; i < out_size; ++i) ASSERT_NEAR(got[i], ref[i], kOutTol) << "output " << i;
  for (size_t i = 0; i < mass_size; ++i) {
    ASSERT_NEAR(got_mass[i], ref_mass[i], kMassRelTol * std::abs(ref_mass[i]) + 1e-9f) << "mass " << i;
  }
}

std::vector<int32_t> lens_of(int64_t num_seqs, uint32_t seed) {
  std::vector<int32_t> lens(static_cast<size_t>(num_seqs));
  uint32_t x = seed;
  for (int32_t& l : lens) {
    x = x * 1664525u + 1013904223u;
    l = 1 + static_cast<int32_t>((x >> 8) % 4096);
  }
  return lens;
}

TEST(LeanWorkspaceLayoutTest, EmulationReusesOneWorkspaceOverBatchSizes1To64To1) {
  const int64_t capacity = 64;
  LeanEmulationOptions options;
  options.grid = 40;
  options.order_seed = 3;
  const DecodeBatch shape = make_decode_batch({1}, 8, 2, 64, 16, DecodeKvType::BF16);
  std::vector<float> dummy(1);
  const int64_t bytes = lean_emulation_workspace_bytes(shape.args(dummy.data(), dummy.data(), 4100), options, capacity);
  std::vector<uint8_t> memory(static_cast<size_t>(bytes), 0);  // zero-filled once
  const LeanWorkspace workspace{memory.data(), memory.size(), capacity};
  check_launch({3000}, options, workspace, 1);
  check_launch(lens_of(64, 7), options, workspace, 2);
  options.order_seed = 4;
  check_launch({4097}, options, workspace, 3);
  check_launch(lens_of(33, 9), options, workspace, 4);
  check_launch({2500}, options, workspace, 5);
  // All counters of the capacity are back at zero.
  std::vector<int32_t> counters(static_cast<size_t>(capacity * 2));
  std::memcpy(counters.data(), memory.data(), counters.size() * sizeof(int32_t));
  for (int32_t c : counters) EXPECT_EQ(c, 0);
}

TEST(LeanWorkspaceLayoutTest, EmulationRejectsOverCapacityAndReportsStaleCounters) {
  LeanEmulationOptions options;
  options.grid = 40;
  const DecodeBatch b = make_decode_batch(lens_of(5, 1), 8, 2, 64, 16, DecodeKvType::F16);
  std::vector<float> out(static_cast<size_t>(b.num_seqs() * b.num_heads * b.head_dim));
  const int64_t bytes = lean_emulation_workspace_bytes(b.args(out.data()), options, 4);
  std::vector<uint8_t> memory(static_cast<size_t>(bytes), 0);
  LeanWorkspace workspace{memory.data(), memory.size(), 4};
  EXPECT_EQ(lean_attention_emulate(b.args(out.data()), options, workspace).code, StatusCode::InvalidArgument)
      << "5 > 4";
  workspace.max_num_seqs = 100;  // more than the bytes hold
  EXPECT_EQ(lean_attention_emulate(b.args(out.data()), options, workspace).code, StatusCode::InvalidArgument);
  // A counter left non-zero (e.g. by a launch on another layout) is caught.
  const int64_t fits = lean_emulation_workspace_bytes(b.args(out.data()), options, 5);
  std::vector<uint8_t> fresh(static_cast<size_t>(fits), 0);
  workspace = {fresh.data(), fresh.size(), 5};
  ASSERT_TRUE(lean_attention_emulate(b.args(out.data()), options, workspace).ok());
  int32_t stale = 1;
  std::memcpy(fresh.data() + 4 * 9, &stale, sizeof(stale));  // the capacity's last pair
  EXPECT_FALSE(lean_attention_emulate(b.args(out.data()), options, workspace).ok());
}

TEST(LeanWorkspaceLayoutTest, EmulationHeadDim256) {
  // Gemma-style heads (head_dim 256), GQA 1/2/8, split pairs.
  for (auto [heads, kv_heads] : {std::pair<int64_t, int64_t>{4, 4}, {8, 4}, {8, 1}}) {
    const DecodeBatch b = make_decode_batch({1, 300, 777}, heads, kv_heads, 256, 16, DecodeKvType::BF16);
    const size_t out_size = static_cast<size_t>(b.num_seqs() * b.num_heads * b.head_dim);
    std::vector<float> ref(out_size), got(out_size, NAN);
    ASSERT_TRUE(decode_attention_reference(b.args(ref.data())).ok());
    LeanEmulationOptions options;
    options.grid = 7;
    options.order_seed = 11;
    const Status st = lean_attention_emulate(b.args(got.data()), options);
    ASSERT_TRUE(st.ok()) << st.message;
    for (size_t i = 0; i < out_size; ++i) ASSERT_NEAR(got[i], ref[i], kOutTol) << "output " << i;
  }
}

}  // namespace
}  // namespace kvs::kernels
