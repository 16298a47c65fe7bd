// dot_quantized_tile_repacked(_k) (dot_repack.h). The integer block sums are
// exact, so any SIMD order gives the same integers; only the float steps
// follow llama.cpp's kernels.
#include "kernels/cpu/dot_repack.h"

#include <cmath>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/dot_k_avx2.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/k_block_sums.h"
#include "kernels/cpu/k_rows8.h"
#include "kernels/cpu/k_tile8.h"

namespace kvs::kernels {
namespace {

constexpr int8_t kQ4_0Values[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};

// The exact integer dot of one Q4_0 / IQ4_NL block (nibbles through `table`;
// low nibbles are elements 0..15, high nibbles 16..31) with 32 int8
// activations.
int32_t block_sum(const uint8_t* nibbles, const int8_t* table, const int8_t* x) {
#if defined(__AVX2__)
  const __m128i lut = _mm_loadu_si128(reinterpret_cast<const __m128i*>(table));
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(nibbles));
  const __m128i low = _mm_shuffle_epi8(lut, _mm_and_si128(packed, _mm_set1_epi8(0x0f)));
  const __m128i high = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f)));
  const __m256i w = _mm256_set_m128i(high, low);
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  // maddubs needs an unsigned operand: |w| * (x with w's sign); pairs fit int16.
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w));
  return detail::k_decode::sum_lanes(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
#else
  int32_t sum = 0;
  for (int j = 0; j < kQuantBlock / 2; ++j) {
    sum += table[nibbles[j] & 0x0f] * x[j] + table[nibbles[j] >> 4] * x[j + kQuantBlock / 2];
  }
  return sum;
#endif
}

}  // namespace

bool llamacpp_repacks(WeightFormat format, int64_t num_rows) {
  if (num_rows % 8 != 0) return false;
  switch (format) {
#if defined(__AVX2__)
    case WeightFormat::Q4_0:
    case WeightFormat::IQ4_NL:
    case WeightFormat::Q4_K: return true;
#endif
#if defined(__AVX512F__)
    case WeightFormat::Q2_K: return true;
#endif
    default: return false;
  }
}

void dot_quantized_tile_repacked(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                 const ActivationBlockQ8* x, int64_t num_tokens, int64_t num_blocks, float* out,
                                 int64_t out_stride) {
  static_assert(sizeof(BlockQ4_0) == sizeof(BlockIQ4_NL), "one block walk for both formats");
  const int8_t* table = format == WeightFormat::IQ4_NL ? kIQ4NLValues : kQ4_0Values;
  for (int64_t r = 0; r < num_rows; ++r) {
    const auto* blocks = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(w_rows) + r * row_bytes);
    for (int64_t t = 0; t < num_tokens; ++t) {
      const ActivationBlockQ8* xt = x + t * num_blocks;
      float y = 0.0f;
      for (int64_t b = 0; b < num_blocks; ++b) {
        const float scale = fp16_to_fp32(blocks[b].d) * xt[b].d;
        y = std::fma(static_cast<float>(block_sum(blocks[b].q, table, xt[b].q)), scale, y);
      }
      out[t * out_stride + r] = y;
    }
  }
}

