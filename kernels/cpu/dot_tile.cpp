#include "kernels/cpu/dot_tile.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_k.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/half.h"

namespace kvs::kernels {

#ifdef KVS_DOT_AVX2
#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__) && defined(__AVX512DQ__)
// 512-bit registers hold two tokens' 8-lane accumulators (micro_tile2 below).
#define KVS_TILE_512 1
#endif
namespace {

using simd::dot_unsigned_signed;

// One weight block unpacked for reuse across tokens, per format. products()
// yields the same 8 int32 lanes (as floats) as the integer part of dot_q4_1 /
// dot_q4_0 / dot_q8_0 in dot.cpp; prepare() maps a token's quantized block to
// the operand products() takes (once per token, shared by all rows).
struct Q4_1Traits {
  using Block = BlockQ4_1;
  static constexpr bool kOffsets = true;
  struct Unpacked {
    __m256i u;
    float d, m;
  };
  static Unpacked unpack(const Block& b) {
    return {simd::unpack_nibbles(b.q), fp16_to_fp32(b.d), fp16_to_fp32(b.m)};
  }
  static __m256i prepare(__m256i xq) { return xq; }
  static __m256 products(const Unpacked& w, __m256i xq) { return dot_unsigned_signed(w.u, xq); }
#ifdef KVS_TILE_512
  // Two tokens at once (the 256-bit halves of a 512-bit register): the same
  // integer lanes per half as products().
  struct Wide {
    __m512i u;
  };
  static Wide widen(const Unpacked& w) { return {_mm512_broadcast_i64x4(w.u)}; }
  static __m512 products2(const Wide& w, __m512i x2) {
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w.u, x2));
  }
#endif
};

// Q5_1: Q4_1 with a fifth bit per code (dot_q5_1_avx2's integers and floats).
struct Q5_1Traits : Q4_1Traits {
  using Block = BlockQ5_1;
  static Unpacked unpack(const Block& b) {
    return {_mm256_or_si256(simd::unpack_nibbles(b.q), simd::high_bits_times_16(b.qh)), fp16_to_fp32(b.d),
            fp16_to_fp32(b.m)};
  }
};

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
// Signed weights with VNNI: (x + 128) * w - 128 * w, the bias folded into
// dpbusd's accumulator. Every lane is the exact integer sum of x * w, as
// maddubs' |w| * sign(x, w) is for activations in [-127, 127].
struct SignedTraitsBase {
  static constexpr bool kOffsets = false;
  struct Unpacked {
    __m256i w, bias;
    float d, m;
  };
  static Unpacked make(__m256i wq, uint16_t d) {
    const __m256i bias = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(-128), wq);
    return {wq, _mm256_sub_epi32(_mm256_setzero_si256(), bias), fp16_to_fp32(d), 0.0f};
  }
  static __m256i prepare(__m256i xq) { return _mm256_xor_si256(xq, _mm256_set1_epi8(-128)); }
  static __m256 products(const Unpacked& w, __m256i x_biased) {
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(w.bias, x_biased, w.w));
  }
#ifdef KVS_TILE_512
  struct Wide {
    __m512i w, bias;
  };
  static Wide widen(const Unpacked& w) { return {_mm512_broadcast_i64x4(w.w), _mm512_broadcast_i64x4(w.bias)}; }
  static __m512 products2(const Wide& w, __m512i x2_biased) {
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(w.bias, x2_biased, w.w));
  }
#endif
};
#else
struct SignedTraitsBase {
  static constexpr bool kOffsets = false;
  struct Unpacked {
    __m256i magnitude, sign;
    float d, m;
  };
  static Unpacked make(__m256i wq, uint16_t d) {
    return {_mm256_sign_epi8(wq, wq), wq, fp16_to_fp32(d), 0.0f};
  }
  static __m256i prepare(__m256i xq) { return xq; }
  // maddubs needs an unsigned operand: |w| * (x with w's sign).
  static __m256 products(const Unpacked& w, __m256i xq) {
    return dot_unsigned_signed(w.magnitude, _mm256_sign_epi8(xq, w.sign));
  }
};
#endif

