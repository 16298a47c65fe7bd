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
// The AVX2 (16 ymm registers) tile. Every row of the call is unpacked once
// (PackedRows: per block the operands products() takes, w.d and w.m as
// floats), each group of up to 8 tokens' activations is packed once
// (TokenBlock), and then one row meets the group's T tokens at a time with
// T accumulators (plus one of offsets for Q4_1 / Q5_1), so nothing spills.
// Per row and block the T scales w.d * x.d come from one vector multiply
// (lane t: the single-pair kernel's float product for token t) stored to a
// small array, which the inner loop reads with broadcast loads. Per (row,
// token) pair the operations and their order are those of the single-pair
// kernel (dot.cpp): the same integer lanes, the same scale, one fused
// multiply-add per block, blocks in order, the same horizontal sum, the
// offset term (Q4_1 / Q5_1) as its own fused multiply-add chain.

// Weight vectors per block: the codes (Q4_1 / Q5_1), or |w| and w (the sign trick).
template <class Traits>
constexpr int kWeightVectors = Traits::kOffsets ? 1 : 2;

template <class Traits>
struct PackedBlock {
  __m256i v[kWeightVectors<Traits>];
};

// products() of a packed weight block with a token's activations.
template <class Traits>
inline __m256 packed_products(const PackedBlock<Traits>& w, __m256i xq) {
  if constexpr (Traits::kOffsets) {
    return Traits::products({w.v[0], 0.0f, 0.0f}, xq);
  } else {
    return Traits::products({w.v[0], w.v[1], 0.0f, 0.0f}, xq);
  }
}

// `num_rows` rows of `num_blocks` blocks, unpacked: index r * num_blocks + b.
template <class Traits>
struct PackedRows {
  std::vector<PackedBlock<Traits>> blocks;
  std::vector<float> d, m;  // w.d, w.m (Q4_1 / Q5_1) as floats

  void pack(const uint8_t* w, size_t row_bytes, int64_t num_rows, int64_t num_blocks) {
    const auto n = static_cast<size_t>(num_rows * num_blocks);
    blocks.resize(n), d.resize(n), m.resize(n);
    for (int64_t r = 0; r < num_rows; ++r) {
      const auto* row = reinterpret_cast<const typename Traits::Block*>(w + r * row_bytes);
      for (int64_t b = 0; b < num_blocks; ++b) {
        const typename Traits::Unpacked u = Traits::unpack(row[b]);
        const size_t at = static_cast<size_t>(r * num_blocks + b);
        if constexpr (Traits::kOffsets) {
          blocks[at].v[0] = u.u;
        } else {
          blocks[at].v[0] = u.magnitude;
          blocks[at].v[1] = u.sign;
        }
        d[at] = u.d, m[at] = u.m;
      }
    }
  }
};

// What row_tokens reads of one row: a row of PackedRows, or (a call with
// fewer tokens than a group, where packing would not pay) the row's blocks
// unpacked as they are read. block(b), scale(b) (w.d) and offset(b) (w.m).
template <class Traits>
struct PackedRow {
  const PackedBlock<Traits>* blocks;
  const float *d, *m;
  const PackedBlock<Traits>& block(int64_t b) const { return blocks[b]; }
  float scale(int64_t b) const { return d[b]; }
  float offset(int64_t b) const { return m[b]; }
};

template <class Traits>
struct RawRow {
  const typename Traits::Block* blocks;
  PackedBlock<Traits> block(int64_t b) const {
    const typename Traits::Unpacked u = Traits::unpack(blocks[b]);
    if constexpr (Traits::kOffsets) {
      return {{u.u}};
    } else {
      return {{u.magnitude, u.sign}};
    }
  }
  float scale(int64_t b) const { return fp16_to_fp32(blocks[b].d); }
  float offset(int64_t b) const {
    if constexpr (Traits::kOffsets) return fp16_to_fp32(blocks[b].m);
    return 0.0f;
  }
};

constexpr int kGroupTokens = 8;  // tokens per group: one 8-float vector of scales

