#pragma once
// The Llama-family decoder forward pass on the CPU (Llama 2/3, Mistral,
// SmolLM2, Qwen2, Qwen3, Phi-3, Gemma 3): RMSNorm, RoPE (linear, llama3 or
// YaRN scaling), GQA attention over the paged KV cache (sliding windows),
// SwiGLU / GeGLU, tied embeddings, optional QKV bias and q/k norms.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/model/forward_batch.h"
#include "engine/model/forward_model.h"
#include "engine/model/kv_storage.h"
#include "engine/model/linear_weight.h"
#include "engine/model/residual_checkpoints.h"
#include "engine/parallel/communicator.h"
#include "engine/parallel/shard_plan.h"
#include "kernels/cpu/rope.h"

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
  //     arithmetic; Gemma 3, Qwen 3 and Phi-3 rows (not interleaved) by
  //     rope_neox_llamacpp; both with llama.cpp's linear / llama3 / YaRN
  //     scaling (Qwen2 keeps kHuggingFace's rotate-half).
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
// thread at a time (the engine loop thread, or this rank's thread).
//
// Tensor parallelism: with a `communicator`, the model is one rank of a
// group (engine/parallel/shard_plan.h): it keeps only its slice of the
// weights, reads and writes shard communicator->rank() of the KvStorage
// (which must have communicator->size() shards), and calls the collectives
// (all-reduce after o_proj, down_proj and the embedding lookup, all-gather of
// the logits), so every rank returns the complete logits. All ranks run
// forward() on the same batch concurrently. The communicator is not owned
// and must outlive the model. Without one, the model is whole.
class LlamaModel : public ForwardModel {
 public:
  LlamaModel(std::shared_ptr<const LoadedModel> model, const ModelOptions& options,
             Communicator* communicator = nullptr);

  const ModelConfig& config() const override { return model_->config; }
  bool supports_kv_groups() const override { return true; }
  const LoadedModel& loaded() const { return *model_; }