struct Q4_0Traits : SignedTraitsBase {
  using Block = BlockQ4_0;
  static Unpacked unpack(const Block& b) {
    return make(_mm256_sub_epi8(simd::unpack_nibbles(b.q), _mm256_set1_epi8(8)), b.d);
  }
};

// Q5_0: five-bit codes minus 16 (dot_q5_0_avx2's integers and floats).
struct Q5_0Traits : SignedTraitsBase {
  using Block = BlockQ5_0;
  static Unpacked unpack(const Block& b) {
    const __m256i codes = _mm256_or_si256(simd::unpack_nibbles(b.q), simd::high_bits_times_16(b.qh));
    return make(_mm256_sub_epi8(codes, _mm256_set1_epi8(16)), b.d);
  }
};

struct Q8_0Traits : SignedTraitsBase {
  using Block = BlockQ8_0;
  static Unpacked unpack(const Block& b) {
    return make(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q)), b.d);
  }
};

// Lane t (< T) of the result: `field` of token t's block b; other lanes 0.
template <int T>
inline __m256 gather_tokens(const ActivationBlockQ8* x, int64_t num_blocks, int64_t b,
                            float ActivationBlockQ8::*field) {
  const auto lane = [&](int t) { return t < T ? x[t * num_blocks + b].*field : 0.0f; };
  return _mm256_setr_ps(lane(0), lane(1), lane(2), lane(3), lane(4), lane(5), lane(6), lane(7));
}

// R rows x T (<= 8) tokens, all blocks. Per (row, token) pair the float
// operations and their order are exactly those of the single-pair kernel:
// lane t of the vector products below (w.d * x.d, fma(w.m, x.d_times_sum, .))
// is the same IEEE operation on the same operands as its scalar form.
template <class Traits, int R, int T>
void micro_tile(const uint8_t* w, size_t row_bytes, const ActivationBlockQ8* x, int64_t num_blocks,
                float* out, int64_t out_stride) {
  static_assert(T >= 1 && T <= 8, "token lanes live in one 8-float vector");
  using Block = typename Traits::Block;
  __m256 acc[R][T];
  __m256 offsets[R];  // lane t: token t's offset sum (Q4_1)
  for (int r = 0; r < R; ++r) {
    offsets[r] = _mm256_setzero_ps();
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < num_blocks; ++b) {
    const __m256 xd = gather_tokens<T>(x, num_blocks, b, &ActivationBlockQ8::d);
    __m256 xs;
    if constexpr (Traits::kOffsets) xs = gather_tokens<T>(x, num_blocks, b, &ActivationBlockQ8::d_times_sum);
    typename Traits::Unpacked wb[R];
    __m256 scales[R];  // lane t: w.d * token t's x.d
    for (int r = 0; r < R; ++r) {
      wb[r] = Traits::unpack(reinterpret_cast<const Block*>(w + r * row_bytes)[b]);
      scales[r] = _mm256_mul_ps(_mm256_set1_ps(wb[r].d), xd);
      if constexpr (Traits::kOffsets) offsets[r] = _mm256_fmadd_ps(_mm256_set1_ps(wb[r].m), xs, offsets[r]);
    }
    for (int t = 0; t < T; ++t) {
      const __m256i xq =
          Traits::prepare(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[t * num_blocks + b].q)));
      for (int r = 0; r < R; ++r) {
        const __m256 products = Traits::products(wb[r], xq);
        const __m256 scale = _mm256_permutevar8x32_ps(scales[r], _mm256_set1_epi32(t));
        acc[r][t] = _mm256_fmadd_ps(products, scale, acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    alignas(32) float offset_lanes[8];
    _mm256_store_ps(offset_lanes, offsets[r]);
    for (int t = 0; t < T; ++t) {
      // Q4_0 / Q8_0 return the bare sum (adding 0.0f would turn -0 into +0).
      float value = simd::horizontal_sum(acc[r][t]);
      if constexpr (Traits::kOffsets) value += offset_lanes[t];
      out[t * out_stride + r] = value;
    }
  }
}

#ifdef KVS_TILE_512
// micro_tile<Traits, R, 8> with tokens 2i and 2i + 1 in the low and high
// halves of one 512-bit accumulator: every lane sees the same operations on
// the same operands as in micro_tile (the same integer products, the same
// scale w.d * x.d, the same fused multiply-add, the same 8-lane horizontal
// sum of each half), two pairs per instruction.
//
// `wu` holds the R rows' blocks already unpacked (wu[r * num_blocks + b]) and
// `xp` the 8 tokens' blocks prepared as pairs (PreparedX8), both once per
// call (tile_512), so the inner loop only loads them.
template <class Traits>
struct PreparedX8 {
  __m512i x2[4];  // pair i: token 2i's prepared block in the low half, token 2i + 1's in the high half
  __m512 xd2[4];  // pair i: token 2i's x.d in the low half, token 2i + 1's in the high half
  __m256 xs;      // lane t: token t's d_times_sum (formats with offsets)
  static PreparedX8 make(const ActivationBlockQ8* x, int64_t num_blocks, int64_t b) {
    PreparedX8 p;
    if constexpr (Traits::kOffsets) {
      p.xs = gather_tokens<8>(x, num_blocks, b, &ActivationBlockQ8::d_times_sum);
    } else {
      p.xs = _mm256_setzero_ps();
    }
    for (int i = 0; i < 4; ++i) {
      const ActivationBlockQ8& lo = x[2 * i * num_blocks + b];
      const ActivationBlockQ8& hi = x[(2 * i + 1) * num_blocks + b];
      const auto load = [](const ActivationBlockQ8& xb) {
        return Traits::prepare(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q)));
      };
      p.x2[i] = _mm512_inserti64x4(_mm512_castsi256_si512(load(lo)), load(hi), 1);
      p.xd2[i] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(lo.d)), _mm256_set1_ps(hi.d), 1);
    }
    return p;
  }
};

