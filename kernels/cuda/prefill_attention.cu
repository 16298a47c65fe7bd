#include "kernels/cuda/prefill_attention.h"

#include <cuda_bf16.h>

#include "kernels/cuda/bf16_util.cuh"
#include "kernels/cuda/fp8_util.cuh"
#include "kernels/cuda/per_device_cache.h"

namespace kvs::kernels::cuda {
namespace {

constexpr int kBlockM = 64;  // query rows per CTA
constexpr int kBlockN = 64;  // KV tokens per tile
constexpr int kWarps = 4;    // each owns 16 query rows
constexpr int kThreads = kWarps * 32;

template <int D>
struct Tile {
  static constexpr int kStride = D + 8;  // bf16 per shared row; +16 bytes keeps ldmatrix conflict-free
  static constexpr int kElems = kBlockM * kStride;
  // Q, then K and V for two pipeline stages.
  static constexpr int kSharedBytes = 5 * kElems * 2;
  static constexpr int kChunks = D / 8;  // 16-byte chunks per row
};

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; when !valid the destination is zero-filled (src not read).
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)), "l"(src),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p)));
}

// c += a (16x16 bf16, row) * b (16x8 bf16, col), fp32 accumulate.
__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low half) = lo
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Eight fp8 E4M3 values (8 bytes) as eight bf16 (16 bytes), exact.
__device__ __forceinline__ uint4 fp8x8_to_bf16x8(uint2 x) {
  return make_uint4(fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.x & 0xFFFFu)),
                    fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.x >> 16)),
                    fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.y & 0xFFFFu)),
                    fp8x2_e4m3_to_bf16x2(static_cast<uint16_t>(x.y >> 16)));
}

// Fragment layouts (PTX ISA, mma.m16n8k16): lane = 4 * g + t. A regs: (row g,
// cols 2t..2t+1), (row g+8, same), (row g, cols 2t+8..), (row g+8, cols
// 2t+8..). B regs: (k 2t..2t+1, col g), (k 2t+8.., col g). C: (row g, cols
// 2t..2t+1), (row g+8, same).
// kFp8: the cache holds fp8 E4M3; each K/V row chunk is loaded (8 bytes),
// widened to bf16 in registers and stored into the same bf16 shared tiles
// (synchronously: no cp.async for K/V), so the tensor-core code is shared.
template <int D, bool kFp8>
__global__ void __launch_bounds__(kThreads) prefill_attention_kernel(PrefillAttentionArgs a, float scale_log2) {
  using T = Tile<D>;
  extern __shared__ __align__(16) uint16_t shared[];
  uint16_t* s_q = shared;
  auto s_k = [&](int stage) { return shared + (1 + stage) * T::kElems; };
  auto s_v = [&](int stage) { return shared + (3 + stage) * T::kElems; };

  const int m_tile = gridDim.x - 1 - blockIdx.x;  // the longest (causal) tiles start first
  const int head = blockIdx.y, seq = blockIdx.z;
  const int q_begin = a.cu_query_lens[seq];
  const int q_len = a.cu_query_lens[seq + 1] - q_begin;
  if (m_tile * kBlockM >= q_len) return;
  const int context_len = a.context_lens[seq];
  const int first_pos = context_len - q_len;  // position of the sequence's first query
  if (first_pos < 0) return;                  // contract violation: nothing sensible to compute
  const int kv_head = head / static_cast<int>(a.num_heads / a.num_kv_heads);
  const int rows_here = min(kBlockM, q_len - m_tile * kBlockM);
  const int tile_first_pos = first_pos + m_tile * kBlockM;
  const int key_end = tile_first_pos + rows_here;  // this tile's queries see keys [0, key_end)
  const int num_kv_tiles = (key_end + kBlockN - 1) / kBlockN;
  const int32_t* table = a.block_tables + static_cast<int64_t>(seq) * a.max_blocks_per_seq;
  const int block_size = static_cast<int>(a.block_size);
  const int64_t kv_row = a.num_kv_heads * D;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  // Q tile (rows past the sequence zero-filled).
  const uint16_t* q_base = a.q + static_cast<int64_t>(q_begin + m_tile * kBlockM) * a.q_row_stride + head * D;
  for (int c = tid; c < kBlockM * T::kChunks; c += kThreads) {
    const int row = c / T::kChunks, col = (c % T::kChunks) * 8;
    const bool valid = row < rows_here;
    cp_async_16(s_q + row * T::kStride + col, valid ? q_base + row * a.q_row_stride + col : a.q, valid);
  }
  auto load_kv = [&](int tile, int stage) {
    uint16_t* dst_k = s_k(stage);
    uint16_t* dst_v = s_v(stage);
    for (int c = tid; c < kBlockN * T::kChunks; c += kThreads) {
      const int row = c / T::kChunks, col = (c % T::kChunks) * 8;
      const int p = tile * kBlockN + row;
      const bool valid = p < key_end;
      int64_t offset = 0;
      if (valid) {
        const int64_t slot = static_cast<int64_t>(table[p / block_size]) * block_size + p % block_size;
        offset = slot * kv_row + kv_head * D + col;
      }
      if constexpr (kFp8) {
        const auto* k8 = static_cast<const uint8_t*>(a.k_cache);
        const auto* v8 = static_cast<const uint8_t*>(a.v_cache);
        const uint2 zero = make_uint2(0, 0);
        *reinterpret_cast<uint4*>(dst_k + row * T::kStride + col) =
            fp8x8_to_bf16x8(valid ? *reinterpret_cast<const uint2*>(k8 + offset) : zero);
        *reinterpret_cast<uint4*>(dst_v + row * T::kStride + col) =
            fp8x8_to_bf16x8(valid ? *reinterpret_cast<const uint2*>(v8 + offset) : zero);
      } else {
        cp_async_16(dst_k + row * T::kStride + col, static_cast<const uint16_t*>(a.k_cache) + offset, valid);
        cp_async_16(dst_v + row * T::kStride + col, static_cast<const uint16_t*>(a.v_cache) + offset, valid);
      }
    }
  };
  load_kv(0, 0);
  cp_async_commit();  // group 0: Q and KV tile 0

  const int g = lane / 4, t4 = lane % 4;
  uint32_t q_frag[D / 16][4];
  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};

  for (int j = 0; j < num_kv_tiles; ++j) {
    const int stage = j & 1;
    if (j + 1 < num_kv_tiles) load_kv(j + 1, stage ^ 1);
    cp_async_commit();  // possibly empty: keeps the wait count uniform
    cp_async_wait<1>();
    __syncthreads();
    if (j == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const int row = warp * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
        const int col = kk * 16 + (lane / 16) * 8;
        ldmatrix_x4(q_frag[kk], s_q + row * T::kStride + col);
      }
    }
    // S = Q K^T for this warp's 16 rows x 64 keys.
    const uint16_t* k_tile = s_k(stage);
    float s[kBlockN / 8][4];
