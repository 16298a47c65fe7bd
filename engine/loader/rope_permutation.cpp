#include "engine/loader/rope_permutation.h"

#include <cstring>
#include <string>

#include "engine/errors.h"

namespace kvs {

namespace {

// Copies rows between the two orders; to_hf picks the direction.
void move_rope_rows(const char* what, const uint8_t* src, uint8_t* dst, int64_t num_rows, size_t row_bytes,
                    int64_t num_heads, bool to_hf) {
  if (num_heads <= 0 || num_rows <= 0 || num_rows % (2 * num_heads) != 0) {
    throw InvalidArgument(std::string(what) + ": " + std::to_string(num_rows) +
                          " rows cannot be split into " + std::to_string(num_heads) +
                          " heads of even size");
  }
  const int64_t head_dim = num_rows / num_heads;
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < num_heads; ++h) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t hf_row = h * head_dim + j * half + i;
        const int64_t gguf_row = h * head_dim + 2 * i + j;
        const int64_t to = to_hf ? hf_row : gguf_row, from = to_hf ? gguf_row : hf_row;
        std::memcpy(dst + static_cast<size_t>(to) * row_bytes, src + static_cast<size_t>(from) * row_bytes,
                    row_bytes);
      }
    }
  }
}

}  // namespace

void unpermute_rope_rows(const uint8_t* src, uint8_t* dst, int64_t num_rows, size_t row_bytes,
                         int64_t num_heads) {
  move_rope_rows("unpermute_rope_rows", src, dst, num_rows, row_bytes, num_heads, /*to_hf=*/true);
}

void interleave_rope_rows(const uint8_t* src, uint8_t* dst, int64_t num_rows, size_t row_bytes,
                          int64_t num_heads) {
  move_rope_rows("interleave_rope_rows", src, dst, num_rows, row_bytes, num_heads, /*to_hf=*/false);
}

}  // namespace kvs
