#pragma once
// NCCL behind the Communicator interface: one rank per GPU, buffers in that
// GPU's memory. Built only when CUDA and NCCL are found (KVS_HAVE_NCCL).
//
// Starting ranks (docs/tensor-parallel.md):
//   - one process, one thread per GPU: create_local_group({0, 1, ...})
//     (ncclCommInitAll); each rank thread then calls only its own object.
//   - one process per GPU, on one node or many: rank 0 calls unique_id(),
//     ships the 128 bytes to every other process out of band (a TCP
//     rendezvous, a file, the launcher), and every process constructs
//     NcclCommunicator(id, rank, size, local_device) (ncclCommInitRank);
//     NCCL then connects the ranks over NVLink/PCIe within a node and over
//     InfiniBand / RoCE / TCP sockets between nodes (NCCL_SOCKET_IFNAME,
//     NCCL_IB_HCA select the interfaces; NCCL_DEBUG=INFO logs the choice).
#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/parallel/communicator.h"

namespace kvs {

// Ownership: owns its ncclComm_t and a CUDA stream on `device`; destroyed
// with ncclCommDestroy. Thread-safety: one thread per object (Communicator's
// contract); the calling thread's current device is switched to `device`.
// Every operation is enqueued on stream() and waited for before it returns
// (synchronous, like CpuCommunicator). Errors throw kvs::Error with NCCL's /
// CUDA's message.
class NcclCommunicator : public Communicator {
 public:
  // A fresh id for a multi-process group (rank 0 creates it; 128 bytes).
  static std::string unique_id();
  // One rank of a group whose id came from unique_id().
  NcclCommunicator(const std::string& unique_id, int rank, int size, int device);
  // Every rank of a group on this process's devices (ncclCommInitAll).
  static std::vector<std::unique_ptr<Communicator>> create_local_group(const std::vector<int>& devices);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  // Device pointers (see Communicator for the contract).
  void all_reduce_sum(float* data, int64_t count) override;
  void all_gather(const float* send, int64_t count, float* recv) override;
  void broadcast(float* data, int64_t count, int root) override;
  void barrier() override;
  // ncclCommAbort: peers' pending operations fail instead of hanging. The
  // communicator cannot be reused afterwards: reset() throws.
  void abort(const std::string& reason) override;
  void reset() override;

 private:
  NcclCommunicator(ncclComm_t comm, int rank, int size, int device);
  void wait(const char* what);

  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1, device_ = 0;
  cudaStream_t stream_ = nullptr;
  float* barrier_scratch_ = nullptr;  // one float on the device
  bool aborted_ = false;
  std::string abort_reason_;
};

// Adapts a device communicator (NcclCommunicator) to host buffers: each
// operation copies its host data into a device scratch buffer, runs the
// collective there, and copies the result back. Lets the CPU model run its
// tensor-parallel exchanges through NCCL (what the GPU test checks), and is
// the slow path a CPU-computed rank would use across nodes.
// Ownership: owns `device_communicator` and its scratch (grown as needed).
class HostStagedCommunicator : public Communicator {
 public:
  explicit HostStagedCommunicator(std::unique_ptr<NcclCommunicator> device_communicator);
  ~HostStagedCommunicator() override;

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void all_reduce_sum(float* data, int64_t count) override;
  void all_gather(const float* send, int64_t count, float* recv) override;
  void broadcast(float* data, int64_t count, int root) override;
  void barrier() override { inner_->barrier(); }
  void abort(const std::string& reason) override { inner_->abort(reason); }
  void reset() override { inner_->reset(); }

  // Host-staged communicators for every rank of a local NCCL group.
  static std::vector<std::unique_ptr<Communicator>> create_local_group(const std::vector<int>& devices);

 private:
  float* scratch(int64_t count);  // device buffer of at least `count` floats

  std::unique_ptr<NcclCommunicator> inner_;
  float* device_ = nullptr;
  int64_t capacity_ = 0;
};

// Number of CUDA devices visible (0 when there is no driver or device).
int cuda_device_count();

}  // namespace kvs