// One block of a group of up to 8 tokens: their activations, x.d and
// d_times_sum (lane t: token t; lanes beyond the group 0).
struct TokenBlock {
  __m256i q[kGroupTokens];
  alignas(32) float d[kGroupTokens], s[kGroupTokens];
};

template <class Traits>
void pack_tokens(const ActivationBlockQ8* x, int64_t num_tokens, int64_t num_blocks, TokenBlock* out) {
  for (int64_t b = 0; b < num_blocks; ++b) {
    TokenBlock& packed = out[b];
    for (int64_t t = 0; t < kGroupTokens; ++t) {
      if (t < num_tokens) {
        const ActivationBlockQ8& xb = x[t * num_blocks + b];
        packed.q[t] = Traits::prepare(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q)));
        packed.d[t] = xb.d, packed.s[t] = xb.d_times_sum;
      } else {
        packed.d[t] = 0.0f, packed.s[t] = 0.0f;
      }
    }
  }
}

struct alignas(32) Scales {
  float lane[kGroupTokens];
};

// Lane t: simd::horizontal_sum(acc[t]), with the same additions of the same
// operands (the eight sums transposed into one vector).
inline __m256 horizontal_sums(const __m256* acc) {
  __m256 halves[4];  // pair p: token 2p's lanes i + (i + 4) low, token 2p + 1's high
  for (int p = 0; p < 4; ++p) {
    halves[p] = _mm256_add_ps(_mm256_permute2f128_ps(acc[2 * p], acc[2 * p + 1], 0x20),
                              _mm256_permute2f128_ps(acc[2 * p], acc[2 * p + 1], 0x31));
  }
  // per 128-bit half: lanes 0 + 2 and 1 + 3 of two tokens (0, 2 | 1, 3 and 4, 6 | 5, 7)
  const __m256 quarters0 = _mm256_add_ps(_mm256_shuffle_ps(halves[0], halves[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                         _mm256_shuffle_ps(halves[0], halves[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 quarters1 = _mm256_add_ps(_mm256_shuffle_ps(halves[2], halves[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                         _mm256_shuffle_ps(halves[2], halves[3], _MM_SHUFFLE(3, 2, 3, 2)));
  // tokens 0, 2, 4, 6 | 1, 3, 5, 7, then in token order
  const __m256 sums = _mm256_add_ps(_mm256_shuffle_ps(quarters0, quarters1, _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm256_shuffle_ps(quarters0, quarters1, _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm256_permutevar8x32_ps(sums, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One row against the group's T tokens, all blocks: lane t of `result` is
// the pair's dot product with token t (lanes from T on: unspecified).
template <class Traits, int T, class Row>
void row_tokens(const Row& w, const TokenBlock* x, int64_t num_blocks, Scales* scales, float* result) {
  static_assert(T >= 1 && T <= kGroupTokens, "token lanes live in one 8-float vector");
  // lane t: w.d * token t's x.d, the single-pair kernel's one float product
  for (int64_t b = 0; b < num_blocks; ++b) {
    _mm256_store_ps(scales[b].lane, _mm256_mul_ps(_mm256_set1_ps(w.scale(b)), _mm256_load_ps(x[b].d)));
  }
  __m256 acc[kGroupTokens];
  __m256 offsets = _mm256_setzero_ps();  // lane t: token t's offset sum (Q4_1 / Q5_1)
#pragma GCC unroll 8
  for (int t = 0; t < kGroupTokens; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < num_blocks; ++b) {
    const auto& wb = w.block(b);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      acc[t] = _mm256_fmadd_ps(packed_products<Traits>(wb, x[b].q[t]), _mm256_broadcast_ss(&scales[b].lane[t]),
                               acc[t]);
    }
    if constexpr (Traits::kOffsets) offsets = _mm256_fmadd_ps(_mm256_set1_ps(w.offset(b)), _mm256_load_ps(x[b].s), offsets);
  }
  // Q4_0 / Q5_0 / Q8_0 return the bare sum (adding 0.0f would turn -0 into +0).
  __m256 sums = horizontal_sums(acc);
  if constexpr (Traits::kOffsets) sums = _mm256_add_ps(sums, offsets);
  _mm256_store_ps(result, sums);
}

// Every row against one group of T tokens: results[r].lane[t]. `rows`:
// packed (PackedRows) or null (then the rows' raw blocks at `w`). `prefetch`
// (or null): bytes to request into the cache, `row_bytes` per row.
template <class Traits, int T>
void rows_tokens(const PackedRows<Traits>* rows, const uint8_t* w, int64_t num_rows, const TokenBlock* x,
                 int64_t num_blocks, Scales* scales, Scales* results, const uint8_t* prefetch, size_t row_bytes) {
  for (int64_t r = 0; r < num_rows; ++r) {
    if (prefetch != nullptr) {
      for (size_t at = 0; at < row_bytes; at += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(prefetch + r * row_bytes + at), _MM_HINT_T0);
      }
    }
    if (rows != nullptr) {
      const size_t at = static_cast<size_t>(r * num_blocks);
      const PackedRow<Traits> row{rows->blocks.data() + at, rows->d.data() + at, rows->m.data() + at};
      row_tokens<Traits, T>(row, x, num_blocks, scales, results[r].lane);
    } else {
      const RawRow<Traits> row{reinterpret_cast<const typename Traits::Block*>(w + r * row_bytes)};
      row_tokens<Traits, T>(row, x, num_blocks, scales, results[r].lane);
    }
  }
}

template <class Traits>
void tile(const uint8_t* w, size_t row_bytes, int64_t num_rows, const ActivationBlockQ8* x, int64_t num_tokens,
          int64_t num_blocks, float* out, int64_t out_stride) {
  thread_local PackedRows<Traits> rows;
  thread_local std::vector<TokenBlock> tokens;
  thread_local std::vector<Scales> scales, results;
  // one group only: each block is unpacked once either way, so in registers
  const bool packed = num_tokens > kGroupTokens;
  if (packed) rows.pack(w, row_bytes, num_rows, num_blocks);
  tokens.resize(static_cast<size_t>(num_blocks));
  scales.resize(static_cast<size_t>(num_blocks));
  results.resize(static_cast<size_t>(num_rows));
  for (int64_t t = 0; t < num_tokens; t += kGroupTokens) {
    const int64_t group = std::min<int64_t>(num_tokens - t, kGroupTokens);
    pack_tokens<Traits>(x + t * num_blocks, group, num_blocks, tokens.data());
    // the rows after these (the matmul's next chunk), requested while the first group computes
    const uint8_t* prefetch = t == 0 ? w + num_rows * row_bytes : nullptr;
    const auto run = [&](auto tokens_in_group) {
      rows_tokens<Traits, decltype(tokens_in_group)::value>(packed ? &rows : nullptr, w, num_rows, tokens.data(),
                                                            num_blocks, scales.data(), results.data(), prefetch,
                                                            row_bytes);
    };
    switch (group) {
      case 8: run(std::integral_constant<int, 8>{}); break;
      case 7: run(std::integral_constant<int, 7>{}); break;
      case 6: run(std::integral_constant<int, 6>{}); break;
      case 5: run(std::integral_constant<int, 5>{}); break;
      case 4: run(std::integral_constant<int, 4>{}); break;
      case 3: run(std::integral_constant<int, 3>{}); break;
      case 2: run(std::integral_constant<int, 2>{}); break;
      default: run(std::integral_constant<int, 1>{}); break;
    }
    // one vector store per row above; here one pass over each token's outputs
    for (int64_t i = 0; i < group; ++i) {
      float* o = out + (t + i) * out_stride;
      for (int64_t r = 0; r < num_rows; ++r) o[r] = results[static_cast<size_t>(r)].lane[i];
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

TileShape dot_tile_shape(WeightFormat format) {
  (void)format;
#if defined(KVS_DOT_AVX2) && !defined(KVS_TILE_512)
  return {64, 256};
#else
  return {16, 64};
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
