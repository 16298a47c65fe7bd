#include "engine/parallel/cpu_communicator.h"

#include <algorithm>

#include "engine/errors.h"

namespace kvs {

std::shared_ptr<CpuCommGroup> CpuCommGroup::create(int num_ranks) { return std::make_shared<CpuCommGroup>(num_ranks); }

CpuCommGroup::CpuCommGroup(int num_ranks) : num_ranks_(num_ranks), slots_(static_cast<size_t>(std::max(num_ranks, 0))) {
  if (num_ranks < 1) throw InvalidArgument("a communicator group needs at least one rank");
}

void CpuCommGroup::arrive_and_wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (aborted_) throw Error("tensor-parallel group aborted: " + abort_reason_);
  const uint64_t generation = generation_;
  if (++num_arrived_ == num_ranks_) {
    num_arrived_ = 0;
    ++generation_;
    cv_.notify_all();
    return;
  }
  cv_.wait(lock, [&] { return generation_ != generation || aborted_; });
  if (generation_ == generation) throw Error("tensor-parallel group aborted: " + abort_reason_);
}

void CpuCommGroup::abort(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!aborted_) abort_reason_ = reason;
  aborted_ = true;
  cv_.notify_all();
}

void CpuCommGroup::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = false;
  abort_reason_.clear();
  num_arrived_ = 0;
  ++generation_;
  std::fill(slots_.begin(), slots_.end(), nullptr);
}

CpuCommunicator::CpuCommunicator(std::shared_ptr<CpuCommGroup> group, int rank) : group_(std::move(group)), rank_(rank) {
  if (rank < 0 || rank >= group_->num_ranks()) throw InvalidArgument("communicator rank outside the group");
}

std::vector<std::unique_ptr<Communicator>> CpuCommunicator::create_group(int num_ranks) {
  std::shared_ptr<CpuCommGroup> group = CpuCommGroup::create(num_ranks);
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int r = 0; r < num_ranks; ++r) ranks.push_back(std::make_unique<CpuCommunicator>(group, r));
  return ranks;
}

// Every operation: post this rank's pointer, wait until all have posted, read
// the peers' buffers, and wait again before returning, so no rank reuses or
// overwrites a buffer a peer is still reading.
void CpuCommunicator::all_reduce_sum(float* data, int64_t count) {
  const int n = size();
  group_->slot(rank_) = data;
  group_->arrive_and_wait();
  sum_.assign(static_cast<size_t>(count), 0.0f);
  // NOTE: rank order, starting from rank 0's values, on every rank: the same
  // additions in the same order, so the same bits everywhere.
  const auto* first = static_cast<const float*>(group_->slot(0));
  std::copy(first, first + count, sum_.begin());
  for (int r = 1; r < n; ++r) {
    const auto* peer = static_cast<const float*>(group_->slot(r));
    for (int64_t i = 0; i < count; ++i) sum_[static_cast<size_t>(i)] += peer[i];
  }
  group_->arrive_and_wait();
  std::copy(sum_.begin(), sum_.end(), data);
}

void CpuCommunicator::all_gather(const float* send, int64_t count, float* recv) {
  group_->slot(rank_) = send;
  group_->arrive_and_wait();
  for (int r = 0; r < size(); ++r) {
    const auto* peer = static_cast<const float*>(group_->slot(r));
    std::copy(peer, peer + count, recv + static_cast<int64_t>(r) * count);
  }
  group_->arrive_and_wait();
}

void CpuCommunicator::broadcast(float* data, int64_t count, int root) {
  if (root < 0 || root >= size()) throw InvalidArgument("broadcast root outside the group");
  group_->slot(rank_) = data;
  group_->arrive_and_wait();
  if (rank_ != root) {
    const auto* source = static_cast<const float*>(group_->slot(root));
    std::copy(source, source + count, data);
  }
  group_->arrive_and_wait();
}

void CpuCommunicator::barrier() { group_->arrive_and_wait(); }

}  // namespace kvs
