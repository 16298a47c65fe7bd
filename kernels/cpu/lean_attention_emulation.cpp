#include "kernels/cpu/lean_attention_emulation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/decode_attention_reference.h"
#include "kernels/cpu/lean_schedule_plan.h"

namespace kvs::kernels {
namespace {

constexpr float kLog2e = 1.4426950408889634f;

// Unnormalised output, running max (base 2) and running sum of one segment,
// for the `group` query heads of its KV head: o[g * head_dim + d], m[g], l[g].
struct Partial {
  std::vector<float> o, m, l;
  void reset(int64_t group, int64_t dim) {
    o.assign(static_cast<size_t>(group * dim), 0.0f);
    m.assign(static_cast<size_t>(group), -INFINITY);
    l.assign(static_cast<size_t>(group), 0.0f);
  }
};

lean::WorkspaceShape workspace_shape(const DecodeAttentionArgs& a, int64_t grid, int64_t max_num_seqs) {
  lean::WorkspaceShape w;
  w.max_num_seqs = max_num_seqs;
  w.grid = grid;
  w.num_kv_heads = a.num_kv_heads;
  w.num_heads = a.num_heads;
  w.head_dim = a.head_dim;
  w.token_mass_stride = a.token_mass != nullptr ? a.token_mass_stride : 0;
  return w;
}

// Runs one launch on a workspace laid out as the kernel's: counters (int32,
// persistent), partial slots, per-head statistics and raw scores (scratch).
class Emulator {
 public:
  Emulator(const DecodeAttentionArgs& a, const LeanEmulationOptions& o, const LeanWorkspace& ws,
           const lean::WorkspaceLayout& layout)
      : a_(a), opt_(o), group_(a.num_heads / a.num_kv_heads), dim_(a.head_dim), slot_floats_(group_ * (dim_ + 2)),
        num_counters_(ws.max_num_seqs * a.num_kv_heads) {
    char* base = static_cast<char*>(ws.data);
    counters_ = reinterpret_cast<int32_t*>(base + layout.counters);
    partials_ = reinterpret_cast<float*>(base + layout.partials);
    stats_ = reinterpret_cast<float*>(base + layout.head_stats);
    scores_ = reinterpret_cast<float*>(base + layout.scores);
  }

  Status run() {
    if (Status st = lean::plan_schedule(a_.context_lens, a_.num_seqs, a_.num_kv_heads, opt_.tile_size, opt_.grid,
                                        plan_);
        !st.ok()) {
      return st;
    }
    // Scratch parts hold garbage between launches: NaN makes a read of
    // anything this launch did not write show up in the output.
    std::fill(partials_, partials_ + 2 * opt_.grid * slot_floats_, NAN);
    if (a_.token_mass != nullptr) {
      std::fill(stats_, stats_ + 2 * a_.num_seqs * a_.num_heads, NAN);
      std::fill(scores_, scores_ + a_.num_seqs * a_.num_heads * a_.token_mass_stride, NAN);
    }
    std::vector<int64_t> order(static_cast<size_t>(opt_.grid));
    std::iota(order.begin(), order.end(), 0);
    if (opt_.order_seed != 0) std::shuffle(order.begin(), order.end(), std::mt19937(opt_.order_seed));
    for (int64_t c : order) run_cta(c);
    for (int64_t i = 0; i < num_counters_; ++i) {
      if (counters_[i] != 0) {
        return Status::invalid("lean emulation: counter " + std::to_string(i) +
                               " of the workspace is not zero after the launch (fix-up missed or stale counter)");
      }
    }
    if (a_.token_mass != nullptr) finalize_mass();
    return Status::success();
  }

 private:
  float kv(const void* cache, int64_t slot, int64_t kv_head, int64_t d) const {
    return decode_kv_load(cache, a_.kv_type, (slot * a_.num_kv_heads + kv_head) * dim_ + d);
  }

