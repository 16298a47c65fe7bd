#pragma once
// CPU reference of the GPU embedding lookup (kernels/cuda/embedding.h).
#include <cstdint>

namespace kvs::kernels {

// table: bf16 bits [vocab_size, dim]; out_bf16 and/or out_f32 (either may be
// null): [num_tokens, dim]. An id outside [0, vocab_size) gives a row of zeros,
// as on the GPU.
void embedding_lookup_reference(const uint16_t* table, int64_t vocab_size, int64_t dim, const int32_t* token_ids,
                                int64_t num_tokens, uint16_t* out_bf16, float* out_f32);

}  // namespace kvs::kernels