namespace {

// Rows [0, num_rows) one at a time: y and m per (row, token), `chunks` 32-element
// chunks per float step for the first gemm_tokens tokens, a whole block after.
void repacked_rows_one_by_one(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                              const ActivationBlockQ8K* x, int64_t num_tokens, int64_t gemm_tokens,
                              int64_t num_blocks, int gemm_chunks, float* out, int64_t out_stride, float* mins,
                              int64_t mins_stride) {
  detail::for_each_k_block(
      format, w_rows, row_bytes, num_rows, x, num_tokens, num_blocks,
      [&](int64_t r, int64_t t, const detail::DecodedKBlock& w, const ActivationBlockQ8K& xb) {
        float& y = out[t * out_stride + r];
        float& m = mins[t * mins_stride + r];
        const float scale = w.d * xb.d, min_scale = w.dmin * xb.d;
        const int chunks = t < gemm_tokens ? gemm_chunks : 8;  // per float step
        int32_t s1[8], s2[8];
        detail::k_chunk_sums(w, xb, s1, s2);
        for (int c0 = 0; c0 < 8; c0 += chunks) {
          int32_t scaled = 0, min_sum = 0;
          for (int c = c0; c < c0 + chunks; ++c) scaled += s1[c], min_sum += s2[c];
          y = std::fma(static_cast<float>(scaled), scale, y);
          m = std::fma(static_cast<float>(min_sum), min_scale, m);
        }
      });
}

#ifdef KVS_K_ROWS8
// Rows [0, L::kRows): the same operations per row, the rows in the lanes.
template <class L>
void repacked_lane_rows(WeightFormat format, const uint8_t* w_rows, size_t row_bytes, const ActivationBlockQ8K* x,
                        int64_t num_tokens, int64_t gemm_tokens, int64_t num_blocks, int gemm_chunks, float* out,
                        int64_t out_stride, float* mins, int64_t mins_stride) {
  using I = typename L::I;
  using F = typename L::F;
  thread_local detail::DecodedKRows<L::kRows> w;
  for (int64_t b = 0; b < num_blocks; ++b) {
    detail::decode_k_rows<L::kRows>(format, w_rows, row_bytes, b, &w);
    const F d = L::loadf_aligned(w.d), dmin = L::loadf_aligned(w.dmin);
    for (int64_t t = 0; t < num_tokens; ++t) {
      const ActivationBlockQ8K& xb = x[t * num_blocks + b];
      const F xd = L::setf(xb.d);
      const F scale = L::mul(d, xd), min_scale = L::mul(dmin, xd);
      I s1[8], s2[8];
      detail::k_rows_chunk_sums<L>(w, xb, s1, s2);
      float* yp = out + t * out_stride;
      float* mp = mins + t * mins_stride;
      F y = L::loadf(yp), m = L::loadf(mp);
      const int chunks = t < gemm_tokens ? gemm_chunks : 8;
      for (int c0 = 0; c0 < 8; c0 += chunks) {
        I scaled = s1[c0], min_sum = s2[c0];
        for (int c = c0 + 1; c < c0 + chunks; ++c) {
          scaled = L::add(scaled, s1[c]);
          min_sum = L::add(min_sum, s2[c]);
        }
        y = L::fmadd(L::to_float(scaled), scale, y);
        m = L::fmadd(L::to_float(min_sum), min_scale, m);
      }
      L::storef(yp, y);
      L::storef(mp, m);
    }
  }
}
#endif

#ifdef KVS_K_TILE8
// Rows [0, 8H) of format F (H: 1 or 2 tiles of 8 rows): the same operations
// per row and token as repacked_lane_rows<Lanes8>, the integer sums 4 (H = 1)
// or 2 (H = 2) tokens at a time (k_tile8.h). Writes the rows' outputs whole
// (y - m); `mins`: scratch for 8H * num_tokens floats.
template <WeightFormat F, int H>
void repacked_tile8_rows(const uint8_t* w_rows, size_t row_bytes, const ActivationBlockQ8K* x, int64_t num_tokens,
                         int64_t gemm_tokens, int64_t num_blocks, float* out, int64_t out_stride, float* mins) {
  // float steps per block: the GEMM's 64 (Q4_K) or 128 (Q2_K) elements, the GEMV's whole block
  constexpr int kGemmSteps = F == WeightFormat::Q2_K ? 2 : 4;
  using GemmSteps = std::integral_constant<int, kGemmSteps>;
  using GemvSteps = std::integral_constant<int, 1>;
  using One = std::integral_constant<int, 1>;
  detail::DecodedK8Tile w[H];  // on the stack: a thread_local costs a TLS look-up per use in PIC code
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int i = 0; i < H; ++i) detail::decode_k8_tile(F, w_rows + 8 * i * row_bytes, row_bytes, b, &w[i]);
    // tokens t0 .. t0 + T - 1, each with G float steps
    const auto tokens_steps = [&](auto tokens, auto steps, int64_t t0) {
      constexpr int T = decltype(tokens)::value, G = decltype(steps)::value;
      const ActivationBlockQ8K* xb[T];
      for (int t = 0; t < T; ++t) xb[t] = x + (t0 + t) * num_blocks + b;
      __m256i s1[T * H][G], s2[T * H][G];
      detail::k8_tile_sums<F, T, G, H>(w, xb, s1, s2);
      for (int t = 0; t < T; ++t) {
        const __m256 xd = _mm256_set1_ps(xb[t]->d);
        for (int i = 0; i < H; ++i) {
          // d, dmin from memory: held in registers across the tokens they would crowd the sums out
          const __m256 scale = _mm256_mul_ps(_mm256_load_ps(w[i].d), xd);
          const __m256 min_scale = _mm256_mul_ps(_mm256_load_ps(w[i].dmin), xd);
          float* yp = out + (t0 + t) * out_stride + 8 * i;
          float* mp = mins + ((t0 + t) * H + i) * 8;
          // y, m start at +0 (fma(a, b, +0) is what the zeroed accumulators gave)
          __m256 y = _mm256_setzero_ps(), m = _mm256_setzero_ps();
          if (b > 0) y = _mm256_loadu_ps(yp), m = _mm256_loadu_ps(mp);
          for (int g = 0; g < G; ++g) {
            y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1[H * t + i][g]), scale, y);
            m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s2[H * t + i][g]), min_scale, m);
          }
          _mm256_storeu_ps(yp, y);
          _mm256_storeu_ps(mp, m);
        }
      }
    };
    detail::for_token_groups<H == 1 ? 4 : 2>(num_tokens, [&](auto tokens, int64_t t0) {
      constexpr int T = decltype(tokens)::value;
      if (t0 + T <= gemm_tokens) {
        tokens_steps(tokens, GemmSteps{}, t0);
      } else if (t0 >= gemm_tokens) {
        tokens_steps(tokens, GemvSteps{}, t0);
      } else {  // the group straddles the GEMM's last token
        for (int64_t t = t0; t < t0 + T; ++t) {
          if (t < gemm_tokens) {
            tokens_steps(One{}, GemmSteps{}, t);
          } else {
            tokens_steps(One{}, GemvSteps{}, t);
          }
        }
      }
    });
  }
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int i = 0; i < H; ++i) {
      float* yp = out + t * out_stride + 8 * i;
      _mm256_storeu_ps(yp, _mm256_sub_ps(_mm256_loadu_ps(yp), _mm256_loadu_ps(mins + (t * H + i) * 8)));
    }
  }
}
#endif

}  // namespace

