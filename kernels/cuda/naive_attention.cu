#include "kernels/cuda/naive_attention.h"

#include <cmath>
#include <string>

#include "kernels/cpu/paged_attention.h"  // kScoreOne
#include "kernels/cuda/bf16_util.cuh"
#include "kernels/cuda/fp8_util.cuh"
#include "kernels/gumbel_noise.h"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 64;      // 2 warps
constexpr int kChunk = kThreads;  // keys per chunk: thread k computes key k's logit
constexpr int kMaxHeadDim = 256;
constexpr int kDimsPerThread = kMaxHeadDim / kThreads;  // output dims per thread (P·V)
// Tile rows are an odd number of 32-bit words apart, so the 32 threads of a
// warp reading "element i of their own row" hit 32 different banks.
constexpr int kMaxRowWords = kMaxHeadDim / 2 + 1;

struct Shared {
  float q[kMaxHeadDim];
  uint32_t tile[kChunk * kMaxRowWords];  // one chunk's K or V rows (bf16 pairs)
  int64_t slots[kChunk];                 // cache slot of each key of the chunk, -1: masked
  float logits[kChunk];
  float weights[kChunk];
  double merge_max[kThreads / 32];
  double merge_sum[kThreads / 32];
};

// The per-CTA constants of one (query row, head).
struct Row {
  const void* k;  // the cache (bf16 or fp8 elements), at this KV head
  const void* v;
  const int32_t* table;
  int64_t window;       // keys [0, window)
  int64_t position;     // the row's cache index
  int64_t max_table;    // max_blocks_per_seq
  int64_t block_size;
  int64_t num_blocks;
  int64_t slot_elems;   // elements per cache slot (num_kv_heads * head_dim)
  int head_dim;
  int row_words;        // tile row stride in 32-bit words (odd)
};

__device__ __forceinline__ float low_bf16(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float high_bf16(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }

// Slot of key p, or -1 where the block table does not give a cache block.
__device__ __forceinline__ int64_t slot_of(const Row& r, int64_t p) {
  const int64_t entry = p / r.block_size;
  if (entry >= r.max_table) return -1;
  const int64_t block = r.table[entry];
  if (block < 0 || block >= r.num_blocks) return -1;
  return block * r.block_size + p % r.block_size;
}

// Gathers the rows of keys [0, n) of the chunk (K or V) into s.tile (bf16);
// masked keys get zeros. kVec: elements per load (8: 16 bytes, 2: 4 bytes,
// 1). kFp8: the cache holds fp8 E4M3 (kVec 8: 8 bytes, or 1), widened to
// bf16 in registers (exact).
template <int kVec, bool kFp8>
__device__ void load_tile(Shared& s, const Row& r, const void* cache_at_head, int n) {
  const int units = r.head_dim / kVec;
  for (int item = threadIdx.x; item < n * units; item += kThreads) {
    const int key = item / units, e = (item - key * units) * kVec;
    const int64_t slot = s.slots[key];
    uint32_t* dst = s.tile + key * r.row_words + e / 2;
    if constexpr (kFp8) {
      static_assert(kVec == 8 || kVec == 1, "fp8 rows load 8 bytes or 1");
      const uint8_t* src = static_cast<const uint8_t*>(cache_at_head) + slot * r.slot_elems + e;
      if constexpr (kVec == 8) {
        const uint2 x = slot >= 0 ? *reinterpret_cast<const uint2*>(src) : make_uint2(0, 0);
        dst[0] = fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.x & 0xFFFFu));
        dst[1] = fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.x >> 16));
        dst[2] = fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.y & 0xFFFFu));
        dst[3] = fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.y >> 16));
      } else {
        reinterpret_cast<uint16_t*>(s.tile)[key * 2 * r.row_words + e] =
            slot >= 0 ? static_cast<uint16_t>(fp8x2_e4m3_to_bf16x2(*src) & 0xFFFFu) : uint16_t{0};
      }
      continue;
    }
    const uint16_t* src = static_cast<const uint16_t*>(cache_at_head) + slot * r.slot_elems + e;
    if constexpr (kVec == 8) {
      const uint4 x = slot >= 0 ? *reinterpret_cast<const uint4*>(src) : make_uint4(0, 0, 0, 0);
      dst[0] = x.x, dst[1] = x.y, dst[2] = x.z, dst[3] = x.w;
    } else if constexpr (kVec == 2) {
      dst[0] = slot >= 0 ? *reinterpret_cast<const uint32_t*>(src) : 0u;
    } else {
      reinterpret_cast<uint16_t*>(s.tile)[key * 2 * r.row_words + e] = slot >= 0 ? *src : uint16_t{0};
    }
  }
}

