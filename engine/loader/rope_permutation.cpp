#include "engine/loader/rope_permutation.h"

#include <cstring>
#include <string>

#include "engine/errors.h"

namespace kvs {

void unpermute_rope_rows(const uint8_t* src, uint8_t* dst, int64_t num_rows, size_t row_bytes,
                         int64_t num_heads) {
  if (num_heads <= 0 || num_rows <= 0 || num_rows % (2 * num_heads) != 0) {
    throw InvalidArgument("unpermute_rope_rows: " + std::to_string(num_rows) +
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
        std::memcpy(dst + static_cast<size_t>(hf_row) * row_bytes,
                    src + static_cast<size_t>(gguf_row) * row_bytes, row_bytes);
      }
    }
  }
}

}  // namespace kvs
