#include "kernels/cuda/lean_attention.h"

#include <string>

#include "kernels/cuda/decode_attention_tile.cuh"
#include "kernels/cuda/decode_dispatch.cuh"
#include "kernels/cuda/per_device_cache.h"
#include "kernels/lean_schedule.h"
#include "kernels/lean_workspace_layout.h"

namespace kvs::kernels::cuda {
namespace {

using decode::kThreads;
using decode::kTileTokens;
using decode::Params;

constexpr int kMassThreads = 256;

// Locates this CTA's first pair: warp 0 scans context_lens (32 sequences a
// step) for the total tile count and the sequence holding tile `begin`.
// Returns the total in *total and, for an active CTA, the sequence and its
// first global tile in *seq / *seq_first. All lanes of warp 0 call it.
__device__ void locate(const Params& p, int64_t* total_out, int* seq_out, int64_t* seq_first_out) {
  const int lane = threadIdx.x % 32;
  int64_t total = 0;
  for (int base = 0; base < p.num_seqs; base += 32) {
    const int s = base + lane;
    total += s < p.num_seqs ? lean::num_tiles(p.context_lens[s], kTileTokens) : 0;
  }
#pragma unroll
  for (int o = 16; o > 0; o /= 2) total += __shfl_xor_sync(0xffffffffu, total, o);
  total *= p.num_kv_heads;
  if (lane == 0) *total_out = total;
  const int64_t active = lean::active_ctas(total, gridDim.x);
  if (static_cast<int64_t>(blockIdx.x) >= active) return;
  const int64_t begin = lean::cta_tile_begin(blockIdx.x, total, active);
  int64_t run = 0;
  for (int base = 0; base < p.num_seqs; base += 32) {
    const int s = base + lane;
    const int64_t n = s < p.num_seqs ? lean::num_tiles(p.context_lens[s], kTileTokens) * p.num_kv_heads : 0;
    int64_t inclusive = n;
#pragma unroll
    for (int o = 1; o < 32; o *= 2) {
      const int64_t up = __shfl_up_sync(0xffffffffu, inclusive, o);
      if (lane >= o) inclusive += up;
    }
    const unsigned hit = __ballot_sync(0xffffffffu, s < p.num_seqs && run + inclusive > begin);
    if (hit != 0) {
      const int src = __ffs(hit) - 1;
      const int64_t first = run + __shfl_sync(0xffffffffu, inclusive - n, src);
      if (lane == 0) {
        *seq_out = base + src;
        *seq_first_out = first;
      }
      return;
    }
    run += __shfl_sync(0xffffffffu, inclusive, 31);
  }
}

template <typename T, int kDim, int kMaxGroup, bool kMass>
__global__ void __launch_bounds__(kThreads, 2) lean_kernel(Params p, int* counters, float* partials) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int64_t s_total, s_seq_first;
  __shared__ int s_seq, s_last;
  if (threadIdx.x < 32) locate(p, &s_total, &s_seq, &s_seq_first);
  __syncthreads();
  const int64_t total = s_total;
  const int64_t active = lean::active_ctas(total, gridDim.x);
  if (static_cast<int64_t>(blockIdx.x) >= active) return;
  const int64_t begin = lean::cta_tile_begin(blockIdx.x, total, active);
  const int64_t end = lean::cta_tile_begin(blockIdx.x + 1, total, active);
  lean::PairCursor pair;
  pair.seq = s_seq;
  pair.num_tiles = lean::num_tiles(p.context_lens[pair.seq], kTileTokens);
  pair.kv_head = (begin - s_seq_first) / pair.num_tiles;
  pair.first_tile = s_seq_first + pair.kv_head * pair.num_tiles;

