#include "kernels/cuda/sampling.h"

#include <climits>

#include "kernels/cuda/bf16_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
using u64 = unsigned long long;

struct Shared {
  u64 hist[256];
  u64 scan[kThreads];
  float warp_value[kWarps];
  int warp_index[kWarps];
  uint32_t selected_prefix;
  u64 selected_above;
};

// The row as one thread sees it: its contiguous chunk [begin, end) of the
// vocabulary (contiguous so that index-order prefix sums are a block scan of
// per-thread sums), and the top-k threshold once known.
struct RowState {
  const float* logits;
  float temperature;
  float max_z;
  int64_t begin, end;
  bool use_k = false;
  uint32_t k_key = 0;
  u64 k_need = 0, k_tie_base = 0;

  __device__ float z(int64_t i) const { return logits[i] / temperature; }
  // Whether a token with this key survives top-k; `tie_run` counts the ties
  // at the threshold met so far in index order (start: k_tie_base).
  __device__ bool in_k(uint32_t key, u64& tie_run) const {
    if (!use_k || key > k_key) return true;
    if (key != k_key) return false;
    const bool in = tie_run < k_need;
    ++tie_run;
    return in;
  }
};

__device__ u64 block_sum(u64 value, Shared& sh) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  __syncthreads();
  if (threadIdx.x % 32 == 0) sh.scan[threadIdx.x / 32] = value;
  __syncthreads();
  u64 total = 0;
  for (int w = 0; w < kWarps; ++w) total += sh.scan[w];
  __syncthreads();
  return total;
}

__device__ float block_max(float value, Shared& sh) {
  for (int offset = 16; offset > 0; offset /= 2) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  __syncthreads();
  if (threadIdx.x % 32 == 0) sh.warp_value[threadIdx.x / 32] = value;
  __syncthreads();
  float best = sh.warp_value[0];
  for (int w = 1; w < kWarps; ++w) best = fmaxf(best, sh.warp_value[w]);
  __syncthreads();
  return best;
}

// Exclusive prefix sum over threads in thread order; *total gets the sum.
__device__ u64 block_exclusive_scan(u64 value, Shared& sh, u64* total) {
  const int tid = threadIdx.x;
  __syncthreads();
  sh.scan[tid] = value;
  __syncthreads();
  for (int offset = 1; offset < kThreads; offset *= 2) {
    const u64 add = tid >= offset ? sh.scan[tid - offset] : 0;
    __syncthreads();
    sh.scan[tid] += add;
    __syncthreads();
  }
  const u64 inclusive = sh.scan[tid];
  *total = sh.scan[kThreads - 1];
  __syncthreads();
  return inclusive - value;
}

// Argmax of the row's logits, lowest index among equal maxima.
__device__ int32_t block_argmax(const float* logits, int64_t begin, int64_t end, Shared& sh) {
  float best = -INFINITY;
  int index = INT_MAX;
  for (int64_t i = begin; i < end; ++i) {
    if (index == INT_MAX || logits[i] > best) {
      best = logits[i];
      index = static_cast<int>(i);
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, best, offset);
    const int other_index = __shfl_xor_sync(0xffffffffu, index, offset);
    if (other > best || (other == best && other_index < index)) {
      best = other;
      index = other_index;
    }
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) {
    sh.warp_value[threadIdx.x / 32] = best;
    sh.warp_index[threadIdx.x / 32] = index;
  }
  __syncthreads();
  best = sh.warp_value[0];
  index = sh.warp_index[0];
  for (int w = 1; w < kWarps; ++w) {
    if (sh.warp_value[w] > best || (sh.warp_value[w] == best && sh.warp_index[w] < index)) {
      best = sh.warp_value[w];
      index = sh.warp_index[w];
    }
  }
  __syncthreads();
  return index == INT_MAX ? 0 : index;
}

// Radix select from the top: the key tau with above(tau) < target <=
// above(tau) + at(tau), where above/at sum each token's weight (1 for every
// token when !mass_mode; its integer weight if it survives top-k when
// mass_mode) over keys > tau / == tau. target <= the total weight.
__device__ void radix_select(const RowState& r, bool mass_mode, u64 target, Shared& sh, uint32_t* key_out,
                             u64* above_out) {
  uint32_t prefix = 0, mask = 0;
  u64 above = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += kThreads) sh.hist[d] = 0;
    __syncthreads();
    u64 tie_run = r.k_tie_base;
    for (int64_t i = r.begin; i < r.end; ++i) {
      const float z = r.z(i);
      const uint32_t key = sampling_order_key(z);
      u64 weight = 1;
      if (mass_mode) weight = r.in_k(key, tie_run) ? sampling_weight(z - r.max_z) : 0;
      if (weight != 0 && (key & mask) == prefix) atomicAdd(&sh.hist[(key >> shift) & 0xffu], weight);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      u64 acc = above;
      int d = 255;
      for (; d > 0; --d) {
        if (acc + sh.hist[d] >= target) break;
        acc += sh.hist[d];
      }
      sh.selected_prefix = prefix | (static_cast<uint32_t>(d) << shift);
      sh.selected_above = acc;
    }
    __syncthreads();
    prefix = sh.selected_prefix;
    above = sh.selected_above;
    mask |= 0xffu << shift;
    __syncthreads();
  }
  *key_out = prefix;
  *above_out = above;
}

