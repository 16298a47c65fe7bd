#include "engine/model/tensor_parallel_model.h"

#include <algorithm>

#include "engine/errors.h"
#include "engine/parallel/cpu_communicator.h"
#include "engine/parallel/shard_plan.h"

namespace kvs {
namespace {

int threads_per_rank(int num_threads, int num_ranks) {
  const int total = num_threads > 0 ? num_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, total / num_ranks);
}

}  // namespace

TensorParallelModel::TensorParallelModel(std::shared_ptr<const LoadedModel> model, const ModelOptions& options,
                                         int num_ranks)
    : TensorParallelModel(model, options, (check_tensor_parallel(model->config, num_ranks),
                                           CpuCommunicator::create_group(num_ranks))) {}

TensorParallelModel::TensorParallelModel(std::shared_ptr<const LoadedModel> model, const ModelOptions& options,
                                         std::vector<std::unique_ptr<Communicator>> communicators)
    : communicators_(std::move(communicators)) {
  const int n = static_cast<int>(communicators_.size());
  check_tensor_parallel(model->config, n);
  threads_per_rank_ = threads_per_rank(options.num_threads, n);
  ModelOptions rank_options = options;
  rank_options.num_threads = threads_per_rank_;
  for (int r = 0; r < n; ++r) {
    if (communicators_[static_cast<size_t>(r)]->rank() != r || communicators_[static_cast<size_t>(r)]->size() != n) {
      throw InvalidArgument("tensor-parallel communicators must be given in rank order, one per rank");
    }
    ranks_.push_back(std::make_unique<LlamaModel>(model, rank_options, communicators_[static_cast<size_t>(r)].get()));
  }
  logits_.resize(static_cast<size_t>(n));
  sides_.resize(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) threads_.emplace_back([this, r] { run_rank(r); });
  // NOTE: every rank thread is waiting for work before the first step (each
  // rank's kernels run its own threads_per_rank_ threads, passed per call).
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return num_started_ == n; });
}

TensorParallelModel::~TensorParallelModel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void TensorParallelModel::run_rank(int rank) {
  std::unique_lock<std::mutex> lock(mutex_);
  ++num_started_;
  done_.notify_all();
  uint64_t seen = step_;
  while (true) {
    wake_.wait(lock, [&] { return stop_ || step_ != seen; });
    if (stop_) return;
    seen = step_;
    const ForwardBatch& batch = *batch_;
    KvStorage& kv = *kv_;
    lock.unlock();
    std::vector<float> logits;
    std::exception_ptr error;
    try {
      logits = ranks_[static_cast<size_t>(rank)]->forward(batch, kv, want_side_ ? &sides_[static_cast<size_t>(rank)] : nullptr);
    } catch (const std::exception& e) {
      error = std::current_exception();
      communicators_[static_cast<size_t>(rank)]->abort("rank " + std::to_string(rank) + " failed: " + e.what());
    }
    lock.lock();
    // The first failure is the cause; later ones are peers seeing the abort.
    if (error && !first_error_) first_error_ = error;
    logits_[static_cast<size_t>(rank)] = std::move(logits);
    if (--num_running_ == 0) done_.notify_all();
  }
}

std::vector<float> TensorParallelModel::forward(const ForwardBatch& batch, KvStorage& kv, ForwardSideOutputs* side) {
  ranks_.front()->check_batch(batch, kv);  // bad input fails here, before any rank starts
  std::unique_lock<std::mutex> lock(mutex_);
  batch_ = &batch;
  kv_ = &kv;
  want_side_ = side != nullptr;
  first_error_ = nullptr;
  num_running_ = num_ranks();
  ++step_;
  wake_.notify_all();
  done_.wait(lock, [&] { return num_running_ == 0; });
  batch_ = nullptr;
  kv_ = nullptr;
  if (first_error_) {
    for (auto& communicator : communicators_) communicator->reset();  // every rank has left its collectives
    std::rethrow_exception(first_error_);
  }
  if (side != nullptr) {
    // Integer sums: the total does not depend on the order of the ranks.
    *side = std::move(sides_.front());
    for (size_t r = 1; r < sides_.size(); ++r) {
      for (size_t i = 0; i < side->token_scores.size(); ++i) side->token_scores[i] += sides_[r].token_scores[i];
    }
  }
  // Every rank holds the complete (bit-identical) logits; rank 0's are returned.
  return std::move(logits_.front());
}

std::unique_ptr<ForwardModel> create_model(std::shared_ptr<const LoadedModel> model, const ModelOptions& options,
                                           int tensor_parallel_size) {
  if (tensor_parallel_size == 1) return std::make_unique<LlamaModel>(std::move(model), options);
  return std::make_unique<TensorParallelModel>(std::move(model), options, tensor_parallel_size);
}

}  // namespace kvs
