#include "kernels/cpu/attention_half.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "kernels/cpu/exp_llamacpp_avx2.h"
#include "kernels/cpu/exp_llamacpp_avx512.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/llamacpp_arith.h"
#include "kernels/cpu/paged_rows.h"

namespace kvs::kernels {
namespace {

// tinyBLAS order: lane l accumulates elements l, l + 16, ... (n % 16 == 0).
float dot_lanes16(const float* a, const float* b, int64_t n) {
  float lanes[16] = {};
  for (int64_t i = 0; i < n; i += 16) {
    for (int l = 0; l < 16; ++l) lanes[l] = std::fma(a[i + l], b[i + l], lanes[l]);
  }
  return sum16_llamacpp(lanes);
}

// ggml_vec_dot_f16 order.
float dot_vec_f16(const float* a, const float* b, int64_t n) {
  const int64_t blocked = n - n % 64;
  float lanes[64] = {};
  for (int64_t i = 0; i < blocked; i += 64) {
    for (int e = 0; e < 64; ++e) lanes[e] = std::fma(a[i + e], b[i + e], lanes[e]);
  }
  float combined[16];
  for (int l = 0; l < 16; ++l) combined[l] = (lanes[l] + lanes[32 + l]) + (lanes[16 + l] + lanes[48 + l]);
  double sum = sum16_llamacpp(combined);
  for (int64_t i = blocked; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

bool batched_dot(HalfMatmulOrder order, int64_t n) { return order == HalfMatmulOrder::kBatched && n % 16 == 0; }

}  // namespace

float dot_halves(const float* a, const float* b, int64_t n, HalfMatmulOrder order) {
  return batched_dot(order, n) ? dot_lanes16(a, b, n) : dot_vec_f16(a, b, n);
}

namespace {

// The per-position operations of attend_one_half, portable: a key row
// converted to floats, then dot_halves; a value row converted, then one fused
// multiply-add per element into its lane's accumulator row.
struct ScalarRowOps {
  std::vector<float>& row;
  std::vector<const uint16_t*>& value_rows;
  float score(const uint16_t* key, const float* query, int64_t n, HalfMatmulOrder order) const {
    half_row_to_float(key, row.data(), n);
    return dot_halves(row.data(), query, n, order);
  }
  // scores[p] = score(key of p) * scale for p in [first, window).
  void scores(const float* query, const PagedRows<uint16_t>& keys, int64_t first, int64_t window, int64_t n,
              HalfMatmulOrder order, float scale, float* out) const {
    for (int64_t p = first; p < window; ++p) out[p] = score(keys.row(p), query, n, order) * scale;
  }
  // lanes[l * n + d] (zeroed by the caller) += weight[p] * value of p at d
  // for every p in [first, window) with p % num_lanes == l, p increasing.
  void weighted_sum(const float* weight, const PagedRows<uint16_t>& values, int64_t first, int64_t window,
                    int64_t num_lanes, int64_t n, float* lanes) const {
    for (int64_t p = first; p < window; ++p) {
      half_row_to_float(values.row(p), row.data(), n);
      float* acc = lanes + (p % num_lanes) * n;
      for (int64_t d = 0; d < n; ++d) acc[d] = std::fma(weight[p], row[d], acc[d]);
    }
  }
  // out[d] = sum16_llamacpp of the 16 lanes at d: lanes[l * n + d] (16
  // lanes), or, with 64 lanes, (l + l_32) + (l_16 + l_48) per lane l < 16.
  void combine(const float* lanes, int64_t num_lanes, int64_t n, float* out) const {
    float combined[16];
    for (int64_t d = 0; d < n; ++d) {
      for (int l = 0; l < 16; ++l) {
        const float* lane = lanes + l * n + d;
        combined[l] = num_lanes == 16 ? lane[0] : (lane[0] + lane[32 * n]) + (lane[16 * n] + lane[48 * n]);
      }
      out[d] = sum16_llamacpp(combined);
    }
  }
};

#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
inline __m256 load_halves(const uint16_t* h) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

// sum16_llamacpp of the 16 lanes lo (0..7), hi (8..15).
inline float sum16(__m256 lo, __m256 hi) {
  const __m256 eight = _mm256_add_ps(hi, lo);
  const __m128 four = _mm_add_ps(_mm256_extractf128_ps(eight, 1), _mm256_castps256_ps128(eight));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));  // (0 + 2), (1 + 3)
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

// sum16_llamacpp of v[0..15], column by column (lane d of the result: the
// sum of lane d of the 16 vectors, in sum16_llamacpp's order).
template <class V, class Add>
inline V sum16_tree(V* v, Add add) {
  for (int i = 0; i < 8; ++i) v[i] = add(v[i + 8], v[i]);
  for (int i = 0; i < 4; ++i) v[i] = add(v[i + 4], v[i]);
  return add(add(v[0], v[2]), add(v[1], v[3]));
}
inline __m256 sum16_columns(__m256* v) { return sum16_tree(v, [](__m256 a, __m256 b) { return _mm256_add_ps(a, b); }); }

// The same operations as ScalarRowOps lane for lane (the same fused
// multiply-adds into the same accumulators, the same sums), eight floats at a
// time, converting halves in registers.
struct SimdRowOps {
  explicit SimdRowOps(const ScalarRowOps& portable) : scalar(portable) {}
  ScalarRowOps scalar;
  float score(const uint16_t* key, const float* query, int64_t n, HalfMatmulOrder order) const {
    if (batched_dot(order, n)) {  // tinyBLAS: lane l takes elements l, l + 16, ...
      __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
      for (int64_t i = 0; i < n; i += 16) {
        lo = _mm256_fmadd_ps(load_halves(key + i), _mm256_loadu_ps(query + i), lo);
        hi = _mm256_fmadd_ps(load_halves(key + i + 8), _mm256_loadu_ps(query + i + 8), hi);
      }
      return sum16(lo, hi);
    }
    if (n % 64 != 0) return scalar.score(key, query, n, order);  // the double tail: portable code
    __m256 acc[8];  // ggml_vec_dot_f16: four 16-lane accumulators over blocks of 64
    for (__m256& a : acc) a = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 64) {
      for (int j = 0; j < 8; ++j) {
        acc[j] = _mm256_fmadd_ps(load_halves(key + i + 8 * j), _mm256_loadu_ps(query + i + 8 * j), acc[j]);
      }
    }
    // (a0 + a2) + (a1 + a3) per lane; accumulator k is acc[2k] (lanes 0..7), acc[2k + 1] (8..15)
    const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
    const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
    return sum16(lo, hi);
  }
  // ScalarRowOps::scores; in the batched order 8 positions at a time, their
  // sum16 reductions done together on a transposed 8 x 8 block (the same
  // additions on the same operands, lane p of each step).
  void scores(const float* query, const PagedRows<uint16_t>& keys, int64_t first, int64_t window, int64_t n,
              HalfMatmulOrder order, float scale, float* out) const {
    int64_t p = first;
    if (batched_dot(order, n)) {
      for (; p + 8 <= window; p += 8) {
        const uint16_t* k[8];
        for (int j = 0; j < 8; ++j) k[j] = keys.row(p + j);
        __m256 lo[8], hi[8];
        for (int j = 0; j < 8; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
        for (int64_t i = 0; i < n; i += 16) {
          const __m256 q_lo = _mm256_loadu_ps(query + i), q_hi = _mm256_loadu_ps(query + i + 8);
          for (int j = 0; j < 8; ++j) {
            lo[j] = _mm256_fmadd_ps(load_halves(k[j] + i), q_lo, lo[j]);
            hi[j] = _mm256_fmadd_ps(load_halves(k[j] + i + 8), q_hi, hi[j]);
          }
        }
        __m256 eight[8];  // eight[j] lane i: position j's hi lane i + lo lane i
        for (int j = 0; j < 8; ++j) eight[j] = _mm256_add_ps(hi[j], lo[j]);
        transpose8(eight);  // eight[i] lane j: that sum of position j
        const __m256 four[4] = {_mm256_add_ps(eight[4], eight[0]), _mm256_add_ps(eight[5], eight[1]),
                                _mm256_add_ps(eight[6], eight[2]), _mm256_add_ps(eight[7], eight[3])};
        const __m256 sums = _mm256_add_ps(_mm256_add_ps(four[0], four[2]), _mm256_add_ps(four[1], four[3]));
        _mm256_storeu_ps(out + p, _mm256_mul_ps(sums, _mm256_set1_ps(scale)));
      }
    }
    for (; p < window; ++p) out[p] = score(keys.row(p), query, n, order) * scale;
  }

  // In-place transpose of 8 rows of 8 floats.
  static void transpose8(__m256* r) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
  }

  // ScalarRowOps::weighted_sum with each lane's sum kept in registers, four
  // 8-float columns at a time (each column's fused multiply-adds in the same
  // order: p increasing).
  void weighted_sum(const float* weight, const PagedRows<uint16_t>& values, int64_t first, int64_t window,
                    int64_t num_lanes, int64_t n, float* lanes) const {
    if (n % 32 != 0) return scalar.weighted_sum(weight, values, first, window, num_lanes, n, lanes);
    std::vector<const uint16_t*>& rows = scalar.value_rows;
    rows.resize(static_cast<size_t>(window));
    for (int64_t p = first; p < window; ++p) rows[p] = values.row(p);
    for (int64_t l = 0; l < num_lanes; ++l) {
      int64_t p0 = first + ((l - first) % num_lanes + num_lanes) % num_lanes;  // first p >= first in lane l
      for (int64_t d = 0; d < n; d += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t p = p0; p < window; p += num_lanes) {
          const __m256 w = _mm256_set1_ps(weight[p]);
          const uint16_t* v = rows[p] + d;
          a0 = _mm256_fmadd_ps(w, load_halves(v), a0);
          a1 = _mm256_fmadd_ps(w, load_halves(v + 8), a1);
          a2 = _mm256_fmadd_ps(w, load_halves(v + 16), a2);
          a3 = _mm256_fmadd_ps(w, load_halves(v + 24), a3);
        }
        float* out = lanes + l * n + d;
        _mm256_storeu_ps(out, a0);
        _mm256_storeu_ps(out + 8, a1);
        _mm256_storeu_ps(out + 16, a2);
        _mm256_storeu_ps(out + 24, a3);
      }
    }
  }
  // ScalarRowOps::combine for eight d at a time (the same additions, lane d).
  void combine(const float* lanes, int64_t num_lanes, int64_t n, float* out) const {
    if (n % 8 != 0) return scalar.combine(lanes, num_lanes, n, out);
    combine_columns(lanes, num_lanes, n, out);
  }
  static void combine_columns(const float* lanes, int64_t num_lanes, int64_t n, float* out) {
    for (int64_t d = 0; d < n; d += 8) {
      __m256 v[16];
      for (int l = 0; l < 16; ++l) {
        const float* lane = lanes + l * n + d;
        v[l] = num_lanes == 16 ? _mm256_loadu_ps(lane)
                               : _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(lane), _mm256_loadu_ps(lane + 32 * n)),
                                               _mm256_add_ps(_mm256_loadu_ps(lane + 16 * n), _mm256_loadu_ps(lane + 48 * n)));
      }
      _mm256_storeu_ps(out + d, sum16_columns(v));
    }
  }
};
#endif