__global__ void __launch_bounds__(kThreads) sampling_kernel(SamplingArgs a) {
  __shared__ Shared sh;
  const int64_t row = blockIdx.x;
  const int64_t vocab = a.vocab_size;
  const int64_t chunk = (vocab + kThreads - 1) / kThreads;
  RowState r;
  r.logits = a.logits + row * a.logits_row_stride;
  r.temperature = a.temperatures[row];
  r.begin = min(vocab, threadIdx.x * chunk);
  r.end = min(vocab, r.begin + chunk);
  if (sampling_is_greedy(r.temperature)) {
    const int32_t token = block_argmax(r.logits, r.begin, r.end, sh);
    if (threadIdx.x == 0) a.out_tokens[row] = token;
    return;
  }
  float max_z = -INFINITY;
  for (int64_t i = r.begin; i < r.end; ++i) max_z = fmaxf(max_z, r.z(i));
  r.max_z = block_max(max_z, sh);

  // top-k: the k-th ranked key and how many of its ties (in index order) stay.
  const int32_t top_k = a.top_k != nullptr ? a.top_k[row] : 0;
  if (sampling_top_k_on(top_k, vocab)) {
    u64 above = 0;
    radix_select(r, false, static_cast<u64>(top_k), sh, &r.k_key, &above);
    r.k_need = static_cast<u64>(top_k) - above;
    u64 ties = 0, unused = 0;
    for (int64_t i = r.begin; i < r.end; ++i) ties += sampling_order_key(r.z(i)) == r.k_key;
    r.k_tie_base = block_exclusive_scan(ties, sh, &unused);
    r.use_k = true;
  }

  // top-p over the top-k survivors, by integer weight.
  u64 mass = 0;
  {
    u64 tie_run = r.k_tie_base;
    for (int64_t i = r.begin; i < r.end; ++i) {
      const float z = r.z(i);
      if (r.in_k(sampling_order_key(z), tie_run)) mass += sampling_weight(z - r.max_z);
    }
  }
  const u64 total_k = block_sum(mass, sh);
  const float top_p = a.top_p != nullptr ? a.top_p[row] : 1.0f;
  const bool use_p = sampling_top_p_on(top_p) && total_k > 0;
  uint32_t p_key = 0;
  u64 p_need = 0, p_tie_base = 0;
  if (use_p) {
    const u64 target = sampling_top_p_target(total_k, top_p);
    u64 above = 0;
    radix_select(r, true, target, sh, &p_key, &above);
    p_need = target - above;
    u64 tie_mass = 0, unused = 0, tie_run = r.k_tie_base;
    for (int64_t i = r.begin; i < r.end; ++i) {
      const float z = r.z(i);
      const uint32_t key = sampling_order_key(z);
      if (r.in_k(key, tie_run) && key == p_key) tie_mass += sampling_weight(z - r.max_z);
    }
    p_tie_base = block_exclusive_scan(tie_mass, sh, &unused);
  }

  // Survivors of both: walk the chunk in index order.
  auto visit = [&](auto&& on_kept) {
    u64 k_run = r.k_tie_base, p_run = p_tie_base;
    for (int64_t i = r.begin; i < r.end; ++i) {
      const float z = r.z(i);
      const uint32_t key = sampling_order_key(z);
      if (!r.in_k(key, k_run)) continue;
      const u64 weight = sampling_weight(z - r.max_z);
      if (use_p) {
        if (key < p_key) continue;
        if (key == p_key) {
          const bool in = p_run < p_need;
          p_run += weight;
          if (!in) continue;
        }
      }
      if (on_kept(i, weight)) return;
    }
  };
  mass = 0;
  visit([&](int64_t, u64 weight) {
    mass += weight;
    return false;
  });
  u64 total = 0;
  const u64 base = block_exclusive_scan(mass, sh, &total);
  if (total == 0) {
    const int32_t token = block_argmax(r.logits, r.begin, r.end, sh);
    if (threadIdx.x == 0) a.out_tokens[row] = token;
    return;
  }
  const double u = a.uniforms != nullptr ? a.uniforms[row] : sampling_uniform(a.seeds[row], a.offsets[row]);
  const u64 target = sampling_draw_target(u, total);
  if (base <= target && target < base + mass) {
    u64 running = base;
    visit([&](int64_t i, u64 weight) {
      running += weight;
      if (running > target) {
        a.out_tokens[row] = static_cast<int32_t>(i);
        return true;
      }
      return false;
    });
  }
}

}  // namespace

Status sample(const SamplingArgs& args, cudaStream_t stream) {
  Status status = check_sampling_args(args);
  if (!status.ok()) return Status::invalid("cuda " + status.message);
  if (args.num_rows > INT32_MAX) return Status::invalid("cuda sampling: too many rows");
  if (args.num_rows == 0) return Status::success();
  sampling_kernel<<<static_cast<unsigned>(args.num_rows), kThreads, 0, stream>>>(args);
  return launch_status("cuda sampling");
}

}  // namespace kvs::kernels::cuda
