#pragma once
// Matmul tiles in the arithmetic of llama.cpp's repacked 8x8 GEMV/GEMM
// kernels. On x86, llama.cpp's CPU backend moves every weight tensor of these
// formats whose row count is a multiple of 8 into its CPU_REPACK buffer (8 rows
// interleaved) and multiplies it with ggml_gemv_* (one activation row) and
// ggml_gemm_* (four at a time; the rest through the GEMV) instead of vec_dot,
// for any number of tokens:
//   Q4_0, IQ4_NL (AVX2): q4_0_8x8, iq4_nl_8x8;  Q4_K (AVX2): q4_K_8x8;
//   Q2_K (AVX-512): q2_K_8x8.
// Per (weight row, token), blocks in order:
//   32-element formats:  y = fma(float(sum_e w_e * x_e), d_w * d_x, y)       (GEMV and GEMM alike)
//   Q4_K, Q2_K:          per group of elements g in order:
//                          acc = fma(float(s1(g)), d_w * d_x, acc);  mins = fma(float(s2(g)), dmin_w * d_x, mins)
//                        y = acc - mins
//                        where a group is the whole block in the GEMV, and 64 (Q4_K) or 128 (Q2_K)
//                        elements in the GEMM. llama.cpp runs the first num_tokens - num_tokens % 4
//                        tokens of a matmul through the GEMM, the rest through the GEMV.
// (s1, s2: k_block_sums.h; exact integers. d_x: the activation scale as
// quantize_row_q8_0 / quantize_row_q8_K store it, which their 4-row forms
// ggml_quantize_mat_q8_0_4x8 / _q8_K_4x8 match.) vec_dot instead keeps eight
// partial lanes per row (dot.h, dot_k.h), so the two part in the last bits.
// Checked bit for bit against llama-cpp-python by tests/llamacpp on
// re-quantized files.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/weight_format.h"

namespace kvs::kernels {

// Whether llama.cpp, built for the CPU this is built for, would repack a
// tensor of `format` with `num_rows` rows (output features).
bool llamacpp_repacks(WeightFormat format, int64_t num_rows);

// w_rows: `num_rows` consecutive rows of `format` (Q4_0 or IQ4_NL), `row_bytes`
// apart; x: `num_tokens` rows of `num_blocks` blocks from quantize_activations().
// Writes out[t * out_stride + r]. Single-threaded; callers split rows over threads.
void dot_quantized_tile_repacked(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                 const ActivationBlockQ8* x, int64_t num_tokens, int64_t num_blocks, float* out,
                                 int64_t out_stride);

// The same for Q4_K and Q2_K rows against Q8_K activations
// (quantize_activations_q8_k); the first `gemm_tokens` tokens of x take the
// GEMM's grouping, the others the GEMV's.
void dot_quantized_tile_repacked_k(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                   const ActivationBlockQ8K* x, int64_t num_tokens, int64_t gemm_tokens,
                                   int64_t num_blocks, float* out, int64_t out_stride);

}  // namespace kvs::kernels