// scale * q·k of tile row `key`, in the CPU reference's arithmetic: fp32
// products and sums in index order, never fused (attend_one_float).
__device__ __forceinline__ float logit_of(const Shared& s, const Row& r, int key, float scale) {
  const uint32_t* row = s.tile + key * r.row_words;
  float dot = 0.0f;
  int i = 0;
  for (; i + 1 < r.head_dim; i += 2) {
    const uint32_t w = row[i / 2];
    dot = __fadd_rn(dot, __fmul_rn(s.q[i], low_bf16(w)));
    dot = __fadd_rn(dot, __fmul_rn(s.q[i + 1], high_bf16(w)));
  }
  if (i < r.head_dim) dot = __fadd_rn(dot, __fmul_rn(s.q[i], low_bf16(row[i / 2])));
  return __fmul_rn(dot, scale);
}

// The score statistic's value of one key (double), as accumulate_scores in
// kernels/cpu/paged_attention.cpp.
struct ScoreNoise {
  bool gumbel;
  double inverse_tau;
  uint64_t row_seed;
  int64_t head;
  __device__ __forceinline__ double value(float logit, int64_t p) const {
    double x = logit;
    if (gumbel) x = (x + static_cast<double>(gumbel_noise_value(row_seed, head, p))) * inverse_tau;
    return x;
  }
};

// (max, sum of exp(x - max)) pairs: online update and merge.
__device__ __forceinline__ void online_add(double& m, double& l, double x) {
  if (x > m) {
    l = l * exp(m - x) + 1.0;
    m = x;
  } else {
    l += exp(x - m);
  }
}
__device__ __forceinline__ void online_merge(double& m, double& l, double m2, double l2) {
  const double mm = fmax(m, m2);
  if (mm == -INFINITY) return;
  l = (m == -INFINITY ? 0.0 : l * exp(m - mm)) + (m2 == -INFINITY ? 0.0 : l2 * exp(m2 - mm));
  m = mm;
}

// Block-wide merge of every thread's (m, l); all threads get the result.
__device__ void block_merge(Shared& s, double& m, double& l) {
  for (int offset = 16; offset > 0; offset /= 2) {
    online_merge(m, l, __shfl_xor_sync(0xffffffffu, m, offset), __shfl_xor_sync(0xffffffffu, l, offset));
  }
  if (threadIdx.x % 32 == 0) s.merge_max[threadIdx.x / 32] = m, s.merge_sum[threadIdx.x / 32] = l;
  __syncthreads();
  m = -INFINITY, l = 0.0;
  for (int w = 0; w < kThreads / 32; ++w) online_merge(m, l, s.merge_max[w], s.merge_sum[w]);
}

// Fills s.slots for the chunk starting at key c0 (n keys).
__device__ __forceinline__ void chunk_slots(Shared& s, const Row& r, int64_t c0, int n) {
  if (threadIdx.x < n) s.slots[threadIdx.x] = slot_of(r, c0 + threadIdx.x);
}

// Second pass of a row that wants scores: adds llround(w_p * 2^32) for every
// key, with (max_score, sum_score) from the first pass.
template <int kVec, bool kFp8>
__device__ void add_scores(Shared& s, const Row& r, float scale, const ScoreNoise& noise, double max_score,
                           double sum_score, int64_t* out) {
  const double factor = kScoreOne / sum_score;
  for (int64_t c0 = 0; c0 < r.window; c0 += kChunk) {
    const int n = static_cast<int>(r.window - c0 < kChunk ? r.window - c0 : kChunk);
    __syncthreads();  // the previous chunk's tile and slots are no longer read
    chunk_slots(s, r, c0, n);
    __syncthreads();
    load_tile<kVec, kFp8>(s, r, r.k, n);
    __syncthreads();
    const int key = threadIdx.x;
    if (key < n && s.slots[key] >= 0) {
      const int64_t p = c0 + key;
      const double x = noise.value(logit_of(s, r, key, scale), p);
      atomicAdd(reinterpret_cast<unsigned long long*>(out + p),
                static_cast<unsigned long long>(llround(exp(x - max_score) * factor)));
    }
  }
}

