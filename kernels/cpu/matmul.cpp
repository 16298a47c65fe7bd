#include "kernels/cpu/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <string>
#include <thread>

#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_tile.h"
#include "kernels/cpu/quantize.h"

namespace kvs::kernels {
namespace {

int g_num_threads = 0;

size_t block_bytes(WeightFormat format) {
  switch (format) {
    case WeightFormat::Q8_0: return sizeof(BlockQ8_0);
    case WeightFormat::Q4_0: return sizeof(BlockQ4_0);
    case WeightFormat::Q4_1: return sizeof(BlockQ4_1);
    case WeightFormat::F32: return sizeof(float);
  }
  return 0;
}

}  // namespace

void set_num_threads(int threads) {
  g_num_threads = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef KVS_TSAN_BUILD  // CMake KVS_SANITIZE=thread
  // NOTE: a ThreadSanitizer build (preset tsan) runs one OpenMP / BLAS thread.
  // libgomp and OpenBLAS are not instrumented, so TSan cannot see their
  // barriers and would report every parallel region as a race. TSan checks
  // the threads we start (engine loop, scheduler clients, HTTP and gRPC
  // front ends, tensor-parallel ranks); the kernels' OpenMP teams are
  // covered by the ASan build and by their results matching references.
  g_num_threads = 1;
#endif
  omp_set_num_threads(g_num_threads);
  openblas_set_num_threads(g_num_threads);
}

int num_threads() {
  if (g_num_threads == 0) set_num_threads(0);
  return g_num_threads;
}

Status matmul(WeightFormat format, const void* w, int64_t num_out, int64_t num_in, const float* x,
              int64_t num_tokens, float* y, MatmulScratch& scratch) {
  if (w == nullptr || x == nullptr || y == nullptr) return Status::invalid("matmul: null pointer");
  if (num_out <= 0 || num_in <= 0 || num_tokens < 0) {
    return Status::invalid("matmul: bad shape out=" + std::to_string(num_out) + " in=" + std::to_string(num_in));
  }
  if (num_tokens == 0) return Status::success();
  const int threads = num_threads();
  if (format == WeightFormat::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(num_tokens),
                static_cast<int>(num_out), static_cast<int>(num_in), 1.0f, x, static_cast<int>(num_in),
                static_cast<const float*>(w), static_cast<int>(num_in), 0.0f, y, static_cast<int>(num_out));
    return Status::success();
  }
  if (num_in % kQuantBlock != 0) {
    return Status::invalid("matmul: quantized rows need a multiple of 32 inputs, got " + std::to_string(num_in));
  }
  const int64_t num_blocks = num_in / kQuantBlock;
  scratch.quantized.resize(static_cast<size_t>(num_tokens * num_blocks));
  ActivationBlockQ8* xq = scratch.quantized.data();
#pragma omp parallel for num_threads(threads) schedule(static) if (num_tokens > 1)
  for (int64_t t = 0; t < num_tokens; ++t) quantize_activations(x + t * num_in, xq + t * num_blocks, num_in);

  const auto* weights = static_cast<const uint8_t*>(w);
  const size_t row_bytes = static_cast<size_t>(num_blocks) * block_bytes(format);
  if (num_tokens == 1) {  // one decode stream: a dot product per row
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t n = 0; n < num_out; ++n) {
      y[n] = dot_quantized(format, weights + static_cast<size_t>(n) * row_bytes, xq, num_blocks);
    }
    return Status::success();
  }
  // NOTE: chunks of rows are split over threads; each chunk is applied to a
  // tile of tokens by the multi-token kernel, which unpacks each weight block
  // once per few tokens and keeps the chunk's rows in L1 across the tile.
  constexpr int64_t kTokenTile = 64;
  constexpr int64_t kRowChunk = 16;
  const int64_t num_chunks = (num_out + kRowChunk - 1) / kRowChunk;
  for (int64_t t0 = 0; t0 < num_tokens; t0 += kTokenTile) {
    const int64_t tile_tokens = std::min(num_tokens - t0, kTokenTile);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < num_chunks; ++c) {
      const int64_t n0 = c * kRowChunk;
      dot_quantized_tile(format, weights + static_cast<size_t>(n0) * row_bytes, row_bytes,
                         std::min(kRowChunk, num_out - n0), xq + t0 * num_blocks, tile_tokens, num_blocks,
                         y + t0 * num_out + n0, num_out);
    }
  }
  return Status::success();
}

}  // namespace kvs::kernels