void dot_quantized_tile_repacked_k(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                   const ActivationBlockQ8K* x, int64_t num_tokens, int64_t gemm_tokens,
                                   int64_t num_blocks, float* out, int64_t out_stride) {
  // Chunks of 32 elements per float step: the GEMV steps once per block, the
  // GEMM per 64 (Q4_K) or 128 (Q2_K) elements.
  const int gemm_chunks = format == WeightFormat::Q2_K ? 4 : 2;
  const auto* rows = static_cast<const uint8_t*>(w_rows);
#ifdef KVS_K_TILE8
  if (num_tokens > 1 && num_rows >= 8) {  // 8 rows at a time, then the rest alone (below)
    thread_local std::vector<float> tile_mins;
    tile_mins.resize(static_cast<size_t>(16 * num_tokens));
    int64_t r0 = 0;
    const bool done = detail::with_k_format(format, [&](auto f) {
      constexpr WeightFormat kFormat = decltype(f)::value;
      for (; detail::k_tile8_traits(kFormat).tiles == 2 && r0 + 16 <= num_rows; r0 += 16) {
        repacked_tile8_rows<kFormat, 2>(rows + r0 * row_bytes, row_bytes, x, num_tokens, gemm_tokens, num_blocks,
                                        out + r0, out_stride, tile_mins.data());
      }
      for (; r0 + 8 <= num_rows; r0 += 8) {
        repacked_tile8_rows<kFormat, 1>(rows + r0 * row_bytes, row_bytes, x, num_tokens, gemm_tokens, num_blocks,
                                        out + r0, out_stride, tile_mins.data());
      }
    });
    if (done) {
      if (r0 < num_rows) {
        dot_quantized_tile_repacked_k(format, rows + r0 * row_bytes, row_bytes, num_rows - r0, x, num_tokens,
                                      gemm_tokens, num_blocks, out + r0, out_stride);
      }
      return;
    }
  }
#endif
  thread_local std::vector<float> mins;  // the mins accumulator, [token][row]
  mins.assign(static_cast<size_t>(num_rows * num_tokens), 0.0f);
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t t = 0; t < num_tokens; ++t) out[t * out_stride + r] = 0.0f;
  }