// Softmax of scores p[first, window) (zero elsewhere, up to the next multiple
// of 16) in place, as soft_max_ext: 16-wide exp blocks from position 0, each
// block's sum added in double; then rounded to halves (P is a half matrix).
void softmax_to_halves(float* probabilities, int64_t first, int64_t window, float max_score) {
  const int64_t padded = (window + 15) / 16 * 16;
  double sum = 0.0;
  for (int64_t block = 0; block < padded; block += 16) {
#ifdef KVS_HAVE_EXP16
    if (block >= first && block + 16 <= window) {  // a whole block: 16 lanes at once, lane for lane the same
      _mm512_storeu_ps(probabilities + block,
                       exp16_llamacpp(_mm512_sub_ps(_mm512_loadu_ps(probabilities + block), _mm512_set1_ps(max_score))));
      sum += static_cast<double>(sum16_llamacpp(probabilities + block));
      continue;
    }
#elif defined(KVS_HAVE_EXP8) && defined(__F16C__)
    if (block >= first && block + 16 <= window) {  // a whole block: two 8-lane exps, lane for lane the same
      const __m256 m = _mm256_set1_ps(max_score);
      const __m256 lo = exp8_llamacpp(_mm256_sub_ps(_mm256_loadu_ps(probabilities + block), m));
      const __m256 hi = exp8_llamacpp(_mm256_sub_ps(_mm256_loadu_ps(probabilities + block + 8), m));
      _mm256_storeu_ps(probabilities + block, lo);
      _mm256_storeu_ps(probabilities + block + 8, hi);
      sum += static_cast<double>(sum16(lo, hi));  // sum16_llamacpp's order
      continue;
    }
#endif
    for (int64_t p = std::max(block, first); p < std::min(window, block + 16); ++p) {
      probabilities[p] = exp_llamacpp(probabilities[p] - max_score);
    }
    sum += static_cast<double>(sum16_llamacpp(probabilities + block));
  }
  const float inverse_sum = static_cast<float>(1.0 / sum);
  int64_t p = first;
#if defined(__F16C__) && defined(__AVX2__)
  // The same product and the same rounding to half (F16C), eight at a time.
  for (; p + 8 <= window; p += 8) {
    const __m256 weight = _mm256_mul_ps(_mm256_loadu_ps(probabilities + p), _mm256_set1_ps(inverse_sum));
    _mm256_storeu_ps(probabilities + p, _mm256_cvtph_ps(_mm256_cvtps_ph(weight, _MM_FROUND_TO_NEAREST_INT)));
  }
#endif
  for (; p < window; ++p) probabilities[p] = round_to_half(probabilities[p] * inverse_sum);
}