  decode::SegmentWorker<T, kDim, kMaxGroup, kMass> worker(p, smem);
  const int64_t slot_floats = static_cast<int64_t>(p.group) * (kDim + 2);
  for (int64_t t = begin;;) {
    const lean::Segment seg = lean::segment_at(pair, t, end);
    const int seq = static_cast<int>(pair.seq), kv_head = static_cast<int>(pair.kv_head);
    worker.run(seq, kv_head, seg.begin - pair.first_tile, seg.end - seg.begin);
    if (seg.complete()) {
      worker.write_final(seq, kv_head);
    } else {
      worker.write_partial(partials + lean::partial_slot(blockIdx.x, seg.begin, total, active) * slot_floats);
      __threadfence();  // the partial is visible device-wide before we count ourselves
      __syncthreads();
      const lean::PairSplit split = lean::pair_split(pair.first_tile, pair.num_tiles, total, active);
      if (threadIdx.x == 0) {
        int* counter = counters + static_cast<int64_t>(seq) * p.num_kv_heads + kv_head;
        s_last = atomicAdd(counter, 1) == split.num_segments() - 1;
        if (s_last) *counter = 0;  // everyone has arrived: ready for the next launch
      }
      __syncthreads();
      if (s_last) {
        __threadfence();
        const int64_t first_tile = pair.first_tile;
        decode::merge_partials<kDim, kMass>(p, seq, kv_head, static_cast<int>(split.num_segments()), [=](int k) {
          return static_cast<const float*>(partials) +
                 lean::pair_partial_slot(split, k, first_tile, total, active) * slot_floats;
        });
      }
    }
    __syncthreads();  // shared memory (reduction, statistics, s_last) free for the next segment
    t = seg.end;
    if (t >= end) break;
    lean::advance_pair(pair, p.context_lens, p.num_seqs, p.num_kv_heads, kTileTokens);
  }
}

// Side output: token_mass[(s * num_kv_heads + kv) * stride + t] (+)= sum over
// the group's heads of exp2(score - max) / sum.
__global__ void __launch_bounds__(kMassThreads)
    token_mass_kernel(Params p, float* token_mass, int64_t token_mass_stride, bool accumulate) {
  const int seq = blockIdx.z, kv_head = blockIdx.y;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kMassThreads + threadIdx.x;
  if (t >= p.context_lens[seq]) return;
  float mass = 0.0f;
  for (int g = 0; g < p.group; ++g) {
    const int64_t head = static_cast<int64_t>(seq) * p.num_heads + kv_head * p.group + g;
    mass += exp2f(p.scores[head * p.mass_stride + t] - p.head_stats[2 * head]) / p.head_stats[2 * head + 1];
  }
  float* dst = token_mass + (static_cast<int64_t>(seq) * p.num_kv_heads + kv_head) * token_mass_stride + t;
  *dst = accumulate ? *dst + mass : mass;
}

// Occupancy-derived grid of one kernel instance on the current device. The
// dynamic shared memory limit is raised and occupancy and SM count are queried
// once per (instance, device); later calls read the cache.
template <typename T, int kDim, int kMaxGroup, bool kMass>
Status instance_info(LeanLaunchInfo* info) {
  static PerDeviceCache<LeanLaunchInfo> cache;
  return cache.get(
      [](int device, LeanLaunchInfo* fresh) {
        constexpr int bytes = decode::shared_bytes<T, kDim, kMaxGroup>();
        auto kernel = lean_kernel<T, kDim, kMaxGroup, kMass>;
        int per_sm = 0, sms = 0;
        cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
        if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, bytes);
        if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
        if (e != cudaSuccess) {
          cudaGetLastError();  // not sticky: clear it so later launches do not report it
          return Status::unsupported(std::string("lean attention: kernel set-up: ") + cudaGetErrorString(e));
        }
        if (per_sm <= 0 || sms <= 0) return Status::unsupported("lean attention: kernel does not fit on an SM");
        *fresh = {per_sm * sms, per_sm, sms, kThreads, bytes, kTileTokens};
        return Status::success();
      },
      info);
}

Status shape_info(const DecodeAttentionArgs& shape, LeanLaunchInfo* info) {
  return decode::dispatch<true>(shape, [&](auto type, auto dim, auto max_group, auto mass) {
    return instance_info<typename decltype(type)::type, decltype(dim)::value, decltype(max_group)::value,
                         decltype(mass)::value>(info);
  });
}

Status check_error(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return Status::invalid(std::string("lean attention: ") + what + ": " + cudaGetErrorString(e));
  return Status::success();
}

// The layout of `shape`'s launches with a workspace of capacity max_num_seqs
// (kernels/lean_workspace_layout.h).
lean::WorkspaceShape workspace_shape(const DecodeAttentionArgs& shape, const LeanLaunchInfo& info,
                                     int64_t max_num_seqs) {
  lean::WorkspaceShape w;
  w.max_num_seqs = max_num_seqs;
  w.grid = info.grid;
  w.num_kv_heads = shape.num_kv_heads;
  w.num_heads = shape.num_heads;
  w.head_dim = shape.head_dim;
  w.token_mass_stride = shape.token_mass != nullptr ? shape.token_mass_stride : 0;
  return w;
}

}  // namespace