template <class Traits, int R>
void micro_tile2(const typename Traits::Unpacked* wu, const PreparedX8<Traits>* xp, int64_t num_blocks, float* out,
                 int64_t out_stride) {
  constexpr int T = 8;
  __m512 acc[R][T / 2];
  __m256 offsets[R];
  for (int r = 0; r < R; ++r) {
    offsets[r] = _mm256_setzero_ps();
    for (int i = 0; i < T / 2; ++i) acc[r][i] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < num_blocks; ++b) {
    const PreparedX8<Traits>& x = xp[b];
    for (int r = 0; r < R; ++r) {
      const typename Traits::Unpacked& wb = wu[r * num_blocks + b];
      const __m512 wd = _mm512_set1_ps(wb.d);
      if constexpr (Traits::kOffsets) offsets[r] = _mm256_fmadd_ps(_mm256_set1_ps(wb.m), x.xs, offsets[r]);
      const typename Traits::Wide wide = Traits::widen(wb);
      for (int i = 0; i < T / 2; ++i) {
        // the same w.d * x.d per token as micro_tile's scales
        acc[r][i] = _mm512_fmadd_ps(Traits::products2(wide, x.x2[i]), _mm512_mul_ps(wd, x.xd2[i]), acc[r][i]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    alignas(32) float offset_lanes[8];
    _mm256_store_ps(offset_lanes, offsets[r]);
    for (int t = 0; t < T; ++t) {
      const __m256 half = t % 2 == 0 ? _mm512_castps512_ps256(acc[r][t / 2]) : _mm512_extractf32x8_ps(acc[r][t / 2], 1);
      float value = simd::horizontal_sum(half);
      if constexpr (Traits::kOffsets) value += offset_lanes[t];
      out[t * out_stride + r] = value;
    }
  }
}
#endif

constexpr int kTileTokens = 8;  // one 8-float vector of per-token scales

// Tokens [t0, num_tokens) (fewer than 8) of R rows, through micro_tile.
template <class Traits, int R>
void rows_tail_tokens(const uint8_t* w, size_t row_bytes, const ActivationBlockQ8* x, int64_t t0, int64_t num_tokens,
                      int64_t num_blocks, float* out, int64_t out_stride) {
  const ActivationBlockQ8* xt = x + t0 * num_blocks;
  float* ot = out + t0 * out_stride;
  switch (num_tokens - t0) {
    case 7: micro_tile<Traits, R, 7>(w, row_bytes, xt, num_blocks, ot, out_stride); break;
    case 6: micro_tile<Traits, R, 6>(w, row_bytes, xt, num_blocks, ot, out_stride); break;
    case 5: micro_tile<Traits, R, 5>(w, row_bytes, xt, num_blocks, ot, out_stride); break;
    case 4: micro_tile<Traits, R, 4>(w, row_bytes, xt, num_blocks, ot, out_stride); break;
    case 3: micro_tile<Traits, R, 3>(w, row_bytes, xt, num_blocks, ot, out_stride); break;
    case 2: micro_tile<Traits, R, 2>(w, row_bytes, xt, num_blocks, ot, out_stride); break;
    case 1: micro_tile<Traits, R, 1>(w, row_bytes, xt, num_blocks, ot, out_stride); break;
    default: break;
  }
}

constexpr int kTileRows = 4;  // 4 x 8 accumulators fit AVX-512VL's 32 registers

// Tokens [t0, num_tokens) of every row through micro_tile: 4-row x 8-token
// tiles, then the rows one by one, then the last < 8 tokens (rows_tail_tokens).
template <class Traits>
void tile_4x8(const uint8_t* w, size_t row_bytes, int64_t num_rows, const ActivationBlockQ8* x, int64_t t0,
              int64_t num_tokens, int64_t num_blocks, float* out, int64_t out_stride) {
  int64_t t = t0;
  for (; t + kTileTokens <= num_tokens; t += kTileTokens) {
    int64_t r = 0;
    for (; r + kTileRows <= num_rows; r += kTileRows) {
      micro_tile<Traits, kTileRows, kTileTokens>(w + r * row_bytes, row_bytes, x + t * num_blocks, num_blocks,
                                                 out + t * out_stride + r, out_stride);
    }
    for (; r < num_rows; ++r) {
      micro_tile<Traits, 1, kTileTokens>(w + r * row_bytes, row_bytes, x + t * num_blocks, num_blocks,
                                         out + t * out_stride + r, out_stride);
    }
  }
  if (t == num_tokens) return;
  int64_t r = 0;
  for (; r + kTileRows <= num_rows; r += kTileRows) {
    rows_tail_tokens<Traits, kTileRows>(w + r * row_bytes, row_bytes, x, t, num_tokens, num_blocks, out + r,
                                        out_stride);
  }
  for (; r < num_rows; ++r) {
    rows_tail_tokens<Traits, 1>(w + r * row_bytes, row_bytes, x, t, num_tokens, num_blocks, out + r, out_stride);
  }
}

#ifndef KVS_TILE_512
// The AVX2 (16 ymm registers) tile: R rows x T tokens with R * T <= 8
// accumulators, so nothing spills (the 4 x 8 tile of the AVX-512 build spills
// 16 of its 32 accumulators here). Per (row, token) pair the operations and
// their order are those of the single-pair kernel (dot.cpp): the same integer
// lanes, the scale w.d * x.d as one float product broadcast, one fused
// multiply-add per block, blocks in order, the same horizontal sum. Taken by
// Q8_0 and Q4_0 (tile()); it handles any format without offsets.
// `prefetch`: the rows' bytes kPrefetchAhead further on are requested block by
// block (the first pass over rows streamed from memory).
constexpr int64_t kPrefetchAhead = 2048;

template <class Traits, int R, int T>
void micro_tile_avx2(const uint8_t* w, size_t row_bytes, const ActivationBlockQ8* x, int64_t num_blocks, float* out,
                     int64_t out_stride, bool prefetch) {
  static_assert(T >= 1 && T <= 8 && R * T <= 8, "accumulators stay in registers");
  static_assert(!Traits::kOffsets, "Q4_1 / Q5_1 take micro_tile");  // Q5_0 too, by choice (tile)
  using Block = typename Traits::Block;
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < num_blocks; ++b) {
    typename Traits::Unpacked wb[R];
    __m256 wd[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Block* block = reinterpret_cast<const Block*>(w + r * row_bytes) + b;
      if (prefetch) _mm_prefetch(reinterpret_cast<const char*>(block) + kPrefetchAhead, _MM_HINT_T0);
      wb[r] = Traits::unpack(*block);
      wd[r] = _mm256_set1_ps(wb[r].d);
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const ActivationBlockQ8& xb = x[t * num_blocks + b];
      const __m256i xq = Traits::prepare(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q)));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        // w.d * x.d in every lane: the single-pair kernel's one float product, broadcast
        const __m256 scale = _mm256_mul_ps(wd[r], _mm256_broadcast_ss(&xb.d));
        acc[r][t] = _mm256_fmadd_ps(Traits::products(wb[r], xq), scale, acc[r][t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) out[t * out_stride + r] = simd::horizontal_sum(acc[r][t]);  // the bare sum, as vec_dot
  }
}

constexpr int kAvx2Tokens = 8;  // tokens per pass: 8 accumulators of one row
// Rows per pass for T tokens: two rows for up to 4 tokens (each unpacked
// weight block serves more tokens), else one; at most 8 accumulators.
template <int T>
constexpr int avx2_rows() {
  return T <= 4 ? 2 : 1;
}

// Tokens [0, T) of rows [0, num_rows).
template <class Traits, int T>
void rows_avx2(const uint8_t* w, size_t row_bytes, int64_t num_rows, const ActivationBlockQ8* x, int64_t num_blocks,
               float* out, int64_t out_stride, bool prefetch) {
  constexpr int R = avx2_rows<T>();
  int64_t r = 0;
  for (; r + R <= num_rows; r += R) {
    micro_tile_avx2<Traits, R, T>(w + r * row_bytes, row_bytes, x, num_blocks, out + r, out_stride, prefetch);
  }
  for (; r < num_rows; ++r) {
    micro_tile_avx2<Traits, 1, T>(w + r * row_bytes, row_bytes, x, num_blocks, out + r, out_stride, prefetch);
  }
}

template <class Traits>
void tile(const uint8_t* w, size_t row_bytes, int64_t num_rows, const ActivationBlockQ8* x, int64_t num_tokens,
          int64_t num_blocks, float* out, int64_t out_stride) {
  if constexpr (Traits::kOffsets || std::is_same_v<Traits, Q5_0Traits>) {
    // Q4_1 / Q5_1 / Q5_0 (costly unpacking, shared by 8 tokens): the 4-row x
    // 8-token tile, whose x loads serve 4 rows, measured faster here despite
    // its spills (one Zen 5 thread, 64 tokens: Q4_1 57 against 54 GMAC/s,
    // Q5_0 50 against 47.5).
    tile_4x8<Traits>(w, row_bytes, num_rows, x, 0, num_tokens, num_blocks, out, out_stride);
  } else {
    for (int64_t t = 0; t < num_tokens; t += kAvx2Tokens) {
      const ActivationBlockQ8* xt = x + t * num_blocks;
      float* ot = out + t * out_stride;
      const bool prefetch = t == 0;
      switch (std::min<int64_t>(num_tokens - t, kAvx2Tokens)) {
        case 8: rows_avx2<Traits, 8>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
        case 7: rows_avx2<Traits, 7>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
        case 6: rows_avx2<Traits, 6>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
        case 5: rows_avx2<Traits, 5>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
        case 4: rows_avx2<Traits, 4>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
        case 3: rows_avx2<Traits, 3>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
        case 2: rows_avx2<Traits, 2>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
        default: rows_avx2<Traits, 1>(w, row_bytes, num_rows, xt, num_blocks, ot, out_stride, prefetch); break;
      }
    }
  }
}
#else

template <class Traits>
void tile(const uint8_t* w, size_t row_bytes, int64_t num_rows, const ActivationBlockQ8* x, int64_t num_tokens,
          int64_t num_blocks, float* out, int64_t out_stride) {
  int64_t t = 0;
  if (num_tokens >= kTileTokens) {
    // Every row unpacked once, each 8-token tile's activations prepared once,
    // for all of this call's row groups.
    thread_local std::vector<typename Traits::Unpacked> unpacked;
    thread_local std::vector<PreparedX8<Traits>> prepared;
    unpacked.resize(static_cast<size_t>(num_rows * num_blocks));
    prepared.resize(static_cast<size_t>(num_blocks));
    for (int64_t r = 0; r < num_rows; ++r) {
      const auto* row = reinterpret_cast<const typename Traits::Block*>(w + r * row_bytes);
      for (int64_t b = 0; b < num_blocks; ++b) unpacked[r * num_blocks + b] = Traits::unpack(row[b]);
    }
    for (; t + kTileTokens <= num_tokens; t += kTileTokens) {
      const ActivationBlockQ8* xt = x + t * num_blocks;
      for (int64_t b = 0; b < num_blocks; ++b) prepared[b] = PreparedX8<Traits>::make(xt, num_blocks, b);
      float* ot = out + t * out_stride;
      int64_t r = 0;
      for (; r + kTileRows <= num_rows; r += kTileRows) {
        micro_tile2<Traits, kTileRows>(unpacked.data() + r * num_blocks, prepared.data(), num_blocks, ot + r,
                                       out_stride);
      }
      for (; r < num_rows; ++r) {
        micro_tile2<Traits, 1>(unpacked.data() + r * num_blocks, prepared.data(), num_blocks, ot + r, out_stride);
      }
    }
  }
  // The tokens left (fewer than 8, or all of them below 8).
  tile_4x8<Traits>(w, row_bytes, num_rows, x, t, num_tokens, num_blocks, out, out_stride);
}

#endif  // KVS_TILE_512

}  // namespace
#endif

int64_t dot_tile_tokens(WeightFormat format) {
#if defined(KVS_DOT_AVX2) && !defined(KVS_TILE_512)
  return format == WeightFormat::Q4_1 || format == WeightFormat::Q5_1 || format == WeightFormat::Q5_0 ? 64 : 16;
#else
  (void)format;
  return 64;
#endif
}

namespace {

// Every (row, token) pair through the single-pair kernel.
template <class Activation, class Dot>
void pairwise(const uint8_t* w, size_t row_bytes, int64_t num_rows, const Activation* x, int64_t num_tokens,
              int64_t num_blocks, float* out, int64_t out_stride, Dot dot) {
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t t = 0; t < num_tokens; ++t) {
      out[t * out_stride + r] = dot(w + r * row_bytes, x + t * num_blocks);
    }
  }
}

}  // namespace