template <class RowOps>
void attend(const float* q, const uint16_t* keys, const uint16_t* values, const int32_t* table, int64_t block_size,
            int64_t kv_row, int64_t kv_offset, int64_t head_dim, int64_t window, float scale,
            HalfMatmulOrder order, HalfAttentionScratch& scratch, float* out, const uint16_t* overlay_keys,
            const uint16_t* overlay_values, int64_t num_blocks, float* logits_out, int64_t first) {

  const PagedRows<uint16_t> key_rows{keys, overlay_keys, table, num_blocks, block_size, kv_row, kv_offset};
  const PagedRows<uint16_t> value_rows{values, overlay_values, table, num_blocks, block_size, kv_row, kv_offset};
  std::vector<float>& query = scratch.query;
  std::vector<float>& row = scratch.row;
  std::vector<float>& probabilities = scratch.probabilities;
  query.resize(static_cast<size_t>(head_dim));
  row.resize(static_cast<size_t>(head_dim));
  for (int64_t i = 0; i < head_dim; ++i) query[i] = round_to_half(q[i]);

  // Scores, scaled after the dot product as soft_max_ext does.
  const int64_t padded = (window + 15) / 16 * 16;
  probabilities.assign(static_cast<size_t>(padded), 0.0f);
  float max_score = -INFINITY;
  if (logits_out != nullptr) std::fill(logits_out, logits_out + first, -INFINITY);
  const ScalarRowOps portable{row, scratch.value_rows};
  const RowOps ops(portable);
  ops.scores(query.data(), key_rows, first, window, head_dim, order, scale, probabilities.data());
  for (int64_t p = first; p < window; ++p) {
    if (logits_out != nullptr) logits_out[p] = probabilities[p];
    max_score = std::max(max_score, probabilities[p]);
  }
  softmax_to_halves(probabilities.data(), first, window, max_score);

  // P·V: position p accumulates into lane p % num_lanes, all head_dim outputs at once.
  const bool batched = order == HalfMatmulOrder::kBatched && head_dim % 4 == 0;
  const int64_t num_lanes = batched ? 16 : 64;
  std::vector<float>& lanes = scratch.lanes;
  lanes.assign(static_cast<size_t>(num_lanes * head_dim), 0.0f);
  ops.weighted_sum(probabilities.data(), value_rows, first, window, num_lanes, head_dim, lanes.data());
  ops.combine(lanes.data(), num_lanes, head_dim, out);
}


