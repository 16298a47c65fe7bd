#include "kernels/cpu/embedding_reference.h"

#include "kernels/cpu/half.h"

namespace kvs::kernels {

void embedding_lookup_reference(const uint16_t* table, int64_t vocab_size, int64_t dim, const int32_t* token_ids,
                                int64_t num_tokens, uint16_t* out_bf16, float* out_f32) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int32_t id = token_ids[t];
    const bool valid = id >= 0 && id < vocab_size;
    for (int64_t i = 0; i < dim; ++i) {
      const uint16_t bits = valid ? table[id * dim + i] : uint16_t{0};
      if (out_bf16 != nullptr) out_bf16[t * dim + i] = bits;
      if (out_f32 != nullptr) out_f32[t * dim + i] = bf16_to_fp32(bits);
    }
  }
}

}  // namespace kvs::kernels
