#pragma once
// Device code shared by the decode attention kernels (LeanAttention,
// kernels/cuda/lean_attention.cu, and the fixed split-K kernel,
// kernels/cuda/splitk_decode_attention.cu): one CTA of kThreads threads runs
// the online softmax of the query heads of one KV head over a contiguous range
// of KV tiles of one sequence (a "segment"), reading K/V through the block
// table with a cp.async pipeline of kStages tiles, and leaves the segment's
// unnormalised output, running max and running sum. Scores live in base 2:
// s = (q . k) * scale * log2(e), weights exp2(s - m).
//
// Thread mapping (kThreads = 128, kTileTokens = 64 tokens per tile):
// - Q.K: thread (t = tid % 64, half = tid / 64) dots token t's key with the
//   query heads g = half, half + 2, ... (q in shared memory, broadcast reads;
//   K rows padded by 16 bytes so the 16-byte row reads are conflict-free).
// - softmax: warp w updates the max/sum of heads w, w + 4.
// - P.V: thread (chunk = tid % (D/8), slice = tid / (D/8)) keeps 8 output
//   dims of every head in registers (acc[kMaxGroup][8]) over the tokens
//   t = slice (mod kThreads / (D/8)), so each V element is read from shared
//   memory once; the slices are summed once per segment.
// Each K/V tile is loaded once for all query heads of its group (GQA).
// Element types: __half, __nv_bfloat16, and __nv_fp8_e4m3 (one byte: 8-byte
// cp.async chunks, K rows padded by 8 bytes, widened to float in registers).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_pipeline_primitives.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/fp8_util.cuh"
#include "kernels/lean_schedule.h"