  // Runs the batch: writes K/V of its tokens into `kv` and returns logits for
  // batch.logits_rows, [logits_rows.size(), vocab_size] floats, row-major.
  // Throws InvalidArgument for token ids out of the vocabulary, positions past
  // the model's context, or a malformed batch.
  // KV compression (ForwardBatch): fills side->token_scores when the batch
  // asks for scores, saves residual checkpoints (rank 0 writes them), and
  // recomputes overlay blocks' K/V from them, layer by layer, into a
  // one-layer scratch (so the recomputed K/V never occupy the paged cache).
  std::vector<float> forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side = nullptr) override;
  // forward(), written into `logits` (its capacity reused).
  void forward_into(const ForwardBatch& batch, KvStorage& kv, std::vector<float>& logits,
                    ForwardSideOutputs* side = nullptr) override;
  int host_threads() const override { return num_threads_; }
  // Checks that forward() would accept the batch (the TP wrapper checks once
  // before starting its ranks). Throws InvalidArgument.
  void check_batch(const ForwardBatch& batch, const KvStorage& kv) const;

 private:
  struct Layer {
    // input_norm before attention, mlp_norm before the MLP; Gemma's sandwich
    // norms (empty otherwise) on the attention and MLP outputs, and its
    // per-head q/k norms.
    std::vector<float> input_norm, mlp_norm, attn_out_norm, mlp_out_norm, q_norm, k_norm;
    LinearWeight qkv, o, gate_up, down;
    std::vector<float> qkv_bias;  // empty unless config.attention_bias
  };

  void load_layers(const ModelOptions& options);
  void init_rope();  // the RoPE frequencies and scales of both arithmetics, from the config
  void embed(const ForwardBatch& batch);
  // The LM head over `rows` ([num_rows, hidden]) into `logits` ([num_rows, vocab]).
  void compute_logits(const std::vector<float>& rows, int64_t num_rows, std::vector<float>& logits);
  void all_reduce(std::vector<float>& data, int64_t count);
  void attention_block(const Layer& layer, int64_t index, const ForwardBatch& batch, KvStorage& kv,
                       const std::vector<std::vector<int32_t>>& slots, ForwardSideOutputs* side);
  void save_checkpoints(int64_t index, const ForwardBatch& batch);
  // Whether K/V of this cache dtype are stored Hadamard-rotated per head
  // (q4_0 with head_dim a power of two; kernels/cpu/hadamard.h).
  bool rotates_kv(kernels::KvDType dtype) const;
  // Recomputes the overlay blocks' K/V of layer `index` into overlay_k_/v_
  // and points `cache` at them.
  void recompute_overlay(int64_t index, const ForwardBatch& batch, const KvStorage& kv,
                         kernels::PagedKvLayer& cache, ForwardSideOutputs* side);
  const LinearWeight& kv_weight(int64_t index);  // the K and V rows of layer index's QKV (made on first use)
  // RoPE of layer `layer` (window layers may have their own base).
  void apply_rope(int64_t layer, float* x, int64_t row_stride, const int32_t* positions, int64_t num_tokens,
                  int64_t num_heads) const;
  void mlp_block(const Layer& layer, int64_t num_tokens);
  // Per token: the block's output in projected_ (RMSNorm'd first by
  // `out_norm` unless empty, Gemma 3's post-norms) added to the residual
  // stream hidden_, then the stream RMSNorm'd by `next_norm` into normed_
  // (null: not). Tokens split over the model's threads (for_each_token).
  void add_residual(const std::vector<float>& out_norm, const float* next_norm, int64_t num_tokens);
  // body(t) for every token t < num_tokens: on num_threads_ OpenMP threads
  // when there are enough tokens (prefill, many streams), else on the caller.
  // `body` must touch only token t's rows.
  template <class Body>
  void for_each_token(int64_t num_tokens, Body body) const;

  std::shared_ptr<const LoadedModel> model_;
  Communicator* communicator_ = nullptr;  // not owned; null = whole model
  ShardPlan shard_;                       // this rank's slice (everything without a communicator)
  std::vector<Layer> layers_;
  LinearWeight embedding_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<float> inv_freq_;        // rope_rotate_half's frequencies
  std::vector<float> local_inv_freq_;  // the same for window layers (config.rope_local_theta)
  bool llamacpp_rope_ = false;         // Q/K interleaved, rope_interleaved_llamacpp
  bool llamacpp_neox_rope_ = false;    // rotate-half rows, rope_neox_llamacpp (Gemma 3, Qwen 3, Phi-3 GGUFs)
  float rope_attention_scale_ = 1.0f;  // rope_rotate_half's cos/sin scale (YaRN's attention factor)
  // llama.cpp's form of the scaling (base and freq_factors, from
  // rope_freq_factors_ (empty or head_dim / 2 divisors), set per call).
  kernels::RopeLlamaCppParams llamacpp_rope_params_;
  std::vector<float> rope_freq_factors_;
  kernels::MatmulScratch scratch_;  // num_threads: this model's kernel threads (ModelOptions::num_threads)
  int num_threads_ = 1;
  // Activations, [num_tokens, width] each; resized per step.
  std::vector<float> hidden_, normed_, qkv_, attention_, projected_, gate_up_;
  std::vector<float> activated_;  // [num_tokens, intermediate]: act(gate) * up, down_proj's input
  // Residual recompute: per layer the K/V rows of its QKV weight (empty until
  // needed), the gathered checkpoint rows, their K/V, the one-layer overlay.
  std::vector<LinearWeight> kv_weights_;
  std::vector<float> recompute_in_, recompute_out_;
  std::vector<int32_t> recompute_positions_, recompute_slots_;
  std::vector<uint8_t> overlay_k_, overlay_v_;
  std::vector<uint64_t> layer_seeds_;
};

}  // namespace kvs
