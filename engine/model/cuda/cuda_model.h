#pragma once
// The Llama-family decoder on one CUDA GPU (Llama 2/3, SmolLM2, Qwen2): the
// same ForwardModel contract as the CPU LlamaModel, behind the same scheduler
// and KvCacheManager (they see blocks, never bytes).
//
//   weights     bf16 on the device (engine/model/bf16_weights.h: GGUF tensors
//               dequantized at load, safetensors as they are; fused QKV and
//               gate_up; QKV bias; tied embeddings share one copy)
//   GEMMs       cuBLAS, bf16 in, fp32 accumulate (cublas_gemm.h); the LM head
//               only on the rows that want logits, fp32 out
//   KV cache    bf16 paged, in device memory (CudaKvMemory), the layout of
//               kernels/cpu/paged_attention.h
//   attention   prefill chunks: the varlen tensor-core kernel
//               (kernels/cuda/prefill_attention.h); decode-only steps:
//               LeanAttention (kernels/cuda/lean_attention.h), or split-K
//               (a fallback and an oracle); shapes those do not support (head
//               dims other than 64/128, GQA groups over 8) and steps that ask
//               for KV-policy scores: the simple kernel
//               kernels/cuda/naive_attention.h, which also emits the scores
//   logits      copied to the host; the engine's CPU sampler draws, so every
//               sampling parameter works and seeded requests match the CPU
//   CUDA graphs decode-only steps replay a graph captured per batch-size
//               bucket (cuda_graph_buckets.h); other steps run eagerly
//
// Not on CUDA yet: residual checkpoints (the `residual` KV policy is refused
// with a clear error) and tensor parallelism over NCCL (the CPU engine does
// TP; a CUDA model is one rank of one GPU).
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/model/cuda/cublas_gemm.h"
#include "engine/model/cuda/cuda_util.h"
#include "engine/model/forward_model.h"
#include "engine/model/gpu_memory_plan.h"

namespace kvs::cuda {

struct CudaModelOptions {
  int device = 0;                         // CUDA device ordinal
  bool enforce_eager = false;             // --enforce-eager: never capture CUDA graphs
  int64_t max_num_seqs = 256;             // largest decode batch (graph buckets, LeanAttention workspace)
  int64_t max_num_batched_tokens = 2048;  // activation buffers are sized for this many tokens (grown on demand)
  int64_t max_model_len = 0;              // longest sequence a graph covers (0 = the model's context)
  int64_t block_size = 16;                // KV block size graphs are captured for
  // Attention kernels: "auto" picks as described above; "naive" forces the
  // simple kernel everywhere; decode "splitk" uses the split-K kernel for
  // decode-only steps (eager). Tests use these as oracles.
  std::string prefill_attention = "auto";  // "auto" | "naive"
  std::string decode_attention = "auto";   // "auto" | "lean" | "splitk" | "naive"
};

// What the engine did, since construction (tests and benchmarks read it).
struct CudaModelStats {
  int64_t eager_steps = 0;
  int64_t graph_replays = 0;
  int64_t graphs_captured = 0;
  int64_t lean_steps = 0, splitk_steps = 0, prefill_kernel_steps = 0, naive_steps = 0;
};

// Ownership: shares the LoadedModel while loading (the weights are copied to
// the device; the host copy may be dropped afterwards); owns its device
// memory, stream, cuBLAS handle and graphs. Thread-safety: forward() from one
// thread at a time (the engine loop thread); the device is made current on
// that thread at every call.
class CudaModel : public ForwardModel {
 public:
  // Throws kvs::Error when the device cannot be used or memory runs out, and
  // InvalidArgument for an architecture or shape this engine does not run.
  CudaModel(std::shared_ptr<const LoadedModel> model, const CudaModelOptions& options);
  ~CudaModel() override;
  CudaModel(const CudaModel&) = delete;
  CudaModel& operator=(const CudaModel&) = delete;

  const ModelConfig& config() const override { return config_; }
  std::unique_ptr<KvMemory> make_kv_memory() const override;
  kernels::KvDType default_kv_dtype() const override { return kernels::KvDType::BF16; }
  std::string kv_dtype_error(kernels::KvDType dtype) const override;
  bool supports_residual_checkpoints() const override { return false; }
  std::string device_name() const override { return "cuda"; }

  // Writes the batch's K/V into `kv` (which must come from make_kv_memory(),
  // bf16 or fp8_e4m3, one shard) and returns logits for batch.logits_rows (fp32,
  // row-major, [logits_rows.size(), vocab]). Throws InvalidArgument for a
  // malformed batch (check_forward_batch) or residual checkpoints, kvs::Error
  // for a CUDA failure. side: KV-policy token scores when the batch asks.
  std::vector<float> forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side = nullptr) override;