void dot_quantized_tile_k(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                          const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, float* out,
                          int64_t out_stride) {
  pairwise(static_cast<const uint8_t*>(w_rows), row_bytes, num_rows, x, num_tokens, num_blocks, out, out_stride,
           [&](const uint8_t* row, const ActivationBlockQ8K* xt) { return dot_quantized_k(format, row, xt, num_blocks); });
}

void dot_quantized_tile(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                        const ActivationBlockQ8* x, int64_t num_tokens, int64_t num_blocks, float* out,
                        int64_t out_stride) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  if (format == WeightFormat::IQ4_NL) {
    return pairwise(w, row_bytes, num_rows, x, num_tokens, num_blocks, out, out_stride,
                    [&](const uint8_t* row, const ActivationBlockQ8* xt) { return dot_quantized(format, row, xt, num_blocks); });
  }
#ifdef KVS_DOT_AVX2
  switch (format) {
    case WeightFormat::Q4_1:
      return tile<Q4_1Traits>(w, row_bytes, num_rows, x, num_tokens, num_blocks, out, out_stride);
    case WeightFormat::Q5_1:
      return tile<Q5_1Traits>(w, row_bytes, num_rows, x, num_tokens, num_blocks, out, out_stride);
    case WeightFormat::Q5_0:
      return tile<Q5_0Traits>(w, row_bytes, num_rows, x, num_tokens, num_blocks, out, out_stride);
    case WeightFormat::Q4_0:
      return tile<Q4_0Traits>(w, row_bytes, num_rows, x, num_tokens, num_blocks, out, out_stride);
    case WeightFormat::Q8_0:
      return tile<Q8_0Traits>(w, row_bytes, num_rows, x, num_tokens, num_blocks, out, out_stride);
    default: return;  // F32 and the K-quants are not this function's formats
  }
#else
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t t = 0; t < num_tokens; ++t) {
      out[t * out_stride + r] = dot_quantized(format, w + r * row_bytes, x + t * num_blocks, num_blocks);
    }
  }
#endif
}

}  // namespace kvs::kernels
