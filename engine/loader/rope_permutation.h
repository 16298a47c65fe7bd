#pragma once
// llama.cpp's converter reorders the rows of a Llama Q/K projection so GGML's
// interleaved RoPE (pairs (2i, 2i+1)) computes what HF's rotate-half RoPE
// (pairs (i, i + head_dim/2)) computes on the original weights:
//   w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)
// unpermute_rope_rows undoes that reordering; interleave_rope_rows redoes it
// (for running a model in llama.cpp's interleaved layout).
#include <cstddef>
#include <cstdint>

namespace kvs {

// Writes the HF-order rows of a GGUF (interleaved) Q or K projection.
//   src, dst: num_rows rows of row_bytes bytes each (any dtype: whole rows
//             move, so quantized rows work too); must not overlap.
//   num_heads: heads of this projection (num_heads for q, num_kv_heads for k).
// Row h*head_dim + j*(head_dim/2) + i of dst is row h*head_dim + 2*i + j of
// src, where head_dim = num_rows / num_heads, i < head_dim/2, j in {0, 1}.
// For biases pass row_bytes = element size. Throws InvalidArgument unless
// num_rows is a positive multiple of 2 * num_heads.
void unpermute_rope_rows(const uint8_t* src, uint8_t* dst, int64_t num_rows, size_t row_bytes,
                         int64_t num_heads);

// The inverse: writes the GGUF (interleaved) order of HF-order rows. Same
// arguments and errors; row h*head_dim + 2*i + j of dst is row
// h*head_dim + j*(head_dim/2) + i of src.
void interleave_rope_rows(const uint8_t* src, uint8_t* dst, int64_t num_rows, size_t row_bytes,
                          int64_t num_heads);

}  // namespace kvs