#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
// Asks for the n halves at `row` (a K or V row of one head) in L1, or
// (l2) in L2.
inline void prefetch_row(const uint16_t* row, int64_t n, bool l2 = false) {
  for (int64_t i = 0; i < n; i += 32) {
    if (l2) {
      _mm_prefetch(reinterpret_cast<const char*>(row + i), _MM_HINT_T1);
    } else {
      _mm_prefetch(reinterpret_cast<const char*>(row + i), _MM_HINT_T0);
    }
  }
}

#endif

#if defined(__AVX512F__) && defined(__F16C__) && defined(__FMA__)
#define KVS_HALF_GROUP 1
inline __m512 load_halves16(const uint16_t* h) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
}
inline __m256 high_half(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

// The largest of v[first, window) (-inf when empty): the maximum is exact in
// any order, and NaN is skipped as std::max skips it (maxps returns its
// second operand, the running maximum, when either is NaN).
inline float max_of(const float* v, int64_t first, int64_t window) {
  __m512 best = _mm512_set1_ps(-INFINITY);
  int64_t p = first;
  for (; p + 16 <= window; p += 16) best = _mm512_max_ps(_mm512_loadu_ps(v + p), best);
  float max_score = _mm512_reduce_max_ps(best);
  for (; p < window; ++p) max_score = std::max(max_score, v[p]);
  return max_score;
}

// SimdRowOps::scores (batched order, n % 16 == 0) for G queries at once:
// each key chunk converted once, for every query. Lanes 0..7 of a 512-bit
// accumulator are SimdRowOps' `lo`, lanes 8..15 its `hi`.
template <int G>
void group_scores(const float* const* query, const uint16_t* const* keys, const uint16_t* const* values,
                  int64_t first, int64_t window, int64_t n, float scale, float* const* out) {
  int64_t p = first;
  for (; p + 8 <= window; p += 8) {
    const uint16_t* k[8];
    for (int j = 0; j < 8; ++j) k[j] = keys[p + j];
    if (p + 16 <= window) {  // the rows after these, from L3 or memory, while these compute
      for (int j = 8; j < 16; ++j) prefetch_row(keys[p + j], n);
    }
    for (int j = 0; j < 8; ++j) prefetch_row(values[p + j], n, /*l2=*/true);  // for the weighted sum after the softmax
    __m512 acc[G][8];
    for (int g = 0; g < G; ++g) {
      for (int j = 0; j < 8; ++j) acc[g][j] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < n; i += 16) {
      __m512 qv[G];
      for (int g = 0; g < G; ++g) qv[g] = _mm512_loadu_ps(query[g] + i);
      for (int j = 0; j < 8; ++j) {
        const __m512 kv = load_halves16(k[j] + i);
        for (int g = 0; g < G; ++g) acc[g][j] = _mm512_fmadd_ps(kv, qv[g], acc[g][j]);
      }
    }
    for (int g = 0; g < G; ++g) {
      __m256 eight[8];
      for (int j = 0; j < 8; ++j) eight[j] = _mm256_add_ps(high_half(acc[g][j]), _mm512_castps512_ps256(acc[g][j]));
      SimdRowOps::transpose8(eight);
      const __m256 four[4] = {_mm256_add_ps(eight[4], eight[0]), _mm256_add_ps(eight[5], eight[1]),
                              _mm256_add_ps(eight[6], eight[2]), _mm256_add_ps(eight[7], eight[3])};
      const __m256 sums = _mm256_add_ps(_mm256_add_ps(four[0], four[2]), _mm256_add_ps(four[1], four[3]));
      _mm256_storeu_ps(out[g] + p, _mm256_mul_ps(sums, _mm256_set1_ps(scale)));
    }
  }
  for (; p < window; ++p) {
    for (int g = 0; g < G; ++g) {
      __m512 acc = _mm512_setzero_ps();
      for (int64_t i = 0; i < n; i += 16) acc = _mm512_fmadd_ps(load_halves16(keys[p] + i), _mm512_loadu_ps(query[g] + i), acc);
      out[g][p] = sum16(_mm512_castps512_ps256(acc), high_half(acc)) * scale;
    }
  }
}

// SimdRowOps::score in the single order (ggml_vec_dot_f16: four 16-lane
// accumulators over blocks of 64, combined as (a0 + a2) + (a1 + a3), then
// sum16; n % 64 == 0, so no double tail) for G queries at once, one
// position at a time: each key row converted once, for every query.
template <int G>
void group_scores_single(const float* const* query, const uint16_t* const* keys, const uint16_t* const* values,
                         int64_t first, int64_t window, int64_t n, float scale, float* const* out) {
  constexpr int64_t kAhead = 8;  // positions prefetched ahead
  for (int64_t p = first; p < window; ++p) {
    const uint16_t* k = keys[p];
    if (p + kAhead < window) prefetch_row(keys[p + kAhead], n);
    prefetch_row(values[p], n, /*l2=*/true);  // for the weighted sum after the softmax
    __m512 acc[G][4];
    for (int g = 0; g < G; ++g) {
      for (int a = 0; a < 4; ++a) acc[g][a] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < n; i += 64) {
      for (int a = 0; a < 4; ++a) {
        const __m512 kv = load_halves16(k + i + 16 * a);
        for (int g = 0; g < G; ++g) acc[g][a] = _mm512_fmadd_ps(kv, _mm512_loadu_ps(query[g] + i + 16 * a), acc[g][a]);
      }
    }
    for (int g = 0; g < G; ++g) {
      const __m512 combined = _mm512_add_ps(_mm512_add_ps(acc[g][0], acc[g][2]), _mm512_add_ps(acc[g][1], acc[g][3]));
      out[g][p] = sum16(_mm512_castps512_ps256(combined), high_half(combined)) * scale;
    }
  }
}

// SimdRowOps::weighted_sum (16 or 64 lanes, n % 64 == 0) for G queries at once:
// each value row converted once, for every query's weights.
template <int G>
void group_weighted_sum(const float* const* weight, const uint16_t* const* rows, int64_t first, int64_t window,
                        int64_t num_lanes, int64_t n, float* const* lanes) {
  const int64_t kLanes = num_lanes;
  for (int64_t l = 0; l < kLanes; ++l) {
    const int64_t p0 = first + ((l - first) % kLanes + kLanes) % kLanes;  // first p >= first in lane l
    for (int64_t d = 0; d < n; d += 64) {
      __m512 acc[G][4];
      for (int g = 0; g < G; ++g) {
        for (int c = 0; c < 4; ++c) acc[g][c] = _mm512_setzero_ps();
      }
      for (int64_t p = p0; p < window; p += kLanes) {
        if (d == 0 && p + 2 * kLanes < window) prefetch_row(rows[p + 2 * kLanes], n);  // two rows ahead in this lane
        __m512 v[4];
        for (int c = 0; c < 4; ++c) v[c] = load_halves16(rows[p] + d + 16 * c);
        for (int g = 0; g < G; ++g) {
          const __m512 w = _mm512_set1_ps(weight[g][p]);
          for (int c = 0; c < 4; ++c) acc[g][c] = _mm512_fmadd_ps(w, v[c], acc[g][c]);
        }
      }
      for (int g = 0; g < G; ++g) {
        for (int c = 0; c < 4; ++c) _mm512_storeu_ps(lanes[g] + l * n + d + 16 * c, acc[g][c]);
      }
    }
  }
}

#elif defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
// The grouped kernel in x86-64-v3 builds: the AVX-512 functions above with
// 8-float vectors, each computing the same operations on the same operands.
#define KVS_HALF_GROUP 1

// max_of (AVX-512 above): exact in any order; NaN skipped as std::max skips it.
inline float max_of(const float* v, int64_t first, int64_t window) {
  __m256 best0 = _mm256_set1_ps(-INFINITY), best1 = best0;
  int64_t p = first;
  for (; p + 16 <= window; p += 16) {
    best0 = _mm256_max_ps(_mm256_loadu_ps(v + p), best0);
    best1 = _mm256_max_ps(_mm256_loadu_ps(v + p + 8), best1);
  }
  for (; p + 8 <= window; p += 8) best0 = _mm256_max_ps(_mm256_loadu_ps(v + p), best0);
  const __m256 best = _mm256_max_ps(best0, best1);  // no NaN in either: exact
  __m128 m = _mm_max_ps(_mm256_extractf128_ps(best, 1), _mm256_castps256_ps128(best));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  float max_score = _mm_cvtss_f32(m);
  for (; p < window; ++p) max_score = std::max(max_score, v[p]);
  return max_score;
}

// (hi + lo) of 8 positions (eight[j]: position j) reduced as sum16 does, the
// 8 results in one vector (lane j: position j), times scale.
inline __m256 sum16_of_eight(__m256* eight, float scale) {
  SimdRowOps::transpose8(eight);  // eight[i] lane j: that sum of position j
  const __m256 four[4] = {_mm256_add_ps(eight[4], eight[0]), _mm256_add_ps(eight[5], eight[1]),
                          _mm256_add_ps(eight[6], eight[2]), _mm256_add_ps(eight[7], eight[3])};
  const __m256 sums = _mm256_add_ps(_mm256_add_ps(four[0], four[2]), _mm256_add_ps(four[1], four[3]));
  return _mm256_mul_ps(sums, _mm256_set1_ps(scale));
}

// Asks for this block's K rows after these (L1) and its V rows (L2).
inline void prefetch_block(const uint16_t* const* keys, const uint16_t* const* values, int64_t p, int64_t window,
                           int64_t n) {
  if (p + 16 <= window) {
    for (int j = 8; j < 16; ++j) prefetch_row(keys[p + j], n);
  }
  for (int j = 0; j < 8; ++j) prefetch_row(values[p + j], n, /*l2=*/true);  // for the weighted sum after the softmax
}

// SimdRowOps::scores (batched order, n % 64 == 0) for G queries, 8
// positions at a time, the sum16 reductions done together on a transposed
// 8 x 8 block: each key row converted once per block of 64 elements, for
// every query (lo takes its chunks 0, 2, 4, 6, hi 1, 3, 5, 7, in order).
template <int G>
void group_scores(const float* const* query, const uint16_t* const* keys, const uint16_t* const* values,
                  int64_t first, int64_t window, int64_t n, float scale, float* const* out) {
  int64_t p = first;
  for (; p + 8 <= window; p += 8) {
    prefetch_block(keys, values, p, window, n);
    __m256 eight[G][8];  // eight[g][j] lane i: position j's hi lane i + lo lane i
    for (int j = 0; j < 8; ++j) {
      const uint16_t* k = keys[p + j];
      __m256 lo[G], hi[G];
      for (int g = 0; g < G; ++g) lo[g] = hi[g] = _mm256_setzero_ps();
      for (int64_t i = 0; i < n; i += 64) {
        __m256 kv[8];
        for (int c = 0; c < 8; ++c) kv[c] = load_halves(k + i + 8 * c);
        for (int g = 0; g < G; ++g) {
          const float* q = query[g] + i;
          for (int c = 0; c < 8; c += 2) {
            lo[g] = _mm256_fmadd_ps(kv[c], _mm256_loadu_ps(q + 8 * c), lo[g]);
            hi[g] = _mm256_fmadd_ps(kv[c + 1], _mm256_loadu_ps(q + 8 * c + 8), hi[g]);
          }
        }
      }
      for (int g = 0; g < G; ++g) eight[g][j] = _mm256_add_ps(hi[g], lo[g]);
    }
    for (int g = 0; g < G; ++g) _mm256_storeu_ps(out[g] + p, sum16_of_eight(eight[g], scale));
  }
  for (; p < window; ++p) {
    for (int g = 0; g < G; ++g) {
      __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
      for (int64_t i = 0; i < n; i += 16) {
        lo = _mm256_fmadd_ps(load_halves(keys[p] + i), _mm256_loadu_ps(query[g] + i), lo);
        hi = _mm256_fmadd_ps(load_halves(keys[p] + i + 8), _mm256_loadu_ps(query[g] + i + 8), hi);
      }
      out[g][p] = sum16(lo, hi) * scale;
    }
  }
}

// (hi + lo) of SimdRowOps::score in the single order (n % 64 == 0) for one
// key row and one query: eight 8-lane accumulators over blocks of 64,
// accumulator a (lanes 0..15) being acc[2a] (0..7) and acc[2a + 1] (8..15).
inline __m256 single_order_pair(const uint16_t* k, const float* q, int64_t n) {
  __m256 acc[8];
  for (__m256& a : acc) a = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 64) {
    for (int j = 0; j < 8; ++j) {
      acc[j] = _mm256_fmadd_ps(load_halves(k + i + 8 * j), _mm256_loadu_ps(q + i + 8 * j), acc[j]);
    }
  }
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
  return _mm256_add_ps(hi, lo);
}

