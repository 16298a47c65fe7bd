#pragma once
// K-quant matmul tiles in the arithmetic of llama.cpp's tiled K-quant matmul
// (ggml-cpu's "tiled" mul_mat, on unless GGML_CPU_TILED_MM=0). llama.cpp takes
// that path for Q2_K, Q3_K, Q4_K, Q5_K and Q6_K weights that are not repacked
// whenever the activations have kTiledMinTokens or more rows; fewer rows go
// through vec_dot (dot_k.h). The two differ in the last bits of every output,
// and greedy decoding of the same file then parts ways on near-ties, so the
// matmul picks the one llama.cpp would (kernels/cpu/matmul.cpp).
//
// Per 256-element block b of a row, in exact integers:
//   s1 = sum over sub-blocks of scale * sum_e value_e * x_e   (value: the signed weight code)
//   s2 = sum over sub-blocks of min * sum_e x_e                (Q2_K, Q4_K, Q5_K only)
// then in float, blocks in order, y starting at 0:
//   r = float(s1) * d;  r = fma(-dmin, float(s2), r) (formats with mins);  y = fma(r, d_x, y)
// (the epilogue of its AVX-512 VNNI microkernel, the one llama-cpp-python
// built natively on an AVX-512 VNNI CPU runs; checked bit for bit there by
// tests/llamacpp/decode_logits_test.cpp on re-quantized models).
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/weight_format.h"

namespace kvs::kernels {

// Activation rows from which llama.cpp's matmul takes the tiled path.
constexpr int64_t kTiledMinTokens = 8;

// w_rows: `num_rows` consecutive rows of `format` (a K-quant), `row_bytes`
// apart; x: `num_tokens` rows of `num_blocks` Q8_K blocks. Writes
// out[t * out_stride + r]. Single-threaded; callers split rows over threads.
void dot_quantized_tile_k_tiled(WeightFormat format, const void* w_rows, size_t row_bytes, int64_t num_rows,
                                const ActivationBlockQ8K* x, int64_t num_tokens, int64_t num_blocks, float* out,
                                int64_t out_stride);

}  // namespace kvs::kernels
