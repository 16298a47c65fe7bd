#include "kernels/cpu/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <string>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/cpu_isa_entry.h"
#include "kernels/cpu/cpu_threads.h"
#include "kernels/cpu/dot.h"
#include "kernels/cpu/dot_k.h"
#include "kernels/cpu/dot_gemv512.h"
#include "kernels/cpu/dot_k_tiled.h"
#include "kernels/cpu/dot_repack.h"
#include "kernels/cpu/dot_tile.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/weight_format.h"

namespace kvs::kernels {
namespace {

// NOTE: chunks of rows are split over threads; each chunk is applied to a
// tile of tokens by the multi-token kernel, which unpacks each weight block
// once per few tokens and keeps the chunk's rows in L1 across the tile.
constexpr int64_t kTokenTile = 64;
constexpr int64_t kRowChunk = 16;
// K-quant formats: the 8-row tiles of builds without 512-bit K-quant lanes
// (k_tile8.h; the AVX2 copy) decode each block of 8 rows once per token tile,
// so a longer tile spends less on decoding (Gemma 3's Q6_K ffn_down at 256
// tokens, one Zen 5 core: ~129 -> ~135 GMAC/s).
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)  // as KVS_K_ROWS16 (k_rows8.h)
constexpr int64_t kKTokenTile = kTokenTile;
#else
constexpr int64_t kKTokenTile = 256;
#endif
constexpr int64_t kGemvRows = 64;
// Up to this many tokens the 32-element formats with a two-row 512-bit path
// take it 7 tokens at a time (dot_quantized_rows_512_tokens); beyond, the
// 8-token tiles (dot_tile.h). Measured on Gemma 3 270M's Q8_0 / Q5_0 tensors
// (2 Zen 5 threads): 4 streams 137 -> 289 tok/s, 16 streams 356 -> 377, 64
// streams 367 -> 313 (so not there).
constexpr int64_t kRows512MaxBatch = 16;
constexpr int64_t kPrefetchRowsAhead = 4;  // the one-token path's software prefetch distance, in rows  // rows per task of the one-token path (dot_gemv512.h)

// `shape` with its rows cut so that `num_out` rows make a multiple of
// `threads` chunks of about equal size (a multiple of 4 rows: the 512-bit
// tile's row group), for the static split over threads.
TileShape balanced_rows(TileShape shape, int64_t num_out, int threads) {
  int64_t chunks = (num_out + shape.rows - 1) / shape.rows;
  chunks = (chunks + threads - 1) / threads * threads;
  const int64_t rows = (num_out + chunks - 1) / chunks;
  shape.rows = std::min(shape.rows, (rows + 3) / 4 * 4);
  return shape;
}

// One quantized segment against activations `xq` (num_tokens rows of
// num_blocks blocks); writes y[t * y_stride + n] for its num_out columns.
// `tile` gets at most `shape.rows` rows and `shape.tokens` tokens per call.
template <class Activation, class Dot, class Tile>
void quantized_segment(const MatmulSegment& segment, int64_t num_blocks, const Activation* xq, int64_t num_tokens,
                       float* y, int64_t y_stride, int threads, Dot dot, Tile tile,
                       TileShape shape = {kRowChunk, kTokenTile}) {
  const auto* weights = static_cast<const uint8_t*>(segment.w);
  const size_t row_bytes = static_cast<size_t>(num_blocks) * format_block_bytes(segment.format);
  const int64_t num_out = segment.num_out;
  if (num_tokens == 1) {  // one decode stream: a dot product per row
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t n = 0; n < num_out; ++n) {
      if (n + kPrefetchRowsAhead < num_out) {  // memory-bound: fetch a later row while this one computes
        const uint8_t* ahead = weights + static_cast<size_t>(n + kPrefetchRowsAhead) * row_bytes;
        for (size_t at = 0; at < row_bytes; at += 64) __builtin_prefetch(ahead + at);
      }
      y[n] = dot(weights + static_cast<size_t>(n) * row_bytes, xq);
    }
    return;
  }
  const int64_t row_chunk = shape.rows, token_tile = shape.tokens;
  const int64_t num_chunks = (num_out + row_chunk - 1) / row_chunk;
  // Each thread takes a chunk of rows (in L1) through every token tile in
  // turn, so the chunk is read from memory once; the token tile's activations
  // stay in L1 / L2.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t c = 0; c < num_chunks; ++c) {
    const int64_t n0 = c * row_chunk;
    for (int64_t t0 = 0; t0 < num_tokens; t0 += token_tile) {
      tile(weights + static_cast<size_t>(n0) * row_bytes, row_bytes, std::min(row_chunk, num_out - n0),
           xq + t0 * num_blocks, std::min(num_tokens - t0, token_tile), y + t0 * y_stride + n0, y_stride);
    }
  }
}

}  // namespace