namespace kvs::kernels::cuda::decode {

constexpr int kThreads = 128;
constexpr int kTileTokens = 64;
constexpr float kLog2e = 1.4426950408889634f;

// Everything a decode kernel reads; device pointers. Layouts as in
// kernels/decode_attention.h.
struct Params {
  const float* q;
  int64_t q_row_stride;
  float* out;
  const void* k_cache;
  const void* v_cache;
  int block_size;
  int num_kv_heads;
  int num_heads;
  int group;  // num_heads / num_kv_heads <= the kernel's kMaxGroup
  int num_seqs;
  const int32_t* context_lens;
  const int32_t* block_tables;
  int64_t max_blocks_per_seq;
  float scale_log2;  // scale * log2(e)
  // Side output (kMass kernels): raw base-2 scores [num_seqs, num_heads,
  // mass_stride] and final (max, sum) per head [num_seqs, num_heads, 2].
  float* scores;
  float* head_stats;
  int64_t mass_stride;
};

template <int kDim>
struct Geometry {
  static constexpr int kKStride = kDim + 8;             // K row in shared memory (elements), padded
  static constexpr int kChunks = kDim / 8;              // 8-element chunks per row (16 bytes; fp8: 8)
  static constexpr int kSlices = kThreads / kChunks;    // P.V token slices
  // cp.async pipeline depth. NOTE: 2 at head_dim 256 keeps the CTA at 140 KB
  // of shared memory, under sm_80's 163 KB opt-in limit (3 stages: 205 KB).
  static constexpr int kStages = kDim == 64 ? 4 : kDim == 128 ? 3 : 2;
  static constexpr int kStageElems = kTileTokens * kKStride + kTileTokens * kDim;
  static_assert(kThreads % kChunks == 0 && kTileTokens % kSlices == 0, "thread mapping");
};

// Dynamic shared memory of a CTA: the pipeline stages (reused for the
// end-of-segment reduction), q, probabilities, and per-head max/sum/rescale.
template <typename T, int kDim, int kMaxGroup>
constexpr int shared_bytes() {
  using G = Geometry<kDim>;
  return G::kStages * G::kStageElems * static_cast<int>(sizeof(T)) +
         (kMaxGroup * kDim + kMaxGroup * kTileTokens + 3 * kMaxGroup) * static_cast<int>(sizeof(float));
}

template <typename T>
__device__ __forceinline__ void to_float8(const uint4& raw, float* f);

template <>
__device__ __forceinline__ void to_float8<__half>(const uint4& raw, float* f) {
  const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 x = __half22float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}

template <>
__device__ __forceinline__ void to_float8<__nv_bfloat16>(const uint4& raw, float* f) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {  // bf16 -> f32 is a shift
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// The 8 elements at p (8 * sizeof(T) bytes, aligned to that) as floats.
template <typename T>
__device__ __forceinline__ void load_float8(const T* p, float* f) {
  to_float8<T>(*reinterpret_cast<const uint4*>(p), f);
}

template <>
__device__ __forceinline__ void load_float8<__nv_fp8_e4m3>(const __nv_fp8_e4m3* p, float* f) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  fp8x4_e4m3_to_float4(raw.x, f);
  fp8x4_e4m3_to_float4(raw.y, f + 4);
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One CTA's view of its shared memory and registers for one segment.
template <typename T, int kDim, int kMaxGroup, bool kMass>
struct SegmentWorker {
  using G = Geometry<kDim>;
  static constexpr int kQkHeads = (kMaxGroup + 1) / 2;  // heads per thread in Q.K

  const Params& p;
  T* stages;
  float* q_s;      // [kMaxGroup][kDim]
  float* p_s;      // [kMaxGroup][kTileTokens]: scores, then weights
  float* m_s;      // [kMaxGroup] running max (base 2)
  float* l_s;      // [kMaxGroup] running sum
  float* alpha_s;  // [kMaxGroup] this tile's rescale factor
  float acc[kMaxGroup][8];

  __device__ SegmentWorker(const Params& params, unsigned char* smem) : p(params) {
    stages = reinterpret_cast<T*>(smem);
    q_s = reinterpret_cast<float*>(smem + G::kStages * G::kStageElems * sizeof(T));
    p_s = q_s + kMaxGroup * kDim;
    m_s = p_s + kMaxGroup * kTileTokens;
    l_s = m_s + kMaxGroup;
    alpha_s = l_s + kMaxGroup;
  }

  // Issues the cp.async copies of local tile `tile` of (seq, kv_head) into
  // `stage`. Rows past the context are not loaded (never read).
  __device__ void load_tile(int seq, int kv_head, int64_t tile, int len, int stage) const {
    const int base = static_cast<int>(tile * kTileTokens);
    const int valid = min(kTileTokens, len - base);
    const int32_t* table = p.block_tables + seq * p.max_blocks_per_seq;
    T* ks = stages + stage * G::kStageElems;
    T* vs = ks + kTileTokens * G::kKStride;
    const T* kc = static_cast<const T*>(p.k_cache);
    const T* vc = static_cast<const T*>(p.v_cache);
    for (int idx = threadIdx.x; idx < kTileTokens * G::kChunks; idx += kThreads) {
      const int r = idx / G::kChunks, c = idx % G::kChunks;
      if (r >= valid) break;  // idx grows with r
      const int pos = base + r;
      const int64_t slot = static_cast<int64_t>(table[pos / p.block_size]) * p.block_size + pos % p.block_size;
      const int64_t offset = (slot * p.num_kv_heads + kv_head) * kDim + c * 8;
      __pipeline_memcpy_async(ks + r * G::kKStride + c * 8, kc + offset, 8 * sizeof(T));
      __pipeline_memcpy_async(vs + r * kDim + c * 8, vc + offset, 8 * sizeof(T));
    }
  }

  __device__ void begin_segment(int seq, int kv_head) {
    const float* q = p.q + seq * p.q_row_stride + static_cast<int64_t>(kv_head) * p.group * kDim;
    for (int i = threadIdx.x; i < kMaxGroup * kDim; i += kThreads) q_s[i] = i < p.group * kDim ? q[i] : 0.0f;
    if (threadIdx.x < kMaxGroup) {
      m_s[threadIdx.x] = -INFINITY;
      l_s[threadIdx.x] = 0.0f;
    }
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) {
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[g][e] = 0.0f;
    }
  }

  // Online-softmax update with local tile `tile` (already in `stage`).
  __device__ void compute_tile(int seq, int kv_head, int64_t tile, int len, int stage) {
    const int base = static_cast<int>(tile * kTileTokens);
    const int valid = min(kTileTokens, len - base);
    const T* ks = stages + stage * G::kStageElems;
    const T* vs = ks + kTileTokens * G::kKStride;
    // Q.K
    {
      const int t = threadIdx.x % kTileTokens, half = threadIdx.x / kTileTokens;
      float s[kQkHeads];
#pragma unroll
      for (int j = 0; j < kQkHeads; ++j) s[j] = 0.0f;
      if (t < valid) {
#pragma unroll 4
        for (int c = 0; c < G::kChunks; ++c) {
          float k[8];
          load_float8<T>(ks + t * G::kKStride + c * 8, k);
#pragma unroll
          for (int j = 0; j < kQkHeads; ++j) {
            const int g = half + 2 * j;
            if (g < kMaxGroup) {
              const float4 a = *reinterpret_cast<const float4*>(q_s + g * kDim + c * 8);
              const float4 b = *reinterpret_cast<const float4*>(q_s + g * kDim + c * 8 + 4);
              s[j] += a.x * k[0] + a.y * k[1] + a.z * k[2] + a.w * k[3] + b.x * k[4] + b.y * k[5] + b.z * k[6] +
                      b.w * k[7];
            }
          }
        }
      }
#pragma unroll
      for (int j = 0; j < kQkHeads; ++j) {
        const int g = half + 2 * j;
        if (g < kMaxGroup && g < p.group) {
          const float v = t < valid ? s[j] * p.scale_log2 : -INFINITY;
          p_s[g * kTileTokens + t] = v;
          if constexpr (kMass) {
            if (t < valid) {
              p.scores[(static_cast<int64_t>(seq) * p.num_heads + kv_head * p.group + g) * p.mass_stride + base + t] = v;
            }
          }
        }
      }
    }
    __syncthreads();
    // softmax statistics
    {
      const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
      for (int g = warp; g < p.group; g += kThreads / 32) {
        const float v0 = p_s[g * kTileTokens + lane], v1 = p_s[g * kTileTokens + lane + 32];
        const float m_old = m_s[g];
        const float m_new = fmaxf(m_old, warp_max(fmaxf(v0, v1)));  // finite: valid >= 1
        const float e0 = exp2f(v0 - m_new), e1 = exp2f(v1 - m_new);
        p_s[g * kTileTokens + lane] = e0;
        p_s[g * kTileTokens + lane + 32] = e1;
        const float sum = warp_sum(e0 + e1);
        // Every lane has read m_s[g] (m_old) before lane 0 overwrites it: the
        // shuffles order no shared-memory accesses, __syncwarp does.
        __syncwarp();
        if (lane == 0) {
          const float alpha = exp2f(m_old - m_new);  // 0 on the segment's first tile
          alpha_s[g] = alpha;
          l_s[g] = l_s[g] * alpha + sum;
          m_s[g] = m_new;
        }
      }
    }
    __syncthreads();
    // P.V
    const int chunk = threadIdx.x % G::kChunks, slice = threadIdx.x / G::kChunks;
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) {
      if (g < p.group) {
        const float a = alpha_s[g];
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] *= a;
      }
    }
#pragma unroll 2
    for (int t = slice; t < valid; t += G::kSlices) {
      float v[8];
      load_float8<T>(vs + t * kDim + chunk * 8, v);
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g) {
        const float w = g < p.group ? p_s[g * kTileTokens + t] : 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] += w * v[e];
      }
    }
  }

  // Runs local tiles [first, first + count) of (seq, kv_head) through the
  // pipeline, then sums the P.V slices into the stage memory: afterwards
  // reduced(g, d) gives the unnormalised output and m_s / l_s the statistics.
  __device__ void run(int seq, int kv_head, int64_t first, int64_t count) {
    const int len = p.context_lens[seq];
    begin_segment(seq, kv_head);
#pragma unroll
    for (int s = 0; s < G::kStages - 1; ++s) {
      if (s < count) load_tile(seq, kv_head, first + s, len, s);
      __pipeline_commit();
    }
    for (int64_t i = 0; i < count; ++i) {
      const int64_t ahead = i + G::kStages - 1;
      if (ahead < count) load_tile(seq, kv_head, first + ahead, len, static_cast<int>(ahead % G::kStages));
      __pipeline_commit();
      __pipeline_wait_prior(G::kStages - 1);
      __syncthreads();
      compute_tile(seq, kv_head, first + i, len, static_cast<int>(i % G::kStages));
      __syncthreads();
    }
    __pipeline_wait_prior(0);
    __syncthreads();
    float* red = reinterpret_cast<float*>(stages);  // [kSlices][kMaxGroup][kDim]
    static_assert(G::kSlices * kMaxGroup * kDim * sizeof(float) <= G::kStages * G::kStageElems * sizeof(T),
                  "reduction buffer fits in the stages");
    const int chunk = threadIdx.x % G::kChunks, slice = threadIdx.x / G::kChunks;
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) {
      float4* dst = reinterpret_cast<float4*>(red + (slice * kMaxGroup + g) * kDim + chunk * 8);
      dst[0] = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
      dst[1] = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
    }
    __syncthreads();
  }

  // Unnormalised output of head g, dim d, after run().
  __device__ float reduced(int g, int d) const {
    const float* red = reinterpret_cast<const float*>(stages);
    float o = 0.0f;
#pragma unroll
    for (int s = 0; s < G::kSlices; ++s) o += red[(s * kMaxGroup + g) * kDim + d];
    return o;
  }

  // Writes the normalised output of a finished (unsplit) pair and, with the
  // side output, its statistics.
  __device__ void write_final(int seq, int kv_head) const {
    const int64_t head0 = static_cast<int64_t>(seq) * p.num_heads + kv_head * p.group;
    for (int i = threadIdx.x; i < p.group * kDim; i += kThreads) {
      const int g = i / kDim, d = i % kDim;
      p.out[(head0 + g) * kDim + d] = reduced(g, d) / l_s[g];
    }
    if constexpr (kMass) {
      if (threadIdx.x < p.group) {
        p.head_stats[(head0 + threadIdx.x) * 2] = m_s[threadIdx.x];
        p.head_stats[(head0 + threadIdx.x) * 2 + 1] = l_s[threadIdx.x];
      }
    }
  }

  // Stores the segment's partial into `slot` ([group][kDim] output, then
  // [group] max, [group] sum).
  __device__ void write_partial(float* slot) const {
    for (int i = threadIdx.x; i < p.group * kDim; i += kThreads) slot[i] = reduced(i / kDim, i % kDim);
    if (threadIdx.x < p.group) {
      slot[p.group * kDim + threadIdx.x] = m_s[threadIdx.x];
      slot[p.group * kDim + p.group + threadIdx.x] = l_s[threadIdx.x];
    }
  }
};

