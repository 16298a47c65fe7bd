#pragma once
// A read-only view of one weight tensor inside a loaded model.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/loader/dtype.h"

namespace kvs {

// Shapes use Hugging Face's (PyTorch's) order: the last dimension is the
// contiguous one. A linear layer's weight is [out_features, in_features], so
// row r holds the in_features inputs of output r (a GGUF tensor with
// ne = {in, out} is stored here as shape {out, in}).
//
// Ownership: `data` points into storage owned by the LoadedModel (an mmap of
// the file or a heap buffer); the view is valid as long as that model lives.
// Thread-safety: immutable after loading; safe to read from any thread.
struct WeightTensor {
  std::string name;            // canonical HF name, e.g. "model.layers.0.self_attn.q_proj.weight"
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // e.g. {out, in}; {n} for 1-D tensors
  const uint8_t* data = nullptr;
  size_t num_bytes = 0;

  int64_t num_elements() const;
  int64_t rows() const;  // product of all but the last dimension (1 for 1-D)
  int64_t cols() const;  // last dimension
};

}  // namespace kvs