Status matmul(WeightFormat format, const void* w, int64_t num_out, int64_t num_in, const float* x,
              int64_t num_tokens, float* y, MatmulScratch& scratch) {
  const MatmulSegment segment{format, w, num_out};
  return matmul_segments(&segment, 1, num_in, x, num_tokens, y, scratch);
}

namespace {

// What a list of segments needs: their total rows and which activation kinds.
struct SegmentsPlan {
  int64_t total_out = 0;
  bool need_q8 = false, need_q8k = false;
};

Status plan_segments(const MatmulSegment* segments, size_t num_segments, int64_t num_in, int64_t num_tokens,
                     SegmentsPlan* plan) {
  for (size_t i = 0; i < num_segments; ++i) {
    const MatmulSegment& s = segments[i];
    if (s.w == nullptr) return Status::invalid("matmul: null pointer");
    if (s.num_out <= 0 || num_in <= 0 || num_tokens < 0) {
      return Status::invalid("matmul: bad shape out=" + std::to_string(s.num_out) + " in=" + std::to_string(num_in));
    }
    const int64_t block = format_block_elements(s.format);
    if (num_in % block != 0) {
      return Status::invalid(std::string("matmul: ") + format_name(s.format) + " rows need a multiple of " +
                             std::to_string(block) + " inputs, got " + std::to_string(num_in));
    }
    plan->need_q8 |= format_activation_kind(s.format) == ActivationKind::kQ8;
    plan->need_q8k |= format_activation_kind(s.format) == ActivationKind::kQ8K;
    plan->total_out += s.num_out;
  }
  return Status::success();
}

}  // namespace