// Merges `count` partials (slot_of(k) -> pointer) of one pair in order k =
// 0..count-1 and writes the output (and statistics). Reads through L2
// (__ldcg): the partials were written by other CTAs of the same launch.
template <int kDim, bool kMass, typename SlotOf>
__device__ void merge_partials(const Params& p, int seq, int kv_head, int count, SlotOf slot_of) {
  const int64_t head0 = static_cast<int64_t>(seq) * p.num_heads + kv_head * p.group;
  const int stats = p.group * kDim;
  for (int i = threadIdx.x; i < p.group * kDim; i += kThreads) {
    const int g = i / kDim;
    float m = -INFINITY;
    for (int k = 0; k < count; ++k) m = fmaxf(m, __ldcg(slot_of(k) + stats + g));
    float l = 0.0f, o = 0.0f;
    for (int k = 0; k < count; ++k) {
      const float* slot = slot_of(k);
      const float w = exp2f(__ldcg(slot + stats + g) - m);  // 0 for an empty partial (max -inf)
      l += w * __ldcg(slot + stats + p.group + g);
      o += w * __ldcg(slot + i);
    }
    p.out[head0 * kDim + i] = o / l;
    if constexpr (kMass) {
      if (i % kDim == 0) {
        p.head_stats[(head0 + g) * 2] = m;
        p.head_stats[(head0 + g) * 2 + 1] = l;
      }
    }
  }
}

}  // namespace kvs::kernels::cuda::decode