  void run_cta(int64_t c) {
    Partial part;
    for (const lean::SegmentPlan& sp : plan_.ctas[static_cast<size_t>(c)]) {
      part.reset(group_, dim_);
      run_segment(sp.segment, part);
      const lean::PairCursor& pair = sp.segment.pair;
      if (sp.slot < 0) {
        write_output(pair, part);
        continue;
      }
      write_partial(part, partials_ + sp.slot * slot_floats_);
      // The kernel: __threadfence(); atomicAdd(counter) == segments - 1?
      const lean::PairSplit split = lean::pair_split(pair.first_tile, pair.num_tiles, plan_.total_tiles, plan_.active);
      int32_t& counter = counters_[pair.seq * a_.num_kv_heads + pair.kv_head];
      if (++counter < split.num_segments()) continue;
      counter = 0;  // the last arriver resets it for the next launch
      merge_and_write(pair, split);
    }
  }

  // The slot layout of the kernel's write_partial: o [group][dim], m [group], l [group].
  void write_partial(const Partial& part, float* slot) const {
    std::copy(part.o.begin(), part.o.end(), slot);
    std::copy(part.m.begin(), part.m.end(), slot + group_ * dim_);
    std::copy(part.l.begin(), part.l.end(), slot + group_ * dim_ + group_);
  }

  // Online softmax over the segment's tiles, tile by tile as the kernel does.
  void run_segment(const lean::Segment& seg, Partial& part) {
    const int64_t s = seg.pair.seq, kv_head = seg.pair.kv_head, len = a_.context_lens[s];
    const int32_t* table = a_.block_tables + s * a_.max_blocks_per_seq;
    const float scale = a_.scale * kLog2e;
    std::vector<float> score(static_cast<size_t>(group_ * opt_.tile_size));
    for (int64_t t = seg.begin; t < seg.end; ++t) {
      const int64_t base = (t - seg.pair.first_tile) * opt_.tile_size;
      const int64_t valid = std::min(opt_.tile_size, len - base);
      std::vector<int64_t> slot(static_cast<size_t>(valid));
      for (int64_t r = 0; r < valid; ++r) {
        const int64_t p = base + r;
        slot[r] = static_cast<int64_t>(table[p / a_.block_size]) * a_.block_size + p % a_.block_size;
      }
      for (int64_t g = 0; g < group_; ++g) {
        const int64_t head = kv_head * group_ + g;
        const float* q = a_.q + s * a_.q_row_stride + head * dim_;
        float tile_max = -INFINITY;
        for (int64_t r = 0; r < valid; ++r) {
          float dot = 0.0f;
          for (int64_t d = 0; d < dim_; ++d) dot += q[d] * kv(a_.k_cache, slot[r], kv_head, d);
          score[g * opt_.tile_size + r] = dot * scale;
          tile_max = std::max(tile_max, dot * scale);
          if (a_.token_mass != nullptr) scores_[(s * a_.num_heads + head) * a_.token_mass_stride + base + r] = dot * scale;
        }
        const float m_new = std::max(part.m[g], tile_max);
        const float alpha = std::exp2(part.m[g] - m_new);  // 0 on the first tile (m = -inf)
        float sum = 0.0f;
        for (int64_t r = 0; r < valid; ++r) sum += (score[g * opt_.tile_size + r] = std::exp2(score[g * opt_.tile_size + r] - m_new));
        part.l[g] = part.l[g] * alpha + sum;
        part.m[g] = m_new;
        float* o = part.o.data() + g * dim_;
        for (int64_t d = 0; d < dim_; ++d) o[d] *= alpha;
        for (int64_t r = 0; r < valid; ++r) {
          const float p = score[g * opt_.tile_size + r];
          for (int64_t d = 0; d < dim_; ++d) o[d] += p * kv(a_.v_cache, slot[r], kv_head, d);
        }
      }
    }
  }

  void write_output(const lean::PairCursor& pair, const Partial& part) {
    for (int64_t g = 0; g < group_; ++g) {
      const int64_t head = pair.kv_head * group_ + g;
      float* out = a_.out + (pair.seq * a_.num_heads + head) * dim_;
      for (int64_t d = 0; d < dim_; ++d) out[d] = part.o[g * dim_ + d] / part.l[g];
      if (a_.token_mass != nullptr) {
        stats_[(pair.seq * a_.num_heads + head) * 2] = part.m[g];
        stats_[(pair.seq * a_.num_heads + head) * 2 + 1] = part.l[g];
      }
    }
  }