Status lean_attention_launch_info(const DecodeAttentionArgs& shape, LeanLaunchInfo* info) {
  if (info == nullptr) return Status::invalid("lean attention: null info");
  if (shape.num_kv_heads <= 0 || shape.num_heads <= 0 || shape.num_heads % shape.num_kv_heads != 0) {
    return Status::invalid("lean attention: num_heads must be a positive multiple of num_kv_heads");
  }
  return shape_info(shape, info);
}

Status lean_attention_workspace_bytes(const DecodeAttentionArgs& shape, int64_t max_num_seqs, size_t* bytes) {
  if (bytes == nullptr || max_num_seqs < 0) return Status::invalid("lean attention: bad workspace query");
  LeanLaunchInfo info;
  if (Status st = lean_attention_launch_info(shape, &info); !st.ok()) return st;
  if (shape.token_mass != nullptr && shape.token_mass_stride <= 0) {
    return Status::invalid("lean attention: token_mass needs token_mass_stride");
  }
  *bytes = static_cast<size_t>(lean::workspace_layout(workspace_shape(shape, info, max_num_seqs)).total);
  return Status::success();
}

Status lean_attention_decode(const DecodeAttentionArgs& args, const LeanWorkspace& workspace, cudaStream_t stream) {
  if (Status st = check_decode_attention_shape(args); !st.ok()) return st;
  if (args.num_seqs == 0) return Status::success();
  if (args.num_seqs > 65535) return Status::unsupported("lean attention: more than 65535 sequences");
  LeanLaunchInfo info;
  if (Status st = shape_info(args, &info); !st.ok()) return st;
  // NOTE: the layout comes from the workspace's capacity, not from this
  // launch's num_seqs, so the counters stay put across batch sizes.
  const lean::WorkspaceShape ws_shape = workspace_shape(args, info, workspace.max_num_seqs);
  if (Status st = lean::check_workspace(workspace, args.num_seqs, ws_shape, "lean attention"); !st.ok()) return st;
  const lean::WorkspaceLayout w = lean::workspace_layout(ws_shape);
  char* base = static_cast<char*>(workspace.data);
  Params p{};
  p.q = args.q;
  p.q_row_stride = args.q_row_stride;
  p.out = args.out;
  p.k_cache = args.k_cache;
  p.v_cache = args.v_cache;
  p.block_size = static_cast<int>(args.block_size);
  p.num_kv_heads = static_cast<int>(args.num_kv_heads);
  p.num_heads = static_cast<int>(args.num_heads);
  p.group = static_cast<int>(args.num_heads / args.num_kv_heads);
  p.num_seqs = static_cast<int>(args.num_seqs);
  p.context_lens = args.context_lens;
  p.block_tables = args.block_tables;
  p.max_blocks_per_seq = args.max_blocks_per_seq;
  p.scale_log2 = args.scale * decode::kLog2e;
  p.mass_stride = args.token_mass_stride;
  if (args.token_mass != nullptr) {
    p.head_stats = reinterpret_cast<float*>(base + w.head_stats);
    p.scores = reinterpret_cast<float*>(base + w.scores);
  }
  int* counters = reinterpret_cast<int*>(base + w.counters);
  float* partials = reinterpret_cast<float*>(base + w.partials);
  Status st = decode::dispatch<true>(args, [&](auto type, auto dim, auto max_group, auto mass) {
    using T = typename decltype(type)::type;
    constexpr int kDim = decltype(dim)::value, kMaxGroup = decltype(max_group)::value;
    constexpr bool kMass = decltype(mass)::value;
    lean_kernel<T, kDim, kMaxGroup, kMass>
        <<<info.grid, kThreads, decode::shared_bytes<T, kDim, kMaxGroup>(), stream>>>(p, counters, partials);
    return check_error("kernel launch");
  });
  if (!st.ok() || args.token_mass == nullptr) return st;
  const dim3 grid(static_cast<unsigned>((args.token_mass_stride + kMassThreads - 1) / kMassThreads),
                  static_cast<unsigned>(args.num_kv_heads), static_cast<unsigned>(args.num_seqs));
  token_mass_kernel<<<grid, kMassThreads, 0, stream>>>(p, args.token_mass, args.token_mass_stride,
                                                         args.accumulate_mass);
  return check_error("token mass launch");
}

}  // namespace kvs::kernels::cuda
