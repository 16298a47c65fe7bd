#include "kernels/cuda/embedding.h"

#include "kernels/cuda/bf16_util.cuh"

namespace kvs::kernels::cuda {
namespace {

constexpr int kThreads = 256;

// dim % 8 == 0, 16-byte aligned rows: 8 bf16 per thread step.
__global__ void embedding_bf16_vec_kernel(const uint4* table, int64_t vocab_size, int64_t dim_vecs,
                                          const int32_t* ids, uint4* out) {
  const int64_t t = blockIdx.x;
  const int32_t id = ids[t];
  const bool valid = id >= 0 && id < vocab_size;
  const uint4* src = table + static_cast<int64_t>(id) * dim_vecs;
  uint4* dst = out + t * dim_vecs;
  for (int64_t i = threadIdx.x; i < dim_vecs; i += blockDim.x) dst[i] = valid ? src[i] : make_uint4(0, 0, 0, 0);
}

__global__ void embedding_kernel(const uint16_t* table, int64_t vocab_size, int64_t dim, const int32_t* ids,
                                 void* out, bool to_float) {
  const int64_t t = blockIdx.x;
  const int32_t id = ids[t];
  const bool valid = id >= 0 && id < vocab_size;
  const uint16_t* src = table + static_cast<int64_t>(id) * dim;
  if (to_float) {
    float* dst = static_cast<float*>(out) + t * dim;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = valid ? bf16_to_float(src[i]) : 0.0f;
  } else {
    uint16_t* dst = static_cast<uint16_t*>(out) + t * dim;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = valid ? src[i] : uint16_t{0};
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

Status embedding_lookup(const uint16_t* table, int64_t vocab_size, int64_t dim, const int32_t* token_ids,
                        int64_t num_tokens, void* out, EmbeddingOutType out_type, cudaStream_t stream) {
  if (table == nullptr || token_ids == nullptr || out == nullptr) return Status::invalid("cuda embedding: null pointer");
  if (vocab_size <= 0 || vocab_size > INT32_MAX || dim <= 0 || num_tokens < 0 || num_tokens > INT32_MAX) {
    return Status::invalid("cuda embedding: bad shape");
  }
  if (num_tokens == 0) return Status::success();
  const bool to_float = out_type == EmbeddingOutType::F32;
  if (!to_float && dim % 8 == 0 && aligned16(table) && aligned16(out)) {
    embedding_bf16_vec_kernel<<<static_cast<unsigned>(num_tokens), kThreads, 0, stream>>>(
        static_cast<const uint4*>(static_cast<const void*>(table)), vocab_size, dim / 8, token_ids,
        static_cast<uint4*>(out));
  } else {
    embedding_kernel<<<static_cast<unsigned>(num_tokens), kThreads, 0, stream>>>(table, vocab_size, dim, token_ids,
                                                                                out, to_float);
  }
  return launch_status("cuda embedding");
}

}  // namespace kvs::kernels::cuda