#ifdef KVS_DOT_AVX2
  if (num_tokens == 1 && gemm_tokens == 0) {  // the GEMV alone: block sums straight from the packed blocks
    const size_t block_bytes = format_block_bytes(format);
    for (int64_t r = 0; r < num_rows; ++r) {
      float y = 0.0f, m = 0.0f;
      for (int64_t b = 0; b < num_blocks; ++b) {
        const uint8_t* block = rows + r * row_bytes + b * block_bytes;
        int32_t s1, s2;
        float d, dmin;
        if (format == WeightFormat::Q2_K) {
          const auto& w = *reinterpret_cast<const BlockQ2_K*>(block);
          detail::block_sums_q2_k_avx2(w, x[b], &s1, &s2);
          d = fp16_to_fp32(w.d), dmin = fp16_to_fp32(w.dmin);
        } else {
          const auto& w = *reinterpret_cast<const BlockQ4_K*>(block);
          detail::block_sums_q4_k_avx2(w, x[b], &s1, &s2);
          d = fp16_to_fp32(w.d), dmin = fp16_to_fp32(w.dmin);
        }
        y = std::fma(static_cast<float>(s1), d * x[b].d, y);
        m = std::fma(static_cast<float>(s2), dmin * x[b].d, m);
      }
      out[r] = y - m;
    }
    return;
  }
#endif
  int64_t r0 = 0;
#ifdef KVS_K_ROWS8
  if (num_tokens > 1) {  // one token: no reuse to pay for the interleaving
#ifdef KVS_K_ROWS16
    for (; r0 + 16 <= num_rows; r0 += 16) {
      repacked_lane_rows<detail::Lanes16>(format, rows + r0 * row_bytes, row_bytes, x, num_tokens, gemm_tokens,
                                          num_blocks, gemm_chunks, out + r0, out_stride, mins.data() + r0, num_rows);
    }
#endif
    for (; r0 + 8 <= num_rows; r0 += 8) {
      repacked_lane_rows<detail::Lanes8>(format, rows + r0 * row_bytes, row_bytes, x, num_tokens, gemm_tokens,
                                         num_blocks, gemm_chunks, out + r0, out_stride, mins.data() + r0, num_rows);
    }
  }
#endif
  repacked_rows_one_by_one(format, rows + r0 * row_bytes, row_bytes, num_rows - r0, x, num_tokens, gemm_tokens,
                           num_blocks, gemm_chunks, out + r0, out_stride, mins.data() + r0, num_rows);
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t t = 0; t < num_tokens; ++t) {
      out[t * out_stride + r] = out[t * out_stride + r] - mins[static_cast<size_t>(t * num_rows + r)];
    }
  }
}

}  // namespace kvs::kernels
