#include "kernels/cuda/splitk_decode_attention.h"

#include <algorithm>
#include <string>

#include "kernels/cuda/decode_attention_tile.cuh"
#include "kernels/cuda/decode_dispatch.cuh"
#include "kernels/cuda/per_device_cache.h"
#include "kernels/lean_schedule.h"

namespace kvs::kernels::cuda {
namespace {

using decode::kThreads;
using decode::kTileTokens;
using decode::Params;

// Piece `blockIdx.x` of pair (blockIdx.z, blockIdx.y): tiles [split * per,
// min((split + 1) * per, n)), per = ceil(n / num_splits). Empty pieces write
// nothing (the merge only reads the non-empty ones).
template <typename T, int kDim, int kMaxGroup>
__global__ void __launch_bounds__(kThreads, 2) splitk_kernel(Params p, int num_splits, float* partials) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int seq = blockIdx.z, kv_head = blockIdx.y, split = blockIdx.x;
  const int64_t n = lean::num_tiles(p.context_lens[seq], kTileTokens);
  const int64_t per = (n + num_splits - 1) / num_splits;
  const int64_t first = split * per;
  if (first >= n) return;
  decode::SegmentWorker<T, kDim, kMaxGroup, false> worker(p, smem);
  worker.run(seq, kv_head, first, per < n - first ? per : n - first);
  const int64_t slot_floats = static_cast<int64_t>(p.group) * (kDim + 2);
  worker.write_partial(partials + ((static_cast<int64_t>(seq) * p.num_kv_heads + kv_head) * num_splits + split) *
                                      slot_floats);
}

// Merges the non-empty pieces of pair (blockIdx.y, blockIdx.x).
template <int kDim>
__global__ void __launch_bounds__(kThreads) splitk_merge_kernel(Params p, int num_splits, const float* partials) {
  const int seq = blockIdx.y, kv_head = blockIdx.x;
  const int64_t n = lean::num_tiles(p.context_lens[seq], kTileTokens);
  const int64_t per = (n + num_splits - 1) / num_splits;
  const int used = static_cast<int>((n + per - 1) / per);
  const int64_t slot_floats = static_cast<int64_t>(p.group) * (kDim + 2);
  const float* pair = partials + (static_cast<int64_t>(seq) * p.num_kv_heads + kv_head) * num_splits * slot_floats;
  decode::merge_partials<kDim, false>(p, seq, kv_head, used, [=](int k) { return pair + k * slot_floats; });
}

// Raises the dynamic shared memory limit of one kernel instance, once per
// device (cached; later calls only look it up).
template <typename T, int kDim, int kMaxGroup>
Status set_up_instance() {
  static PerDeviceCache<bool> cache;
  bool ready = false;
  return cache.get(
      [](int, bool* done) {
        const cudaError_t e = cudaFuncSetAttribute(splitk_kernel<T, kDim, kMaxGroup>,
                                                   cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                   decode::shared_bytes<T, kDim, kMaxGroup>());
        if (e != cudaSuccess) {
          cudaGetLastError();  // not sticky: clear it
          return Status::unsupported(std::string("split-k decode: shared memory: ") + cudaGetErrorString(e));
        }
        *done = true;
        return Status::success();
      },
      &ready);
}

size_t workspace_floats(const DecodeAttentionArgs& a, int64_t num_seqs, int num_splits) {
  return static_cast<size_t>(num_seqs * a.num_kv_heads * num_splits * a.num_heads / a.num_kv_heads *
                             (a.head_dim + 2));
}

}  // namespace

Status splitk_decode_attention_workspace_bytes(const DecodeAttentionArgs& shape, int64_t max_num_seqs,
                                               int num_splits, size_t* bytes) {
  if (bytes == nullptr || max_num_seqs < 0 || num_splits < 1 || shape.num_kv_heads <= 0) {
    return Status::invalid("split-k decode: bad workspace query");
  }
  *bytes = sizeof(float) * workspace_floats(shape, max_num_seqs, num_splits);
  return Status::success();
}

int splitk_default_num_splits(const DecodeAttentionArgs& shape, int64_t max_context_len, int num_sms,
                              int ctas_per_sm) {
  const int64_t pairs = std::max<int64_t>(1, shape.num_seqs * shape.num_kv_heads);
  const int64_t want = (static_cast<int64_t>(num_sms) * ctas_per_sm + pairs - 1) / pairs;
  const int64_t tiles = std::max<int64_t>(1, lean::num_tiles(max_context_len, kTileTokens));
  return static_cast<int>(std::clamp<int64_t>(std::min(want, tiles), 1, 128));
}

Status splitk_decode_attention(const DecodeAttentionArgs& args, int num_splits, void* workspace,
                               size_t workspace_bytes, cudaStream_t stream) {
  if (Status st = check_decode_attention_shape(args); !st.ok()) return st;
  if (num_splits < 1 || num_splits > 65535) return Status::invalid("split-k decode: num_splits outside [1, 65535]");
  if (args.num_seqs == 0) return Status::success();
  if (args.num_seqs > 65535) return Status::unsupported("split-k decode: more than 65535 sequences");
  if (workspace == nullptr || workspace_bytes < sizeof(float) * workspace_floats(args, args.num_seqs, num_splits)) {
    return Status::invalid("split-k decode: workspace too small");
  }
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
  float* partials = static_cast<float*>(workspace);
  return decode::dispatch<false>(args, [&](auto type, auto dim, auto max_group, auto) -> Status {
    using T = typename decltype(type)::type;
    constexpr int kDim = decltype(dim)::value, kMaxGroup = decltype(max_group)::value;
    if (Status st = set_up_instance<T, kDim, kMaxGroup>(); !st.ok()) return st;
    constexpr int bytes = decode::shared_bytes<T, kDim, kMaxGroup>();
    const dim3 grid(static_cast<unsigned>(num_splits), static_cast<unsigned>(args.num_kv_heads),
                    static_cast<unsigned>(args.num_seqs));
    splitk_kernel<T, kDim, kMaxGroup><<<grid, kThreads, bytes, stream>>>(p, num_splits, partials);
    splitk_merge_kernel<kDim><<<dim3(static_cast<unsigned>(args.num_kv_heads), static_cast<unsigned>(args.num_seqs)),
                                kThreads, 0, stream>>>(p, num_splits, partials);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return Status::invalid(std::string("split-k decode: ") + cudaGetErrorString(e));
    return Status::success();
  });
}

}  // namespace kvs::kernels::cuda
