#pragma once
// The CUDA engine's weights, packed on the host before upload: bf16
// row-major matrices, fused where the forward pass runs one GEMM (QKV,
// gate_up), Q/K rows in Hugging Face's rotate-half order (what the RoPE kernel
// kernels/cuda/rope_kv_write.h expects; LoadedModel already undid a GGUF's
// interleaving), and a tensor-parallel rank's slices (shard_plan.h), as the
// CPU LlamaModel slices them. GGUF quantized tensors are dequantized
// (kernels/cpu/quantize.h, llama.cpp's arithmetic) to float, then rounded to
// bf16 (nearest even); bf16 safetensors pass through bit for bit. Pure host
// code, tested on the CPU (tests/engine/model/bf16_weights_test.cpp).
#include <cstdint>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/parallel/shard_plan.h"

namespace kvs {

// One decoder layer of one rank. Shapes (rows x columns, row-major), with
// d = head_dim, h / g = this rank's query / KV heads, F = its MLP columns,
// H = hidden size:
struct Bf16LayerWeights {
  std::vector<uint16_t> input_norm, post_attention_norm;  // [H]
  std::vector<uint16_t> qkv;       // [(h + 2g) d, H]: q rows, then k, then v
  std::vector<uint16_t> qkv_bias;  // [(h + 2g) d], empty without attention_bias
  std::vector<uint16_t> o;         // [H, h d]: o_proj's columns of this rank's heads
  std::vector<uint16_t> gate_up;   // [2F, H]: gate rows, then up rows
  std::vector<uint16_t> down;      // [H, F]
};

// Throws ModelLoadError for a missing tensor.
Bf16LayerWeights pack_bf16_layer(const LoadedModel& model, const ShardPlan& plan, int64_t index);

// Rows [plan.vocab) of the embedding ("model.embed_tokens.weight") or of the
// LM head ("lm_head.weight"; the embedding when tie_word_embeddings):
// [vocab rows, H].
std::vector<uint16_t> pack_bf16_embedding(const LoadedModel& model, const ShardPlan& plan);
std::vector<uint16_t> pack_bf16_lm_head(const LoadedModel& model, const ShardPlan& plan);

// A 1-D tensor (norm weight, bias) as bf16.
std::vector<uint16_t> pack_bf16_vector(const WeightTensor& tensor);

}  // namespace kvs
