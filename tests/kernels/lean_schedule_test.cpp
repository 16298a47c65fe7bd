// The LeanAttention stream-K schedule (kernels/lean_schedule.h): coverage,
// balance, split/fix-up bookkeeping on mixed and odd batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "kernels/cpu/lean_schedule_plan.h"

namespace kvs::kernels::lean {
namespace {

struct Case {
  std::vector<int32_t> lens;
  int64_t num_kv_heads, tile, grid;
};

// Checks every invariant the kernel relies on for one batch and grid.
void check_schedule(const Case& c) {
  SCOPED_TRACE(::testing::Message() << "seqs " << c.lens.size() << " kv_heads " << c.num_kv_heads << " tile "
                                    << c.tile << " grid " << c.grid);
  const int64_t num_seqs = static_cast<int64_t>(c.lens.size());
  SchedulePlan plan;
  ASSERT_TRUE(plan_schedule(c.lens.data(), num_seqs, c.num_kv_heads, c.tile, c.grid, plan).ok());
  int64_t expected_total = 0;
  for (int32_t l : c.lens) expected_total += (l + c.tile - 1) / c.tile * c.num_kv_heads;
  ASSERT_EQ(plan.total_tiles, expected_total);
  const int64_t total = plan.total_tiles, active = plan.active;
  ASSERT_EQ(active, std::min(total, c.grid));

  // Every tile of every (seq, kv head) pair exactly once, by the CTA that owns it.
  std::vector<int> seen(static_cast<size_t>(total), 0);
  int64_t min_work = INT64_MAX, max_work = 0;
  std::set<int64_t> slots;
  std::map<std::pair<int64_t, int64_t>, std::vector<SegmentPlan>> by_pair;
  for (int64_t cta = 0; cta < c.grid; ++cta) {
    int64_t work = 0, partials = 0;
    for (const SegmentPlan& sp : plan.ctas[cta]) {
      const Segment& seg = sp.segment;
      ASSERT_EQ(sp.cta, cta);
      ASSERT_LT(seg.begin, seg.end);
      ASSERT_GE(seg.begin, seg.pair.first_tile);
      ASSERT_LE(seg.end, seg.pair.first_tile + seg.pair.num_tiles);
      ASSERT_EQ(seg.pair.num_tiles, (c.lens[seg.pair.seq] + c.tile - 1) / c.tile);
      const PairCursor located = locate_pair(c.lens.data(), num_seqs, c.num_kv_heads, c.tile, seg.begin);
      ASSERT_EQ(located.seq, seg.pair.seq);
      ASSERT_EQ(located.kv_head, seg.pair.kv_head);
      ASSERT_EQ(located.first_tile, seg.pair.first_tile);
      for (int64_t t = seg.begin; t < seg.end; ++t) {
        ++seen[t];
        ASSERT_EQ(owner_cta(t, total, active), cta) << "tile " << t;
      }
      work += seg.end - seg.begin;
      if (!seg.complete()) {
        ++partials;
        ASSERT_GE(sp.slot, 2 * cta);
        ASSERT_LT(sp.slot, 2 * cta + 2);
        ASSERT_TRUE(slots.insert(sp.slot).second) << "slot " << sp.slot << " written twice";
      } else {
        ASSERT_EQ(sp.slot, -1);
      }
      by_pair[{seg.pair.seq, seg.pair.kv_head}].push_back(sp);
    }
    ASSERT_LE(partials, 2) << "a CTA writes at most two partials (first and last segment)";
    if (cta < active) {
      ASSERT_GE(work, 1) << "an active CTA is never empty";
      ASSERT_EQ(work, cta_tile_begin(cta + 1, total, active) - cta_tile_begin(cta, total, active));
    } else {
      ASSERT_EQ(work, 0);
    }
    min_work = std::min(min_work, work);
    max_work = std::max(max_work, work);
  }
  for (int64_t t = 0; t < total; ++t) ASSERT_EQ(seen[t], 1) << "tile " << t;
  ASSERT_LE(max_work - min_work, 1) << "work per CTA balanced to within one tile";
  ASSERT_EQ(max_work, (total + c.grid - 1) / c.grid);

  // Every pair present; the fix-up sees exactly the pair's segments, in CTA
  // order, in the slots they wrote.
  ASSERT_EQ(static_cast<int64_t>(by_pair.size()), num_seqs * c.num_kv_heads);
  for (const auto& [key, segs] : by_pair) {
    const PairCursor& pair = segs.front().segment.pair;
    const PairSplit split = pair_split(pair.first_tile, pair.num_tiles, total, active);
    ASSERT_EQ(split.num_segments(), static_cast<int64_t>(segs.size()));
    ASSERT_EQ(split.split(), segs.size() > 1);
    for (size_t k = 0; k < segs.size(); ++k) {
      ASSERT_EQ(segs[k].cta, split.first_cta + static_cast<int64_t>(k));
      ASSERT_EQ(segs[k].segment.complete(), !split.split());
      if (split.split()) {
        ASSERT_EQ(segs[k].slot, pair_partial_slot(split, static_cast<int64_t>(k), pair.first_tile, total, active));
      }
    }
    ASSERT_EQ(segs.front().segment.begin, pair.first_tile);
    ASSERT_EQ(segs.back().segment.end, pair.first_tile + pair.num_tiles);
  }
}

TEST(LeanScheduleTest, SingleSequenceLengths) {
  for (int32_t len : {1, 2, 63, 64, 65, 1000, 1024, 32768, 131071, 524288}) {
    for (int64_t grid : {1, 7, 132, 264, 528}) check_schedule({{len}, 8, 64, grid});
  }
}

TEST(LeanScheduleTest, MixedBatches) {
  check_schedule({{1, 100000, 1, 100000}, 8, 64, 264});
  check_schedule({{1, 100000, 1, 100000}, 1, 64, 132});
  check_schedule({{100000, 1, 1, 1, 1, 1, 1, 1}, 4, 64, 264});
  check_schedule({{5, 129, 64, 1, 4097, 262144, 17}, 2, 64, 528});
  std::vector<int32_t> many(64, 2048);
  for (size_t i = 0; i < many.size(); i += 3) many[i] = static_cast<int32_t>(1 + i * 97);
  check_schedule({many, 8, 64, 264});
  check_schedule({std::vector<int32_t>(16, 8192), 8, 64, 264});
}

TEST(LeanScheduleTest, FewerTilesThanCtas) {
  // Total tiles < grid: some CTAs get nothing, none gets more than one tile.
  check_schedule({{1}, 1, 64, 264});
  check_schedule({{1, 1, 1}, 2, 64, 264});
  check_schedule({{100, 3}, 3, 64, 528});
}

TEST(LeanScheduleTest, OtherTileSizes) {
  check_schedule({{1, 100000, 33, 4096}, 8, 16, 264});
  check_schedule({{1, 100000, 33, 4096}, 8, 128, 100});
}

TEST(LeanScheduleTest, RandomBatches) {
  std::mt19937 rng(3);
  for (int round = 0; round < 40; ++round) {
    std::vector<int32_t> lens(1 + rng() % 20);
    for (int32_t& l : lens) l = 1 + static_cast<int32_t>(rng() % (rng() % 2 ? 300 : 70000));
    check_schedule({lens, 1 + static_cast<int64_t>(rng() % 8), 64, 1 + static_cast<int64_t>(rng() % 600)});
  }
}

TEST(LeanScheduleTest, OwnerMatchesRanges) {
  for (int64_t total : {1, 2, 5, 131, 1000, 4096}) {
    for (int64_t launched : {1, 2, 3, 132, 528, 5000}) {
      const int64_t grid = active_ctas(total, launched);
      for (int64_t t = 0; t < total; ++t) {
        const int64_t c = owner_cta(t, total, grid);
        ASSERT_LE(cta_tile_begin(c, total, grid), t);
        ASSERT_GT(cta_tile_begin(c + 1, total, grid), t) << "total " << total << " grid " << grid;
      }
    }
  }
}

TEST(LeanScheduleTest, RejectsBadArguments) {
  SchedulePlan plan;
  const std::vector<int32_t> lens{4, 0};
  EXPECT_FALSE(plan_schedule(lens.data(), 2, 1, 64, 8, plan).ok());
  EXPECT_FALSE(plan_schedule(lens.data(), 1, 1, 64, 0, plan).ok());
  EXPECT_FALSE(plan_schedule(lens.data(), 1, 0, 64, 8, plan).ok());
  EXPECT_FALSE(plan_schedule(lens.data(), 1, 1, 0, 8, plan).ok());
}

}  // namespace
}  // namespace kvs::kernels::lean
