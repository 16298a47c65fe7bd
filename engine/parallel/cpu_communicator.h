#pragma once
// The in-process communicator: N rank threads of one process exchanging
// through shared memory. It runs the same sharded code path as NCCL does on
// GPUs, so every CPU test run exercises tensor parallelism.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/parallel/communicator.h"

namespace kvs {

// The state the N ranks share: a generation-counting barrier (mutex +
// condition variable; waiting threads sleep, they do not spin) and one
// posted pointer per rank.
//
// Ownership: create with CpuCommGroup::create(n); each rank's
// CpuCommunicator keeps the group alive. Thread-safety: all members may be
// called from the rank threads concurrently.
class CpuCommGroup {
 public:
  static std::shared_ptr<CpuCommGroup> create(int num_ranks);
  explicit CpuCommGroup(int num_ranks);

  int num_ranks() const { return num_ranks_; }
  // Blocks until all ranks arrive. Throws kvs::Error once the group is
  // aborted (so a rank that failed cannot leave its peers waiting forever).
  void arrive_and_wait();
  // Wakes every waiter with an error; used by a rank that throws mid-step.
  void abort(const std::string& reason);
  // Clears an abort. Only when no rank is inside an operation (between steps).
  void reset();

  // Slot of each rank for the pointer it shares in the current operation.
  const void*& slot(int rank) { return slots_[static_cast<size_t>(rank)]; }

 private:
  const int num_ranks_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int num_arrived_ = 0;
  uint64_t generation_ = 0;
  bool aborted_ = false;
  std::string abort_reason_;
  std::vector<const void*> slots_;
};

// One rank's handle (see Communicator for the contract). all_reduce_sum adds
// the ranks' buffers in rank order 0, 1, ..., N-1 on every rank, so every rank
// gets the same bits whatever the thread timing. Host pointers only.
class CpuCommunicator : public Communicator {
 public:
  CpuCommunicator(std::shared_ptr<CpuCommGroup> group, int rank);

  // One communicator per rank of a fresh group of num_ranks.
  static std::vector<std::unique_ptr<Communicator>> create_group(int num_ranks);

  int rank() const override { return rank_; }
  int size() const override { return group_->num_ranks(); }
  void all_reduce_sum(float* data, int64_t count) override;
  void all_gather(const float* send, int64_t count, float* recv) override;
  void broadcast(float* data, int64_t count, int root) override;
  void barrier() override;
  void abort(const std::string& reason) override { group_->abort(reason); }
  void reset() override { group_->reset(); }

  CpuCommGroup& group() { return *group_; }

 private:
  std::shared_ptr<CpuCommGroup> group_;
  int rank_;
  std::vector<float> sum_;  // all_reduce scratch, [count]
};

}  // namespace kvs
