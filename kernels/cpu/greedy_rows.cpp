#include "kernels/cpu/greedy_rows.h"

#include <algorithm>
#include <cmath>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace kvs::kernels {
namespace {

// The largest of row[begin, end) and whether any of it is NaN or +Inf.
// `v > m ? v : m` lane by lane, which is maxps's own definition (the
// compiler will not vectorize it as a float reduction by itself).
struct ChunkScan {
  float max;
  bool bad;
};
ChunkScan scan_chunk(const float* row, int64_t begin, int64_t end) {
  float max = -HUGE_VALF;
  int bad = 0;
  int64_t i = begin;
#ifdef __AVX2__
  __m256 m0 = _mm256_set1_ps(-HUGE_VALF), m1 = m0;
  __m256 b = _mm256_setzero_ps();
  const __m256 inf = _mm256_set1_ps(HUGE_VALF);
  for (; i + 16 <= end; i += 16) {
    const __m256 v0 = _mm256_loadu_ps(row + i), v1 = _mm256_loadu_ps(row + i + 8);
    b = _mm256_or_ps(b, _mm256_or_ps(_mm256_cmp_ps(v0, v0, _CMP_UNORD_Q), _mm256_cmp_ps(v0, inf, _CMP_EQ_OQ)));
    b = _mm256_or_ps(b, _mm256_or_ps(_mm256_cmp_ps(v1, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v1, inf, _CMP_EQ_OQ)));
    m0 = _mm256_max_ps(v0, m0);
    m1 = _mm256_max_ps(v1, m1);
  }
  bad = _mm256_movemask_ps(b);
  alignas(32) float lanes[16];
  _mm256_store_ps(lanes, m0);
  _mm256_store_ps(lanes + 8, m1);
  for (float lane : lanes) max = lane > max ? lane : max;
#endif
  for (; i < end; ++i) {
    const float v = row[i];
    bad |= (v != v) | (v == HUGE_VALF);
    max = v > max ? v : max;
  }
  return {max, bad != 0};
}

// One row: chunk maxima in one pass, the first chunk holding the row's
// maximum remembered, then the first index of that maximum found inside that
// chunk only.
int32_t greedy_row(const float* row, int64_t vocab) {
  constexpr int64_t kChunk = 512;
  float max = -HUGE_VALF;
  int64_t max_chunk = -1;
  bool bad = false;
  for (int64_t begin = 0; begin < vocab; begin += kChunk) {
    const ChunkScan chunk = scan_chunk(row, begin, std::min(vocab, begin + kChunk));
    bad = bad || chunk.bad;
    if (chunk.max > max) max = chunk.max, max_chunk = begin;
  }
  if (bad) return kGreedyUnusable;
  if (max_chunk < 0) return kGreedyAllMasked;
  const float* end = row + std::min(vocab, max_chunk + kChunk);
  return static_cast<int32_t>(std::find(row + max_chunk, end, max) - row);
}

}  // namespace

void greedy_rows(const float* const* rows, int64_t count, int64_t vocab, int32_t* best, int num_threads) {
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads, count)));
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t i = 0; i < count; ++i) best[i] = greedy_row(rows[i], vocab);
}

}  // namespace kvs::kernels
