#include "kernels/cpu/lean_schedule_plan.h"

namespace kvs::kernels::lean {

int64_t total_tiles(const int32_t* context_lens, int64_t num_seqs, int64_t num_kv_heads, int64_t tile_size) {
  int64_t total = 0;
  for (int64_t s = 0; s < num_seqs; ++s) total += num_tiles(context_lens[s], tile_size);
  return total * num_kv_heads;
}

PairCursor locate_pair(const int32_t* context_lens, int64_t num_seqs, int64_t num_kv_heads, int64_t tile_size,
                       int64_t tile) {
  PairCursor c;
  int64_t first = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t n = num_tiles(context_lens[s], tile_size);
    if (tile < first + n * num_kv_heads) {
      c.seq = s;
      c.kv_head = (tile - first) / n;
      c.first_tile = first + c.kv_head * n;
      c.num_tiles = n;
      return c;
    }
    first += n * num_kv_heads;
  }
  c.seq = num_seqs;  // past the end
  c.first_tile = first;
  return c;
}

Status plan_schedule(const int32_t* context_lens, int64_t num_seqs, int64_t num_kv_heads, int64_t tile_size,
                     int64_t grid, SchedulePlan& plan) {
  if (grid <= 0 || tile_size <= 0 || num_kv_heads <= 0 || num_seqs < 0) {
    return Status::invalid("lean schedule: bad grid, tile size or head count");
  }
  for (int64_t s = 0; s < num_seqs; ++s) {
    if (context_lens[s] < 1) return Status::invalid("lean schedule: context length < 1");
  }
  plan.total_tiles = total_tiles(context_lens, num_seqs, num_kv_heads, tile_size);
  plan.grid = grid;
  plan.ctas.assign(static_cast<size_t>(grid), {});
  const int64_t total = plan.total_tiles, active = active_ctas(total, grid);
  plan.active = active;
  for (int64_t c = 0; c < active; ++c) {
    const int64_t begin = cta_tile_begin(c, total, active), end = cta_tile_begin(c + 1, total, active);
    PairCursor pair = locate_pair(context_lens, num_seqs, num_kv_heads, tile_size, begin);
    for (int64_t t = begin; t < end;) {
      const Segment seg = segment_at(pair, t, end);
      plan.ctas[c].push_back({seg, c, seg.complete() ? -1 : partial_slot(c, seg.begin, total, active)});
      t = seg.end;
      if (t < end) advance_pair(pair, context_lens, num_seqs, num_kv_heads, tile_size);
    }
  }
  return Status::success();
}

}  // namespace kvs::kernels::lean