// SimdRowOps::score in the single order (n % 64 == 0) for G queries, 8
// positions at a time, the sum16 reductions done together on a transposed
// 8 x 8 block (the same additions on the same operands). With n == 64 each
// key row is converted once for every query.
template <int G>
void group_scores_single(const float* const* query, const uint16_t* const* keys, const uint16_t* const* values,
                         int64_t first, int64_t window, int64_t n, float scale, float* const* out) {
  int64_t p = first;
  for (; p + 8 <= window; p += 8) {
    prefetch_block(keys, values, p, window, n);
    __m256 eight[G][8];
    if (n == 64) {
      for (int j = 0; j < 8; ++j) {
        const uint16_t* k = keys[p + j];
        __m256 kv[8];
        for (int c = 0; c < 8; ++c) kv[c] = load_halves(k + 8 * c);
        for (int g = 0; g < G; ++g) {
          __m256 acc[8];
          for (int c = 0; c < 8; ++c) {
            acc[c] = _mm256_fmadd_ps(kv[c], _mm256_loadu_ps(query[g] + 8 * c), _mm256_setzero_ps());
          }
          const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
          const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
          eight[g][j] = _mm256_add_ps(hi, lo);
        }
      }
    } else {
      for (int g = 0; g < G; ++g) {
        for (int j = 0; j < 8; ++j) eight[g][j] = single_order_pair(keys[p + j], query[g], n);
      }
    }
    for (int g = 0; g < G; ++g) _mm256_storeu_ps(out[g] + p, sum16_of_eight(eight[g], scale));
  }
  for (; p < window; ++p) {
    for (int g = 0; g < G; ++g) {
      const __m256 pair = single_order_pair(keys[p], query[g], n);
      const __m128 four = _mm_add_ps(_mm256_extractf128_ps(pair, 1), _mm256_castps256_ps128(pair));
      const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
      out[g][p] = _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two))) * scale;
    }
  }
}

