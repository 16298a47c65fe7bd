#pragma once
// Host-side enumeration of the LeanAttention stream-K schedule
// (kernels/lean_schedule.h): every CTA's segments, in the order the CUDA
// kernel walks them. Used by the CPU emulation and the schedule tests, and to
// explain a launch (e.g. in benchmarks).
#include <cstdint>
#include <vector>

#include "kernels/lean_schedule.h"
#include "kernels/status.h"

namespace kvs::kernels::lean {

struct SegmentPlan {
  Segment segment;
  int64_t cta = 0;
  int64_t slot = -1;  // partial-result slot; -1 when the segment is complete
};

struct SchedulePlan {
  int64_t total_tiles = 0;
  int64_t grid = 0;    // CTAs launched
  int64_t active = 0;  // active_ctas(total_tiles, grid): the `grid` of the schedule formulas
  std::vector<std::vector<SegmentPlan>> ctas;  // [grid], each in walk order; empty past `active`
};

// The pair holding global tile `tile` (0 <= tile < total), by a linear scan
// over context_lens (the CUDA kernel does the same scan a warp at a time).
PairCursor locate_pair(const int32_t* context_lens, int64_t num_seqs, int64_t num_kv_heads, int64_t tile_size,
                       int64_t tile);

// Total tiles of a batch: num_kv_heads * sum_s num_tiles(context_lens[s]).
int64_t total_tiles(const int32_t* context_lens, int64_t num_seqs, int64_t num_kv_heads, int64_t tile_size);

// The schedule of `grid` CTAs over the batch. context_lens: host, [num_seqs],
// each >= 1. Errors on bad arguments.
Status plan_schedule(const int32_t* context_lens, int64_t num_seqs, int64_t num_kv_heads, int64_t tile_size,
                     int64_t grid, SchedulePlan& plan);

}  // namespace kvs::kernels::lean