  // The fix-up: merge the pair's partials (read back from their slots) in CTA order.
  void merge_and_write(const lean::PairCursor& pair, const lean::PairSplit& split) {
    Partial merged;
    merged.reset(group_, dim_);
    for (int64_t g = 0; g < group_; ++g) {
      float m = -INFINITY;
      for (int64_t k = 0; k < split.num_segments(); ++k) m = std::max(m, slot(pair, split, k)[group_ * dim_ + g]);
      merged.m[g] = m;
      for (int64_t k = 0; k < split.num_segments(); ++k) {
        const float* p = slot(pair, split, k);
        const float w = std::exp2(p[group_ * dim_ + g] - m);
        merged.l[g] += w * p[group_ * dim_ + group_ + g];
        for (int64_t d = 0; d < dim_; ++d) merged.o[g * dim_ + d] += w * p[g * dim_ + d];
      }
    }
    write_output(pair, merged);
  }

  const float* slot(const lean::PairCursor& pair, const lean::PairSplit& split, int64_t k) const {
    return partials_ + lean::pair_partial_slot(split, k, pair.first_tile, plan_.total_tiles, plan_.active) * slot_floats_;
  }

  // mass[s, g, p] (+)= sum over the group's heads of exp2(score - m) / l.
  void finalize_mass() {
    for (int64_t s = 0; s < a_.num_seqs; ++s) {
      for (int64_t g = 0; g < a_.num_kv_heads; ++g) {
        float* row = a_.token_mass + (s * a_.num_kv_heads + g) * a_.token_mass_stride;
        for (int64_t p = 0; p < a_.context_lens[s]; ++p) {
          float mass = 0.0f;
          for (int64_t h = g * group_; h < (g + 1) * group_; ++h) {
            const int64_t sh = s * a_.num_heads + h;
            mass += std::exp2(scores_[sh * a_.token_mass_stride + p] - stats_[2 * sh]) / stats_[2 * sh + 1];
          }
          row[p] = a_.accumulate_mass ? row[p] + mass : mass;
        }
      }
    }
  }

  const DecodeAttentionArgs& a_;
  const LeanEmulationOptions& opt_;
  const int64_t group_, dim_, slot_floats_, num_counters_;
  lean::SchedulePlan plan_;
  int32_t* counters_;  // [max_num_seqs * num_kv_heads]
  float* partials_;    // [2 * grid][slot_floats_]
  float* stats_;       // [num_seqs * num_heads][2] (side output)
  float* scores_;      // [num_seqs * num_heads][token_mass_stride] (side output)
};

}  // namespace

int64_t lean_emulation_workspace_bytes(const DecodeAttentionArgs& shape, const LeanEmulationOptions& options,
                                       int64_t max_num_seqs) {
  return lean::workspace_layout(workspace_shape(shape, options.grid, max_num_seqs)).total;
}

Status lean_attention_emulate(const DecodeAttentionArgs& args, const LeanEmulationOptions& options) {
  if (Status st = check_decode_attention_shape(args); !st.ok()) return st;
  if (options.grid <= 0 || options.tile_size <= 0) return Status::invalid("lean emulation: bad grid or tile size");
  std::vector<uint8_t> own(static_cast<size_t>(lean_emulation_workspace_bytes(args, options, args.num_seqs)), 0);
  return lean_attention_emulate(args, options, {own.data(), own.size(), args.num_seqs});
}

Status lean_attention_emulate(const DecodeAttentionArgs& args, const LeanEmulationOptions& options,
                              const LeanWorkspace& workspace) {
  if (Status st = check_decode_attention_shape(args); !st.ok()) return st;
  if (Status st = check_decode_attention_lens(args, args.context_lens); !st.ok()) return st;
  if (Status st = check_decode_attention_tables(args); !st.ok()) return st;
  if (options.grid <= 0 || options.tile_size <= 0) return Status::invalid("lean emulation: bad grid or tile size");
  const lean::WorkspaceShape shape = workspace_shape(args, options.grid, workspace.max_num_seqs);
  if (Status st = lean::check_workspace(workspace, args.num_seqs, shape, "lean emulation"); !st.ok()) return st;
  return Emulator(args, options, workspace, lean::workspace_layout(shape)).run();
}

}  // namespace kvs::kernels