// SimdRowOps::weighted_sum (16 or 64 lanes, n % 64 == 0) for G queries at
// once: each value row converted once per column chunk, for every query's
// weights; C 8-float columns per pass (as many as the registers hold, so
// n == 64 takes one to four passes over a lane's rows).
template <int G>
void group_weighted_sum(const float* const* weight, const uint16_t* const* rows, int64_t first, int64_t window,
                        int64_t num_lanes, int64_t n, float* const* lanes) {
  constexpr int C = G == 1 ? 8 : G <= 3 ? 4 : 2;  // G * C accumulators, at most 12 of the 16 registers
  const int64_t kLanes = num_lanes;
  for (int64_t l = 0; l < kLanes; ++l) {
    const int64_t p0 = first + ((l - first) % kLanes + kLanes) % kLanes;  // first p >= first in lane l
    for (int64_t d = 0; d < n; d += 8 * C) {
      __m256 acc[G][C];
      for (int g = 0; g < G; ++g) {
        for (int c = 0; c < C; ++c) acc[g][c] = _mm256_setzero_ps();
      }
      for (int64_t p = p0; p < window; p += kLanes) {
        if (d == 0 && p + 2 * kLanes < window) prefetch_row(rows[p + 2 * kLanes], n);  // two rows ahead in this lane
        __m256 w[G];
        for (int g = 0; g < G; ++g) w[g] = _mm256_set1_ps(weight[g][p]);
        for (int c = 0; c < C; ++c) {  // one column converted at a time: G * C + G + 1 registers
          const __m256 v = load_halves(rows[p] + d + 8 * c);
          for (int g = 0; g < G; ++g) acc[g][c] = _mm256_fmadd_ps(w[g], v, acc[g][c]);
        }
      }
      for (int g = 0; g < G; ++g) {
        for (int c = 0; c < C; ++c) _mm256_storeu_ps(lanes[g] + l * n + d + 8 * c, acc[g][c]);
      }
    }
  }
}
#endif