#pragma unroll
    for (int n = 0; n < kBlockN / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int n2 = 0; n2 < kBlockN / 16; ++n2) {
        uint32_t b[4];
        const int key = n2 * 16 + (lane % 8) + (lane / 16) * 8;
        const int col = kk * 16 + ((lane / 8) % 2) * 8;
        ldmatrix_x4(b, k_tile + key * T::kStride + col);
        mma_bf16(s[2 * n2], q_frag[kk], b[0], b[1]);
        mma_bf16(s[2 * n2 + 1], q_frag[kk], b[2], b[3]);
      }
    }
    // Scale to base 2, causal mask, online softmax.
    const bool needs_mask = j * kBlockN + kBlockN - 1 > tile_first_pos;
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kBlockN / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float v = s[n][e] * scale_log2;
        if (needs_mask) {
          const int key = j * kBlockN + n * 8 + 2 * t4 + (e % 2);
          const int query_pos = tile_first_pos + warp * 16 + g + (e / 2) * 8;
          if (key > query_pos) v = -INFINITY;
        }
        s[n][e] = v;
        tile_max[e / 2] = fmaxf(tile_max[e / 2], v);
      }
    }
    float alpha[2], base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float new_max = fmaxf(row_max[r], tile_max[r]);
      base[r] = new_max == -INFINITY ? 0.0f : new_max;  // a row with nothing visible yet
      alpha[r] = exp2f(row_max[r] - base[r]);
      row_max[r] = new_max;
    }
    float tile_sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int n = 0; n < kBlockN / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[n][e] = exp2f(s[n][e] - base[e / 2]);
        tile_sum[e / 2] += s[n][e];
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) row_sum[r] = row_sum[r] * alpha[r] + tile_sum[r];
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      o[n][0] *= alpha[0];
      o[n][1] *= alpha[0];
      o[n][2] *= alpha[1];
      o[n][3] *= alpha[1];
    }
    // O += P V: P's C fragments become A fragments (bf16), V via ldmatrix.trans.
    const uint16_t* v_tile = s_v(stage);
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk) {
      uint32_t p_frag[4];
      p_frag[0] = pack_bf16x2(s[2 * kk][0], s[2 * kk][1]);
      p_frag[1] = pack_bf16x2(s[2 * kk][2], s[2 * kk][3]);
      p_frag[2] = pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      p_frag[3] = pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int n2 = 0; n2 < D / 16; ++n2) {
        uint32_t b[4];
        const int key = kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
        const int col = n2 * 16 + (lane / 16) * 8;
        ldmatrix_x4_trans(b, v_tile + key * T::kStride + col);
        mma_bf16(o[2 * n2], p_frag, b[0], b[1]);
        mma_bf16(o[2 * n2 + 1], p_frag, b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with this stage before it is refilled
  }
  cp_async_wait<0>();

  // Normalise and store this warp's rows.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float sum = row_sum[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
    const int row = warp * 16 + g + r * 8;
    if (row >= rows_here) continue;
    uint16_t* dst = a.out + static_cast<int64_t>(q_begin + m_tile * kBlockM + row) * a.out_row_stride + head * D;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      const int col = n * 8 + 2 * t4;
      dst[col] = float_to_bf16(o[n][2 * r] * inverse);
      dst[col + 1] = float_to_bf16(o[n][2 * r + 1] * inverse);
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Raises the kernel's dynamic shared memory limit above the default 48 KB,
// once per device (cached; later launches only look it up).
template <int D, bool kFp8>
Status set_up_instance() {
  constexpr int bytes = Tile<D>::kSharedBytes;
  if constexpr (bytes <= 48 * 1024) {
    return Status::success();
  } else {
    static PerDeviceCache<bool> cache;
    bool ready = false;
    return cache.get(
        [](int, bool* done) {
          const cudaError_t error =
              cudaFuncSetAttribute(prefill_attention_kernel<D, kFp8>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
          if (error != cudaSuccess) {
            cudaGetLastError();  // not sticky: clear it
            return Status::unsupported(std::string("cuda prefill_attention: shared memory: ") +
                                       cudaGetErrorString(error));
          }
          *done = true;
          return Status::success();
        },
        &ready);
  }
}

template <int D, bool kFp8>
Status launch(const PrefillAttentionArgs& a, cudaStream_t stream) {
  constexpr int bytes = Tile<D>::kSharedBytes;
  if (Status st = set_up_instance<D, kFp8>(); !st.ok()) return st;
  const dim3 grid(static_cast<unsigned>((a.max_query_len + kBlockM - 1) / kBlockM),
                  static_cast<unsigned>(a.num_heads), static_cast<unsigned>(a.num_seqs));
  const float scale_log2 = a.scale * 1.4426950408889634f;
  prefill_attention_kernel<D, kFp8><<<grid, kThreads, bytes, stream>>>(a, scale_log2);
  return launch_status("cuda prefill_attention");
}

}  // namespace

Status prefill_attention(const PrefillAttentionArgs& a, cudaStream_t stream) {
  if (a.num_seqs < 0 || a.max_query_len < 0) return Status::invalid("cuda prefill_attention: bad batch");
  if (a.num_seqs == 0 || a.max_query_len == 0) return Status::success();
  if (a.q == nullptr || a.out == nullptr || a.k_cache == nullptr || a.v_cache == nullptr ||
      a.cu_query_lens == nullptr || a.context_lens == nullptr || a.block_tables == nullptr) {
    return Status::invalid("cuda prefill_attention: null pointer");
  }
  if (a.num_kv_heads <= 0 || a.num_heads <= 0 || a.num_heads % a.num_kv_heads != 0 || a.block_size <= 0 ||
      a.num_blocks <= 0 || a.max_blocks_per_seq <= 0) {
    return Status::invalid("cuda prefill_attention: bad shape");
  }
  if (a.q_row_stride < a.num_heads * a.head_dim || a.out_row_stride < a.num_heads * a.head_dim) {
    return Status::invalid("cuda prefill_attention: row stride below num_heads * head_dim");
  }
  if (a.num_heads > 65535 || a.num_seqs > 65535 || a.max_query_len > INT32_MAX) {
    return Status::unsupported("cuda prefill_attention: more than 65535 heads or sequences");
  }
  // NOTE: head_dim 256 does not fit this design (Q, K and V tiles of 64 rows:
  // 165 KB of shared memory, over sm_80's limit; o + q fragments alone 192
  // registers per thread): Unsupported, the engine falls back.
  if (a.head_dim != 64 && a.head_dim != 128) {
    return Status::unsupported("cuda prefill_attention: head_dim " + std::to_string(a.head_dim) +
                               " (supported: 64, 128)");
  }
  if (a.kv_dtype != KvDType::BF16 && a.kv_dtype != KvDType::FP8_E4M3) {
    return Status::unsupported(std::string("cuda prefill_attention: KV dtype ") + kv_dtype_name(a.kv_dtype) +
                               " (supported: bf16, fp8_e4m3)");
  }
  if (a.q_row_stride % 8 != 0 || !aligned16(a.q) || !aligned16(a.k_cache) || !aligned16(a.v_cache)) {
    return Status::unsupported("cuda prefill_attention: q row stride must be a multiple of 8, q/k/v 16-byte aligned");
  }
  if (a.kv_dtype == KvDType::FP8_E4M3) return a.head_dim == 64 ? launch<64, true>(a, stream) : launch<128, true>(a, stream);
  return a.head_dim == 64 ? launch<64, false>(a, stream) : launch<128, false>(a, stream);
}

}  // namespace kvs::kernels::cuda