template <int kVec, bool kFp8>
__global__ void __launch_bounds__(kThreads) naive_attention_kernel(NaiveAttentionArgs args) {
  __shared__ Shared s;
  const PrefillAttentionArgs& a = args.attention;
  // Latest rows first: within a sequence they have the longest windows.
  const int64_t t = args.num_query_tokens - 1 - blockIdx.x;
  const int64_t head = blockIdx.y;
  // The sequence: the largest seq with cu_query_lens[seq] <= t.
  int64_t lo = 0, hi = a.num_seqs;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (a.cu_query_lens[mid] <= t) lo = mid; else hi = mid - 1;
  }
  const int64_t seq = lo;
  if (seq >= a.num_seqs) return;  // t past the batch (num_query_tokens too large)
  const int64_t query_len = a.cu_query_lens[seq + 1] - a.cu_query_lens[seq];
  const int64_t row_in_seq = t - a.cu_query_lens[seq];
  const int64_t kv_head = head / (a.num_heads / a.num_kv_heads);
  Row r;
  const int64_t element_bytes = kFp8 ? 1 : 2;
  r.k = static_cast<const uint8_t*>(a.k_cache) + kv_head * a.head_dim * element_bytes;
  r.v = static_cast<const uint8_t*>(a.v_cache) + kv_head * a.head_dim * element_bytes;
  r.table = a.block_tables + seq * a.max_blocks_per_seq;
  r.position = a.context_lens[seq] - query_len + row_in_seq;
  r.window = r.position + 1 > 0 ? r.position + 1 : 0;
  r.max_table = a.max_blocks_per_seq;
  r.block_size = a.block_size;
  r.num_blocks = a.num_blocks;
  r.slot_elems = a.num_kv_heads * a.head_dim;
  r.head_dim = static_cast<int>(a.head_dim);
  r.row_words = (r.head_dim + 1) / 2 | 1;

  for (int i = threadIdx.x; i < r.head_dim; i += kThreads) {
    s.q[i] = bf16_to_float(a.q[t * a.q_row_stride + head * a.head_dim + i]);
  }
  const bool want_scores = args.scores != nullptr && args.score_row_begin[seq] >= 0 &&
                           row_in_seq >= args.score_row_begin[seq];
  ScoreNoise noise{false, 1.0, 0, head};
  if (want_scores && args.score_tau != nullptr && args.score_tau[seq] > 0.0f) {
    noise.gumbel = true;
    noise.inverse_tau = 1.0 / static_cast<double>(args.score_tau[seq]);
    noise.row_seed = gumbel_row_seed(args.score_seeds[seq], r.position);
  }

  float m = -INFINITY, l = 0.0f, acc[kDimsPerThread] = {};
  double score_max = -INFINITY, score_sum = 0.0;  // this thread's keys (want_scores)
  for (int64_t c0 = 0; c0 < r.window; c0 += kChunk) {
    const int n = static_cast<int>(r.window - c0 < kChunk ? r.window - c0 : kChunk);
    __syncthreads();  // the previous chunk's tile, slots and weights are no longer read
    chunk_slots(s, r, c0, n);
    __syncthreads();
    load_tile<kVec, kFp8>(s, r, r.k, n);
    __syncthreads();
    const int key = threadIdx.x;
    if (key < n) {
      const float x = s.slots[key] >= 0 ? logit_of(s, r, key, a.scale) : -INFINITY;
      s.logits[key] = x;
      if (want_scores && s.slots[key] >= 0) online_add(score_max, score_sum, noise.value(x, c0 + key));
    }
    __syncthreads();  // logits ready; the K tile is free
    float chunk_max = -INFINITY;
    for (int k = 0; k < n; ++k) chunk_max = fmaxf(chunk_max, s.logits[k]);
    const float m_new = fmaxf(m, chunk_max);
    load_tile<kVec, kFp8>(s, r, r.v, n);
    if (key < n) s.weights[key] = m_new == -INFINITY ? 0.0f : expf(s.logits[key] - m_new);
    __syncthreads();  // V tile and weights ready
    if (m_new == -INFINITY) continue;  // every key so far masked
    const float correction = expf(m - m_new);  // 0 on the first chunk
    m = m_new;
    l *= correction;
    const uint16_t* v_tile = reinterpret_cast<const uint16_t*>(s.tile);
#pragma unroll
    for (int j = 0; j < kDimsPerThread; ++j) acc[j] *= correction;
    for (int k = 0; k < n; ++k) {
      const float w = s.weights[k];
      l += w;
#pragma unroll
      for (int j = 0; j < kDimsPerThread; ++j) {
        const int d = threadIdx.x + j * kThreads;
        if (d < r.head_dim) acc[j] += w * bf16_to_float(v_tile[k * 2 * r.row_words + d]);
      }
    }
  }
  uint16_t* out = a.out + t * a.out_row_stride + head * a.head_dim;
  const float inverse_l = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int j = 0; j < kDimsPerThread; ++j) {
    const int d = threadIdx.x + j * kThreads;
    if (d < r.head_dim) out[d] = float_to_bf16(acc[j] * inverse_l);
  }
  if (!want_scores) return;
  block_merge(s, score_max, score_sum);
  if (score_sum > 0.0) {
    add_scores<kVec, kFp8>(s, r, a.scale, noise, score_max, score_sum, args.scores + args.score_offsets[seq]);
  }
}

bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

Status check(const NaiveAttentionArgs& args) {
  const PrefillAttentionArgs& a = args.attention;
  if (a.q == nullptr || a.out == nullptr || a.k_cache == nullptr || a.v_cache == nullptr ||
      a.cu_query_lens == nullptr || a.context_lens == nullptr || a.block_tables == nullptr) {
    return Status::invalid("cuda naive_attention: null pointer");
  }
  if (a.num_kv_heads <= 0 || a.num_heads <= 0 || a.num_heads % a.num_kv_heads != 0 || a.block_size <= 0 ||
      a.num_blocks <= 0 || a.max_blocks_per_seq <= 0 || a.head_dim <= 0) {
    return Status::invalid("cuda naive_attention: bad shape");
  }
  if (a.head_dim > kMaxHeadDim) return Status::unsupported("cuda naive_attention: head_dim over 256");
  if (a.q_row_stride < a.num_heads * a.head_dim || a.out_row_stride < a.num_heads * a.head_dim) {
    return Status::invalid("cuda naive_attention: row stride below num_heads * head_dim");
  }
  if (a.num_heads > 65535 || args.num_query_tokens > INT32_MAX) {
    return Status::unsupported("cuda naive_attention: more than 65535 heads or 2^31 - 1 query rows");
  }
  if (args.scores != nullptr && (args.score_row_begin == nullptr || args.score_offsets == nullptr)) {
    return Status::invalid("cuda naive_attention: scores without score_row_begin / score_offsets");
  }
  if (a.kv_dtype != KvDType::BF16 && a.kv_dtype != KvDType::FP8_E4M3) {
    return Status::unsupported(std::string("cuda naive_attention: KV dtype ") + kv_dtype_name(a.kv_dtype) +
                               " (supported: bf16, fp8_e4m3)");
  }
  if (args.scores != nullptr && args.score_tau != nullptr && args.score_seeds == nullptr) {
    return Status::invalid("cuda naive_attention: score_tau without score_seeds");
  }
  return Status::success();
}

}  // namespace

Status naive_attention(const NaiveAttentionArgs& args, cudaStream_t stream) {
  const PrefillAttentionArgs& a = args.attention;
  if (a.num_seqs < 0 || args.num_query_tokens < 0) return Status::invalid("cuda naive_attention: bad batch");
  if (a.num_seqs == 0 || args.num_query_tokens == 0) return Status::success();
  if (Status status = check(args); !status.ok()) return status;
  const dim3 grid(static_cast<unsigned>(args.num_query_tokens), static_cast<unsigned>(a.num_heads));
  if (a.kv_dtype == KvDType::FP8_E4M3) {
    if (a.head_dim % 8 == 0 && aligned(a.k_cache, 8) && aligned(a.v_cache, 8)) {
      naive_attention_kernel<8, true><<<grid, kThreads, 0, stream>>>(args);
    } else {
      naive_attention_kernel<1, true><<<grid, kThreads, 0, stream>>>(args);
    }
  } else if (a.head_dim % 8 == 0 && aligned(a.k_cache, 16) && aligned(a.v_cache, 16)) {
    naive_attention_kernel<8, false><<<grid, kThreads, 0, stream>>>(args);
  } else if (a.head_dim % 2 == 0 && aligned(a.k_cache, 4) && aligned(a.v_cache, 4)) {
    naive_attention_kernel<2, false><<<grid, kThreads, 0, stream>>>(args);
  } else {
    naive_attention_kernel<1, false><<<grid, kThreads, 0, stream>>>(args);
  }
  return launch_status("cuda naive_attention");
}

}  // namespace kvs::kernels::cuda