#ifdef KVS_HALF_GROUP
template <int G>
void group_chunk(HalfMatmulOrder order, const float* const* query, const uint16_t* const* keys,
                 const uint16_t* const* value_rows, int64_t first, int64_t window, int64_t n, float scale,
                 float* const* probabilities, float* const* lanes, float* const* out) {
  const bool batched = order == HalfMatmulOrder::kBatched;
  const int64_t num_lanes = batched ? 16 : 64;
  if (batched) {
    group_scores<G>(query, keys, value_rows, first, window, n, scale, probabilities);
  } else {
    group_scores_single<G>(query, keys, value_rows, first, window, n, scale, probabilities);
  }
  for (int g = 0; g < G; ++g) softmax_to_halves(probabilities[g], first, window, max_of(probabilities[g], first, window));
  group_weighted_sum<G>(probabilities, value_rows, first, window, num_lanes, n, lanes);
  for (int g = 0; g < G; ++g) SimdRowOps::combine_columns(lanes[g], num_lanes, n, out[g]);
}
#endif
}  // namespace

void attend_one_half(const float* q, const uint16_t* keys, const uint16_t* values, const int32_t* table,
                     int64_t block_size, int64_t kv_row, int64_t kv_offset, int64_t head_dim, int64_t window,
                     float scale, HalfMatmulOrder order, HalfAttentionScratch& scratch, float* out,
                     const uint16_t* overlay_keys, const uint16_t* overlay_values, int64_t num_blocks,
                     float* logits_out, int64_t first) {
#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
  attend<SimdRowOps>(q, keys, values, table, block_size, kv_row, kv_offset, head_dim, window, scale, order, scratch,
                     out, overlay_keys, overlay_values, num_blocks, logits_out, first);
#else
  attend_one_half_reference(q, keys, values, table, block_size, kv_row, kv_offset, head_dim, window, scale, order,
                            scratch, out, overlay_keys, overlay_values, num_blocks, logits_out, first);
#endif
}