  // The KV cache budget for --gpu-memory-utilization / --kv-cache-memory,
  // from the device's memory now (weights loaded) and this model's
  // activation needs; num_blocks counts blocks of options.block_size tokens
  // of `kv_dtype` (bf16 or fp8_e4m3: twice the blocks in the same bytes).
  GpuMemoryPlan plan_kv_cache(double gpu_memory_utilization, int64_t requested_kv_bytes,
                              kernels::KvDType kv_dtype = kernels::KvDType::BF16) const;
  int64_t weight_bytes() const { return weight_bytes_; }
  const CudaModelStats& stats() const { return stats_; }
  // "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
  const std::string& device_description() const { return device_description_; }

 private:
  struct Layer {
    DeviceArray<uint16_t> input_norm, post_attention_norm, qkv, qkv_bias, o, gate_up, down;
  };
  enum class Attention { kLean, kSplitK, kPrefill, kNaive };
  // Where this step's metadata lives on the device (int32 arrays).
  struct StepMeta {
    const int32_t *token_ids, *positions, *slots, *cu_query_lens, *context_lens, *block_tables, *logits_rows;
  };
  struct StepShape {
    int64_t num_tokens, num_seqs, max_blocks_per_seq, num_logits_rows, max_query_len;
  };
  struct ScoreArgs;  // KV-policy score side output, device pointers (cuda_model.cpp)
  struct Graph {
    cudaGraphExec_t exec = nullptr;
  };

  void load_weights(const LoadedModel& model);
  void ensure_capacity(int64_t num_tokens, int64_t num_seqs, int64_t table_entries, int64_t num_logits_rows);
  Attention choose_attention(const ForwardBatch& batch, bool want_scores) const;
  // Pointers into meta_ for a step of this shape (MetaLayout in the .cpp).
  StepMeta meta_pointers(const StepShape& shape) const;
  // Enqueues the whole step (embedding .. logits into logits_) on stream_.
  void run_step(const StepShape& shape, const StepMeta& meta, KvStorage& kv, Attention attention,
                const ScoreArgs* scores);
  void attention(int64_t layer, const StepShape& shape, const StepMeta& meta, KvStorage& kv, Attention attention,
                 const ScoreArgs* scores);
  std::vector<float> download_logits(int64_t num_rows);
  std::vector<float> forward_graph(const ForwardBatch& batch, KvStorage& kv, int64_t bucket);
  void drop_graphs();

  ModelConfig config_;
  CudaModelOptions options_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CublasGemm> gemm_;
  std::string device_description_;
  int num_sms_ = 0;

  // Weights.
  std::vector<Layer> layers_;
  DeviceArray<uint16_t> embedding_, lm_head_, final_norm_;
  bool tied_ = false;
  DeviceArray<float> inv_freq_;
  int64_t weight_bytes_ = 0;

  // Per-step buffers, sized for capacity_tokens_ etc. (graphs capture their
  // addresses: growing them drops the graphs).
  int64_t capacity_tokens_ = 0, capacity_seqs_ = 0, capacity_table_ = 0, capacity_logits_ = 0;
  DeviceArray<uint16_t> residual_, normed_, qkv_, attn_, proj_, gate_up_, act_, final_residual_, final_x_, final_normed_;
  DeviceArray<float> q32_, out32_, logits_;
  DeviceArray<int32_t> meta_;
  PinnedArray<int32_t> meta_host_;
  PinnedArray<float> logits_host_;
  DeviceArray<uint8_t> lean_workspace_, splitk_workspace_;
  int64_t lean_capacity_seqs_ = 0;

  // KV-policy scores (eager steps only).
  DeviceArray<int64_t> scores_;
  DeviceArray<uint8_t> score_meta_;
  PinnedArray<uint8_t> score_meta_host_;

  // CUDA graphs of decode-only steps, by batch-size bucket; valid for one
  // KvStorage (its layer pointers are captured).
  std::vector<int64_t> graph_sizes_;
  int64_t graph_table_width_ = 0;
  std::map<int64_t, Graph> graphs_;
  // The KvStorage graphs were captured for: layer 0's K pointer, num_blocks, dtype.
  std::tuple<const void*, int64_t, kernels::KvDType> graph_kv_{nullptr, 0, kernels::KvDType::BF16};
  bool lean_ok_ = false, prefill_ok_ = false;

  CudaModelStats stats_;
};

}  // namespace kvs::cuda
