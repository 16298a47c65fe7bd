#pragma once
// The stream-K schedule of LeanAttention (decode attention over the paged KV
// cache): which CTA processes which KV tiles of which (sequence, KV head) pair,
// where the splits fall, which CTAs write partial results and how the fix-up
// finds them. Pure integer arithmetic, header-only and __host__ __device__, so
// the CUDA kernel (kernels/cuda/lean_attention.cu), the CPU emulation
// (kernels/cpu/lean_attention_emulation.h) and the unit tests run the very same
// code.
//
// Work order. Pair w = seq * num_kv_heads + kv_head owns num_tiles(L_seq) KV
// tiles of `tile` tokens (the last one may be short). All tiles of all pairs
// are laid end to end in pair order: total = num_kv_heads * sum_s
// num_tiles(L_s). Of the launched CTAs, the first active = min(grid, total)
// take part (the rest exit at once), so every active CTA has at least one
// tile; below, `grid` always means that active count. CTA c takes the
// contiguous tile range [cta_tile_begin(c), cta_tile_begin(c + 1)), so no two
// CTAs differ by more than one tile of work. A CTA's range cuts into segments at pair boundaries.
// A segment that covers its whole pair writes the final output itself; the
// others write a partial (unnormalised output, running max, running sum) into
// workspace slot 2c + pos (pos 0: the segment starts at the CTA's first tile;
// pos 1: it is the CTA's last segment and started at a pair boundary), count
// themselves on the pair's atomic counter, and the last one to arrive merges
// all the pair's partials in CTA order (deterministic) and writes the output.
// A pair is covered by CTAs owner_cta(first tile) .. owner_cta(last tile).
#include <cstdint>

#if defined(__CUDACC__)
#define KVS_HD __host__ __device__ __forceinline__
#else
#define KVS_HD inline
#endif

namespace kvs::kernels::lean {

// ceil(len / tile): tiles of a context of `len` tokens (len >= 0).
KVS_HD int64_t num_tiles(int64_t len, int64_t tile) { return (len + tile - 1) / tile; }

// CTAs that get work when `launched` CTAs share `total` tiles.
KVS_HD int64_t active_ctas(int64_t total, int64_t launched) { return total < launched ? total : launched; }

// First global tile of CTA `cta` (0 <= cta <= grid); CTA c owns
// [cta_tile_begin(c), cta_tile_begin(c + 1)). Needs cta * total < 2^63.
KVS_HD int64_t cta_tile_begin(int64_t cta, int64_t total, int64_t grid) { return cta * total / grid; }

// The CTA whose range holds global tile `tile` (0 <= tile < total): the
// largest c with cta_tile_begin(c) <= tile (grid <= total: no CTA is empty).
KVS_HD int64_t owner_cta(int64_t tile, int64_t total, int64_t grid) { return ((tile + 1) * grid - 1) / total; }

// One (sequence, KV head) pair in global tile order.
struct PairCursor {
  int64_t seq = 0;
  int64_t kv_head = 0;
  int64_t first_tile = 0;  // global index of the pair's first tile
  int64_t num_tiles = 0;   // tiles of the pair (>= 1 for a valid pair)
};

// Moves to the next pair (the next KV head, then the next sequence).
// context_lens: [num_seqs]; reads context_lens[seq + 1] only when the cursor
// moves to the next sequence and seq + 1 < num_seqs.
KVS_HD void advance_pair(PairCursor& c, const int32_t* context_lens, int64_t num_seqs, int64_t num_kv_heads,
                         int64_t tile) {
  c.first_tile += c.num_tiles;
  if (++c.kv_head == num_kv_heads) {
    c.kv_head = 0;
    ++c.seq;
    c.num_tiles = c.seq < num_seqs ? num_tiles(context_lens[c.seq], tile) : 0;
  }
}

// The piece of the cursor's pair that a CTA whose range ends at `cta_end`
// processes from global tile `tile` on (the cursor's pair holds `tile`).
struct Segment {
  PairCursor pair;
  int64_t begin = 0;  // global tiles [begin, end)
  int64_t end = 0;
  // Covers its whole pair: the CTA writes the final output, no fix-up.
  KVS_HD bool complete() const { return begin == pair.first_tile && end == pair.first_tile + pair.num_tiles; }
};

KVS_HD Segment segment_at(const PairCursor& pair, int64_t tile, int64_t cta_end) {
  const int64_t pair_end = pair.first_tile + pair.num_tiles;
  return {pair, tile, cta_end < pair_end ? cta_end : pair_end};
}

// Partial-result slot of the segment of a CTA that starts at global tile
// `segment_begin` (see the top comment).
KVS_HD int64_t partial_slot(int64_t cta, int64_t segment_begin, int64_t total, int64_t grid) {
  return 2 * cta + (segment_begin == cta_tile_begin(cta, total, grid) ? 0 : 1);
}

// The CTAs that hold a piece of a pair, in order, and the slot each wrote.
struct PairSplit {
  int64_t first_cta = 0;
  int64_t last_cta = 0;
  KVS_HD int64_t num_segments() const { return last_cta - first_cta + 1; }
  KVS_HD bool split() const { return last_cta != first_cta; }
};

KVS_HD PairSplit pair_split(int64_t pair_first_tile, int64_t pair_num_tiles, int64_t total, int64_t grid) {
  return {owner_cta(pair_first_tile, total, grid), owner_cta(pair_first_tile + pair_num_tiles - 1, total, grid)};
}

// Slot of the k-th segment (0-based, in CTA order) of a split pair.
KVS_HD int64_t pair_partial_slot(const PairSplit& s, int64_t k, int64_t pair_first_tile, int64_t total,
                                 int64_t grid) {
  const int64_t cta = s.first_cta + k;
  return partial_slot(cta, k == 0 ? pair_first_tile : cta_tile_begin(cta, total, grid), total, grid);
}

}  // namespace kvs::kernels::lean