Status matmul_segments(const MatmulSegment* segments, size_t num_segments, int64_t num_in, const float* x,
                       int64_t num_tokens, float* y, MatmulScratch& scratch) {
  if (detail::route_to_avx512()) {
    return isa_avx512::matmul_segments(segments, num_segments, num_in, x, num_tokens, y, scratch);
  }
  if (segments == nullptr || num_segments == 0 || x == nullptr || y == nullptr) {
    return Status::invalid("matmul: null pointer");
  }
  SegmentsPlan plan;
  if (Status status = plan_segments(segments, num_segments, num_in, num_tokens, &plan); !status.ok()) return status;
  if (num_tokens == 0) return Status::success();
  const int64_t total_out = plan.total_out;
  const int threads = resolve_cpu_threads(scratch.num_threads);
  const int64_t blocks_q8 = num_in / kQuantBlock, blocks_q8k = num_in / kQuantBlockK;
  if (plan.need_q8) {
    scratch.quantized.resize(static_cast<size_t>(num_tokens * blocks_q8));
    ActivationBlockQ8* xq = scratch.quantized.data();
#pragma omp parallel for num_threads(threads) schedule(static) if (num_tokens > 1)
    for (int64_t t = 0; t < num_tokens; ++t) quantize_activations(x + t * num_in, xq + t * blocks_q8, num_in);
  }
  if (plan.need_q8k) {
    scratch.quantized_k.resize(static_cast<size_t>(num_tokens * blocks_q8k));
    ActivationBlockQ8K* xq = scratch.quantized_k.data();
#pragma omp parallel for num_threads(threads) schedule(static) if (num_tokens > 1)
    for (int64_t t = 0; t < num_tokens; ++t) quantize_activations_q8_k(x + t * num_in, xq + t * blocks_q8k, num_in);
  }

  int64_t column = 0;
  for (size_t i = 0; i < num_segments; ++i) {
    const MatmulSegment& s = segments[i];
    float* y_seg = y + column;
    column += s.num_out;
    switch (format_activation_kind(s.format)) {
      case ActivationKind::kFloat:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(num_tokens),
                    static_cast<int>(s.num_out), static_cast<int>(num_in), 1.0f, x, static_cast<int>(num_in),
                    static_cast<const float*>(s.w), static_cast<int>(num_in), 0.0f, y_seg,
                    static_cast<int>(total_out));
        break;
      case ActivationKind::kQ8: {
        const WeightFormat format = s.format;
        // llama.cpp's arithmetic for this tensor: its repacked GEMV/GEMM (dot_repack.h) or vec_dot (dot.h)
        const bool repacked = llamacpp_repacks(format, s.num_out);
        const size_t row_bytes = static_cast<size_t>(blocks_q8) * format_block_bytes(format);
        const auto tile = [&](const uint8_t* rows, size_t rows_bytes, int64_t num_rows, const ActivationBlockQ8* xq,
                              int64_t tokens, float* out, int64_t stride) {
          if (repacked) {
            dot_quantized_tile_repacked(format, rows, rows_bytes, num_rows, xq, tokens, blocks_q8, out, stride);
          } else {
            dot_quantized_tile(format, rows, rows_bytes, num_rows, xq, tokens, blocks_q8, out, stride);
          }
        };
        if (num_tokens == 1 && !repacked && rows_512_supported(format)) {  // decode: two rows per register
          const auto* weights = static_cast<const uint8_t*>(s.w);
          const int64_t chunks = (s.num_out + kGemvRows - 1) / kGemvRows;
#pragma omp parallel for num_threads(threads) schedule(static)
          for (int64_t c = 0; c < chunks; ++c) {
            const int64_t n0 = c * kGemvRows;
            dot_quantized_rows_512(format, weights + static_cast<size_t>(n0) * row_bytes, row_bytes,
                                   std::min(kGemvRows, s.num_out - n0), s.num_out - n0, scratch.quantized.data(),
                                   blocks_q8, y_seg + n0);
          }
          break;
        }
        if (num_tokens <= kRows512MaxBatch && !repacked && rows_512_supported(format)) {
          // A few tokens: a chunk of rows (in L1/L2) against the tokens 7 at
          // a time, each pair of weight blocks loaded once per 7 tokens.
          const auto* weights = static_cast<const uint8_t*>(s.w);
          const int64_t chunks = (s.num_out + kGemvRows - 1) / kGemvRows;
#pragma omp parallel for num_threads(threads) schedule(static)
          for (int64_t c = 0; c < chunks; ++c) {
            const int64_t n0 = c * kGemvRows;
            for (int64_t t0 = 0; t0 < num_tokens; t0 += kRows512MaxTokens) {
              dot_quantized_rows_512_tokens(format, weights + static_cast<size_t>(n0) * row_bytes, row_bytes,
                                            std::min(kGemvRows, s.num_out - n0), s.num_out - n0,
                                            scratch.quantized.data() + t0 * blocks_q8,
                                            std::min(kRows512MaxTokens, num_tokens - t0), blocks_q8,
                                            y_seg + t0 * total_out + n0, total_out);
            }
          }
          break;
        }
        quantized_segment(
            s, blocks_q8, scratch.quantized.data(), num_tokens, y_seg, total_out, threads,
            [&](const uint8_t* row, const ActivationBlockQ8* xq) {
              if (!repacked) return dot_quantized(format, row, xq, blocks_q8);
              float y = 0.0f;
              tile(row, row_bytes, 1, xq, 1, &y, 1);
              return y;
            },
            tile,
            repacked ? TileShape{kRowChunk, kTokenTile} : balanced_rows(dot_tile_shape(format), s.num_out, threads));
        break;
      }
      case ActivationKind::kQ8K: {
        const WeightFormat format = s.format;
        // llama.cpp's arithmetic for this tensor and this many rows: its
        // repacked GEMV/GEMM (dot_repack.h), its tiled matmul (dot_k_tiled.h)
        // or vec_dot (dot_k.h)
        const bool repacked = llamacpp_repacks(format, s.num_out);
        const size_t row_bytes = static_cast<size_t>(blocks_q8k) * format_block_bytes(format);
        const auto tile = [&](const uint8_t* rows, size_t rows_bytes, int64_t num_rows, const ActivationBlockQ8K* xq,
                              int64_t tokens, float* out, int64_t stride) {
          if (repacked) {
            // the matmul's first num_tokens - num_tokens % 4 tokens go through llama.cpp's GEMM
            const int64_t first_token = (xq - scratch.quantized_k.data()) / blocks_q8k;
            const int64_t gemm_tokens = std::clamp<int64_t>(num_tokens - num_tokens % 4 - first_token, 0, tokens);
            dot_quantized_tile_repacked_k(format, rows, rows_bytes, num_rows, xq, tokens, gemm_tokens, blocks_q8k,
                                          out, stride);
          } else if (num_tokens >= kTiledMinTokens) {
            dot_quantized_tile_k_tiled(format, rows, rows_bytes, num_rows, xq, tokens, blocks_q8k, out, stride);
          } else {
            dot_quantized_tile_k(format, rows, rows_bytes, num_rows, xq, tokens, blocks_q8k, out, stride);
          }
        };
        quantized_segment(
            s, blocks_q8k, scratch.quantized_k.data(), num_tokens, y_seg, total_out, threads,
            [&](const uint8_t* row, const ActivationBlockQ8K* xq) {
              if (!repacked) return dot_quantized_k(format, row, xq, blocks_q8k);
              float y = 0.0f;
              tile(row, row_bytes, 1, xq, 1, &y, 1);
              return y;
            },
            tile, TileShape{kRowChunk, kKTokenTile});
        break;
      }
    }
  }
  return Status::success();
}

}  // namespace kvs::kernels
