#pragma once
// N tensor-parallel ranks of one Llama model behind the ForwardModel
// interface, so EngineCore (scheduler, KV manager) stays single: one step =
// the same batch run by every rank on its own thread, exchanging activations
// through a Communicator (engine/parallel). Each rank holds its slice of the
// weights and its shard of every KV block (KvStorage with N shards).
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/forward_model.h"
#include "engine/model/llama_model.h"
#include "engine/parallel/communicator.h"

namespace kvs {

// Ownership: owns the ranks' models, their communicators and one thread per
// rank (started in the constructor, joined in the destructor); shares the
// LoadedModel. Thread-safety: forward() from one thread at a time (the engine
// loop thread); it blocks until every rank has finished the step.
// CPU threads: each rank runs its kernels with options.num_threads / N
// threads (0 = all cores / N), at least 1.
class TensorParallelModel : public ForwardModel {
 public:
  // Ranks in one process connected by the in-process CpuCommunicator.
  // Throws InvalidArgument when num_ranks does not divide the model
  // (shard_plan.h) or a row-parallel slice of a quantized weight does not fall
  // on a block boundary.
  TensorParallelModel(std::shared_ptr<const LoadedModel> model, const ModelOptions& options, int num_ranks);
  // One rank per given communicator (communicators[r]->rank() == r), e.g.
  // NCCL ones staged through host memory.
  TensorParallelModel(std::shared_ptr<const LoadedModel> model, const ModelOptions& options,
                      std::vector<std::unique_ptr<Communicator>> communicators);
  ~TensorParallelModel() override;
  TensorParallelModel(const TensorParallelModel&) = delete;
  TensorParallelModel& operator=(const TensorParallelModel&) = delete;

  const ModelConfig& config() const override { return ranks_.front()->config(); }
  int num_kv_shards() const override { return static_cast<int>(ranks_.size()); }
  bool supports_kv_groups() const override { return true; }  // each rank is a LlamaModel
  int num_ranks() const { return static_cast<int>(ranks_.size()); }
  // kv must have num_ranks() shards. A failure on one rank aborts the
  // group's collectives, is rethrown here after all ranks have stopped, and
  // leaves the model usable for the next step (CPU communicator).
  // side: token scores summed over the ranks (each scores its own heads).
  std::vector<float> forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side = nullptr) override;

 private:
  void run_rank(int rank);

  std::vector<std::unique_ptr<Communicator>> communicators_;
  std::vector<std::unique_ptr<LlamaModel>> ranks_;
  int threads_per_rank_ = 1;

  // Step hand-off between forward() and the rank threads, guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t step_ = 0;  // incremented per forward(); a rank runs when it sees a new value
  int num_started_ = 0, num_running_ = 0;
  bool stop_ = false;
  const ForwardBatch* batch_ = nullptr;
  KvStorage* kv_ = nullptr;
  std::vector<std::vector<float>> logits_;  // per rank
  std::vector<ForwardSideOutputs> sides_;    // per rank
  bool want_side_ = false;
  std::exception_ptr first_error_;
  std::vector<std::thread> threads_;
};

// LlamaModel for tensor_parallel_size 1, else a TensorParallelModel over the
// CPU communicator. Throws InvalidArgument for a size that does not divide
// the model.
std::unique_ptr<ForwardModel> create_model(std::shared_ptr<const LoadedModel> model, const ModelOptions& options,
                                           int tensor_parallel_size);

}  // namespace kvs
