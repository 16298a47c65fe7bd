#pragma once
// The Llama-family decoder forward pass on the CPU (Llama 2/3, SmolLM2,
// Qwen2): RMSNorm, RoPE (with llama3 scaling), GQA attention over the paged
// KV cache, SwiGLU, tied embeddings, optional QKV bias.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/model/forward_batch.h"
#include "engine/model/kv_storage.h"
#include "engine/model/linear_weight.h"

namespace kvs {

struct ModelOptions {
  // Compute every linear layer in F32 (dequantize quantized weights at load)
  // instead of llama.cpp-style 8-bit activation dot products. Slower; used to
  // compare a GGUF with its F32 safetensors export exactly.
  bool dequantize_weights = false;
  int num_threads = 0;  // 0 = all cores

  // Whose RoPE arithmetic to follow (the two round differently; the math is the same).
  //   kLlamaCpp: Llama-architecture Q/K rows kept in the GGUF's interleaved
  //     order and rotated by rope_interleaved_llamacpp, llama.cpp's angle
  //     arithmetic (Qwen2 keeps kHuggingFace's rotate-half).
  //   kHuggingFace: HF row order, rope_rotate_half with accurately evaluated
  //     angles (what the float32 HF references need).
  //   kAuto: kLlamaCpp for a GGUF run on its own weights (what llama.cpp
  //     computes for that file), kHuggingFace for HF folders and with
  //     dequantize_weights (compared with the GGUF's F32 export).
  // The other kernels (norms, SiLU, quantized matmuls, the F16 KV cache) round
  // as llama.cpp's CPU backend in every mode.
  enum class Numerics : uint8_t { kAuto, kHuggingFace, kLlamaCpp };
  Numerics numerics = Numerics::kAuto;
};

// Ownership: shares the LoadedModel (weights may point into it).
// Thread-safety: forward() uses internal scratch buffers; call it from one
// thread at a time (the engine loop thread).
class LlamaModel {
 public:
  LlamaModel(std::shared_ptr<const LoadedModel> model, const ModelOptions& options);

  const ModelConfig& config() const { return model_->config; }
  const LoadedModel& loaded() const { return *model_; }

  // Runs the batch: writes K/V of its tokens into `kv` and returns logits for
  // batch.logits_rows, [logits_rows.size(), vocab_size] floats, row-major.
  // Throws InvalidArgument for token ids out of the vocabulary, positions past
  // the model's context, or a malformed batch.
  std::vector<float> forward(const ForwardBatch& batch, KvStorage& kv);

 private:
  struct Layer {
    std::vector<float> input_norm, post_attention_norm;
    LinearWeight qkv, o, gate_up, down;
    std::vector<float> qkv_bias;  // empty unless config.attention_bias
  };

  void check_batch(const ForwardBatch& batch, const KvStorage& kv) const;
  void attention_block(const Layer& layer, int64_t index, const ForwardBatch& batch, KvStorage& kv,
                       const std::vector<int32_t>& slots);
  void mlp_block(const Layer& layer, int64_t num_tokens);

  std::shared_ptr<const LoadedModel> model_;
  std::vector<Layer> layers_;
  LinearWeight embedding_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<float> inv_freq_;  // rope_rotate_half's frequencies
  bool llamacpp_rope_ = false;   // Q/K interleaved, rope_interleaved_llamacpp
  float rope_freq_scale_ = 1.0f;
  std::vector<float> rope_freq_factors_;  // empty or head_dim / 2 divisors
  kernels::MatmulScratch scratch_;
  // Activations, [num_tokens, width] each; resized per step.
  std::vector<float> hidden_, normed_, qkv_, attention_, projected_, gate_up_;
};

}  // namespace kvs
