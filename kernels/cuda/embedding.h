#pragma once
// Embedding lookup on the GPU: out[t] = table[token_ids[t]], bf16 table rows
// copied as bf16 or widened to fp32. CPU reference:
// kernels/cpu/embedding_reference.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/status.h"

namespace kvs::kernels::cuda {

enum class EmbeddingOutType : uint8_t { BF16, F32 };

// table: bf16 [vocab_size, dim]; token_ids: int32 [num_tokens]; out:
// [num_tokens, dim] of out_type (uint16_t bf16 bits or float). All device
// pointers; asynchronous on `stream`. An id outside [0, vocab_size) gives a
// row of zeros (the device cannot report it; the engine validates ids when a
// request is admitted). One CTA per token; 16-byte copies when dim % 8 == 0
// and the pointers are 16-byte aligned.
Status embedding_lookup(const uint16_t* table, int64_t vocab_size, int64_t dim, const int32_t* token_ids,
                        int64_t num_tokens, void* out, EmbeddingOutType out_type, cudaStream_t stream);

}  // namespace kvs::kernels::cuda
