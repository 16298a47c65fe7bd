#pragma once
// An orthonormal Walsh-Hadamard rotation of each head's vector, applied to
// queries, keys and values before a q4_0 KV cache stores them (and to the
// attention output after; engine/model/llama_model.cpp): H is orthonormal and symmetric, so
// (Hq)·(Hk) = q·k and H(sum_p w_p Hv_p) = sum_p w_p v_p, while the rotation
// spreads a head's outlier channels over all of its values, so the 32-value
// blocks of q8_0 / q4_0 lose less (QuaRot; llama.cpp rotates its quantized
// caches the same way).
#include <cstdint>

namespace kvs::kernels {

// Whether head vectors of `head_dim` values can be rotated: a power of two >= 2.
inline bool hadamard_rotates(int64_t head_dim) { return head_dim >= 2 && (head_dim & (head_dim - 1)) == 0; }

// In place, for every row r < num_rows and head h < num_heads: the head_dim
// values at x + r * row_stride + h * head_dim become H times themselves, H the
// Sylvester Hadamard matrix scaled by 1 / sqrt(head_dim) (so applying it twice
// gives the input back, up to rounding). head_dim must satisfy
// hadamard_rotates. Single-threaded; rows are independent.
void hadamard_rotate_heads(float* x, int64_t row_stride, int64_t num_rows, int64_t num_heads, int64_t head_dim);

}  // namespace kvs::kernels