void attend_one_half_reference(const float* q, const uint16_t* keys, const uint16_t* values, const int32_t* table,
                               int64_t block_size, int64_t kv_row, int64_t kv_offset, int64_t head_dim,
                               int64_t window, float scale, HalfMatmulOrder order, HalfAttentionScratch& scratch,
                               float* out, const uint16_t* overlay_keys, const uint16_t* overlay_values,
                               int64_t num_blocks, float* logits_out, int64_t first) {
  attend<ScalarRowOps>(q, keys, values, table, block_size, kv_row, kv_offset, head_dim, window, scale, order,
                       scratch, out, overlay_keys, overlay_values, num_blocks, logits_out, first);
}

void attend_group_half(const float* q, int64_t q_stride, int64_t num_queries, const uint16_t* keys,
                       const uint16_t* values, const int32_t* table, int64_t block_size, int64_t kv_row,
                       int64_t kv_offset, int64_t head_dim, int64_t window, float scale, HalfMatmulOrder order,
                       HalfAttentionScratch& scratch, float* out, int64_t out_stride, const uint16_t* overlay_keys,
                       const uint16_t* overlay_values, int64_t num_blocks, int64_t first) {
#ifdef KVS_HALF_GROUP
  if (head_dim % 64 == 0) {
    const PagedRows<uint16_t> key_rows{keys, overlay_keys, table, num_blocks, block_size, kv_row, kv_offset};
    const PagedRows<uint16_t> value_rows{values, overlay_values, table, num_blocks, block_size, kv_row, kv_offset};
    constexpr int64_t kChunk = 4;
    const int64_t padded = (window + 15) / 16 * 16;
    scratch.query.resize(static_cast<size_t>(kChunk * head_dim));
    scratch.probabilities.resize(static_cast<size_t>(kChunk * padded));
    const int64_t num_lanes = order == HalfMatmulOrder::kBatched ? 16 : 64;
    scratch.lanes.resize(static_cast<size_t>(kChunk * num_lanes * head_dim));
    scratch.value_rows.resize(static_cast<size_t>(window));
    scratch.key_rows.resize(static_cast<size_t>(window));
    for (int64_t p = first; p < window;) {  // one table lookup per block
      const uint16_t* value = value_rows.row(p);
      const uint16_t* key = key_rows.row(p);
      const int64_t end = std::min(window, (p / block_size + 1) * block_size);
      for (; p < end; ++p, value += kv_row, key += kv_row) {
        scratch.value_rows[p] = value;
        scratch.key_rows[p] = key;
      }
    }
    for (int64_t q0 = 0; q0 < num_queries; q0 += kChunk) {
      const int64_t count = std::min(kChunk, num_queries - q0);
      const float* query[kChunk];
      float* probabilities[kChunk];
      float* lanes[kChunk];
      float* outs[kChunk];
      for (int64_t g = 0; g < count; ++g) {
        float* rounded = scratch.query.data() + g * head_dim;
        const float* source = q + (q0 + g) * q_stride;
        for (int64_t i = 0; i < head_dim; ++i) rounded[i] = round_to_half(source[i]);
        query[g] = rounded;
        probabilities[g] = scratch.probabilities.data() + g * padded;
        std::fill(probabilities[g], probabilities[g] + padded, 0.0f);
        lanes[g] = scratch.lanes.data() + g * num_lanes * head_dim;
        outs[g] = out + (q0 + g) * out_stride;
      }
      const auto run = [&](auto chunk) {
        group_chunk<decltype(chunk)::value>(order, query, scratch.key_rows.data(), scratch.value_rows.data(), first,
                                            window, head_dim, scale, probabilities, lanes, outs);
      };
      switch (count) {
        case 4: run(std::integral_constant<int, 4>{}); break;
        case 3: run(std::integral_constant<int, 3>{}); break;
        case 2: run(std::integral_constant<int, 2>{}); break;
        default: run(std::integral_constant<int, 1>{}); break;
      }
    }
    return;
  }
#endif
  for (int64_t g = 0; g < num_queries; ++g) {
    attend_one_half(q + g * q_stride, keys, values, table, block_size, kv_row, kv_offset, head_dim, window, scale,
                    order, scratch, out + g * out_stride, overlay_keys, overlay_values, num_blocks, nullptr, first);
  }
}

}  // namespace kvs::kernels
