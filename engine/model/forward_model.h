#pragma once
// What the engine loop runs each step: one forward pass of a decoder over the
// paged KV cache. LlamaModel (one rank) and TensorParallelModel (N ranks
// with a communicator) implement it; EngineCore owns the KvStorage and only
// needs to know how many shards it has.
#include <memory>
#include <string>
#include <vector>

#include "engine/loader/model_config.h"
#include "engine/model/kv_memory.h"
#include "engine/model/forward_batch.h"
#include "engine/model/kv_storage.h"

namespace kvs {

// What a step reports besides logits (ForwardModel::forward's optional out).
struct ForwardSideOutputs {
  // When the batch asks for scores: per sequence s, context_lens[s] sums
  // (fixed point, kernels::kScoreOne = 1) over layers, heads and rows, from
  // score_offsets[s]; cumulative context lengths.
  std::vector<int64_t> token_scores;
  std::vector<int64_t> score_offsets;
  int64_t num_recomputed_rows = 0;   // K/V rows recomputed from residual checkpoints, per layer once
  double recompute_seconds = 0.0;    // wall time spent recomputing them
};

// Thread-safety: forward() from one thread at a time (the engine loop
// thread). Ownership: the caller owns `kv`, created with num_kv_shards()
// shards for this model's config.
class ForwardModel {
 public:
  virtual ~ForwardModel() = default;

  // The full (unsharded) model's config.
  virtual const ModelConfig& config() const = 0;
  // Shards of the KvStorage forward() takes (the tensor-parallel size).
  virtual int num_kv_shards() const { return 1; }
  // Where the KvStorage forward() takes must keep its bytes (host memory for
  // the CPU models, device memory for the CUDA model).
  virtual std::unique_ptr<KvMemory> make_kv_memory() const { return make_host_kv_memory(); }
  // The KV element type used when the user names none, and a check of the one
  // asked for: "" when this model runs with it, else why not. The CPU
  // engines run f16, f32, q8_0 and q4_0 (the quantized ones when head_dim is
  // a multiple of their 32-value blocks); bf16 and fp8_e4m3 need CUDA.
  virtual kernels::KvDType default_kv_dtype() const { return kernels::KvDType::F16; }
  virtual std::string kv_dtype_error(kernels::KvDType dtype) const {
    const std::string name = kernels::kv_dtype_name(dtype);
    if (dtype == kernels::KvDType::BF16 || dtype == kernels::KvDType::FP8_E4M3) {
      return "a " + name + " KV cache needs the CUDA engine (--device cuda); the CPU engine runs f16, f32, q8_0, q4_0";
    }
    const int64_t block = kernels::kv_block_values(dtype);
    if (block > 1 && config().head_dim % block != 0) {
      return "a " + name + " KV cache stores blocks of " + std::to_string(block) + " values per head, but this model's head_dim is " +
             std::to_string(config().head_dim) + "; use --kv-cache-dtype f16";
    }
    return "";
  }
  // Whether forward() takes residual checkpoints (ForwardBatch::checkpoint_ids,
  // the `residual` KV policy).
  virtual bool supports_residual_checkpoints() const { return true; }
  // Whether forward() takes a KvStorage of several KV-cache groups
  // (engine/model/kv_layout.h; ForwardBatch::group_block_tables). An engine
  // that does not (the default) runs with one group for all layers, so
  // window layers keep the whole context (no window freeing).
  virtual bool supports_kv_groups() const { return false; }
  // The backend, for logs and metrics: "cpu" or "cuda".
  virtual std::string device_name() const { return "cpu"; }
  // Writes the batch's K/V into `kv` and returns logits for
  // batch.logits_rows: [logits_rows.size(), vocab_size] floats, row-major.
  // Throws InvalidArgument for a malformed batch (see LlamaModel).
  // `side`, when given, receives the statistics above.
  virtual std::vector<float> forward(const ForwardBatch& batch, KvStorage& kv,
                                     ForwardSideOutputs* side = nullptr) = 0;
  // forward() into `logits`, resized to [logits_rows.size(), vocab_size]. A
  // caller that keeps `logits` across steps reuses its allocation (the engine
  // loop: 64 rows of Gemma 3's 262k vocabulary are 67 MB, which a fresh
  // vector per step would map, zero and fault in every step). The default
  // moves forward()'s result in; models that can write in place override it.
  virtual void forward_into(const ForwardBatch& batch, KvStorage& kv, std::vector<float>& logits,
                            ForwardSideOutputs* side = nullptr) {
    logits = forward(batch, kv, side);
  }
  // CPU threads the engine loop may use for its own per-row passes over the
  // logits (the greedy argmax of every row): the model's kernel thread count
  // on the CPU backend, 1 elsewhere. Fixed at construction; thread-safe.
  virtual int host_threads() const { return 1; }
};

}  // namespace kvs
