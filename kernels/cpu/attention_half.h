#pragma once
// Attention of one (query token, head) over a half-precision paged KV cache,
// rounding as llama.cpp's CPU backend does with its default f16 cache and
// flash attention off (ggml-cpu, AVX-512 build): K·Q and P·V are ggml
// mat-muls of halves with float accumulators, the softmax is ggml's
// soft_max_ext. Used by attention_varlen_paged for KvDType::F16; the pieces
// are exposed for tests.
#include <cstdint>
#include <vector>

namespace kvs::kernels {

// Which of llama.cpp's two mat-mul paths a query row goes through:
//   kBatched: its step has >= 2 tokens, so ggml hands the mat-muls to
//             llamafile's tinyBLAS: one 16-lane accumulator per output,
//             lane l taking elements l, l + 16, ... in order, then
//             sum16_llamacpp.
//   kSingle:  a one-token step, ggml_vec_dot_f16: four 16-lane accumulators
//             over blocks of 64 (element e goes to accumulator (e % 64) / 16,
//             lane e % 16), combined as (a0 + a2) + (a1 + a3), then
//             sum16_llamacpp; elements past the last multiple of 64 are added
//             in double.
// tinyBLAS needs the dot length to be a multiple of 16 (K·Q: head_dim) and
// the row count a multiple of 4 (P·V: head_dim); otherwise ggml falls back to
// the kSingle order, and so does this.
enum class HalfMatmulOrder : uint8_t { kBatched, kSingle };

// Dot product of n floats (values of halves) in the given order.
float dot_halves(const float* a, const float* b, int64_t n, HalfMatmulOrder order);

// Per-thread buffers, reused between calls.
struct HalfAttentionScratch {
  std::vector<float> query, row, probabilities, lanes;
  std::vector<const uint16_t*> value_rows, key_rows;  // per position: this head's V / K row
};

// out[head_dim] = softmax(scale * q · Kᵀ) · V over cache positions
// [first, window) of one sequence (positions below `first` weigh exactly 0
// and are not read; lanes and blocks stay keyed by position from 0):
//   q: head_dim floats (rounded to half here, as ggml converts it);
//   keys / values: the layer's cache, [slots, kv_row] halves, this head's
//   vector at column kv_offset; slot of position p =
//   table[p / block_size] * block_size + p % block_size.
// Rounding: scores = dot_halves(q, k) * scale; m = max; e_p = exp_llamacpp(s_p - m);
// sum = double sum over blocks of 16 positions (from position 0) of
// sum16_llamacpp(e, zero past the window); probabilities p = round_to_half(e *
// float(1 / sum)); out[d] = the P·V dot product in `order` with position p in
// accumulator lane p % 16 (kBatched) or p % 64 (kSingle), never in the double
// tail (llama.cpp pads the cache length it multiplies over to a multiple of
// 256 with zero weights).
//
// Optional: block ids >= num_blocks name blocks of a second buffer
// (overlay_keys / overlay_values, block id - num_blocks), e.g. K/V recomputed
// for this step only; logits_out (window floats) receives the scaled scores
// (before the softmax; -inf below `first`) for the compression policies'
// statistics.
void attend_one_half(const float* q, const uint16_t* keys, const uint16_t* values, const int32_t* table,
                     int64_t block_size, int64_t kv_row, int64_t kv_offset, int64_t head_dim, int64_t window,
                     float scale, HalfMatmulOrder order, HalfAttentionScratch& scratch, float* out,
                     const uint16_t* overlay_keys = nullptr, const uint16_t* overlay_values = nullptr,
                     int64_t num_blocks = INT64_MAX, float* logits_out = nullptr, int64_t first = 0);

// attend_one_half (either order) for `num_queries` query heads that share
// one KV head (a GQA group): query g at q + g * q_stride, its output at
// out + g * out_stride. Each output equals attend_one_half's bit for bit; on
// AVX-512 and x86-64-v3 (AVX2 + F16C + FMA) builds with head_dim % 64 == 0
// each key and value row is read from memory once for up to four queries
// (AVX-512, and AVX2 with head_dim == 64: converted once too). No score side
// output.
void attend_group_half(const float* q, int64_t q_stride, int64_t num_queries, const uint16_t* keys,
                       const uint16_t* values, const int32_t* table, int64_t block_size, int64_t kv_row,
                       int64_t kv_offset, int64_t head_dim, int64_t window, float scale, HalfMatmulOrder order,
                       HalfAttentionScratch& scratch, float* out, int64_t out_stride,
                       const uint16_t* overlay_keys = nullptr, const uint16_t* overlay_values = nullptr,
                       int64_t num_blocks = INT64_MAX, int64_t first = 0);

// The same result from portable code (a key row converted to floats, then
// dot_halves; scalar fused multiply-adds for P·V): the reference the SIMD
// attend_one_half (AVX2 + F16C builds) must equal bit for bit.
void attend_one_half_reference(const float* q, const uint16_t* keys, const uint16_t* values, const int32_t* table,
                               int64_t block_size, int64_t kv_row, int64_t kv_offset, int64_t head_dim,
                               int64_t window, float scale, HalfMatmulOrder order, HalfAttentionScratch& scratch,
                               float* out, const uint16_t* overlay_keys = nullptr,
                               const uint16_t* overlay_values = nullptr, int64_t num_blocks = INT64_MAX,
                               float* logits_out = nullptr, int64_t first = 0);

}  // namespace kvs::kernels
