#pragma once
// Collective operations between the ranks of one tensor-parallel group
// (Megatron-style: each rank holds a slice of every layer and the ranks
// exchange activations twice per layer).
#include <cstdint>
#include <string>

namespace kvs {

// One rank's end of a group of size() ranks.
//
// Contract (every implementation):
// - Collective: every rank of the group calls the same operations in the same
//   order with the same counts; a call returns on a rank once that rank's part
//   is complete (results are in its buffers, its send buffers may be reused).
// - Thread-safety: one communicator object belongs to one rank thread; only
//   that thread calls it. Different ranks' objects are called concurrently
//   from their own threads (or processes).
// - Buffers: owned by the caller and only borrowed for the call. They live in
//   the implementation's memory space: host memory for CpuCommunicator, device
//   memory of the rank's GPU for NcclCommunicator (HostStagedCommunicator
//   adapts a device communicator to host buffers).
// - Determinism: all_reduce_sum adds the ranks' contributions in a fixed
//   order for a given group size, so results do not depend on thread timing;
//   every rank receives bit-identical results.
// - Errors: throws kvs::Error (a failed peer, a transport error). After a
//   throw the group must be reset (see the implementation) before reuse.
class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // data[count] (fp32) <- sum over ranks of every rank's data[count], in place.
  virtual void all_reduce_sum(float* data, int64_t count) = 0;
  // recv[size() * count] <- rank 0's send[count], then rank 1's, ... (rank
  // order). send and recv must not overlap.
  virtual void all_gather(const float* send, int64_t count, float* recv) = 0;
  // data[count] <- root's data[count] on every rank.
  virtual void broadcast(float* data, int64_t count, int root) = 0;
  // Returns once every rank has entered the barrier.
  virtual void barrier() = 0;

  // Failure handling. abort(): called by a rank that fails mid-step, so that
  // peers blocked in (or later entering) an operation throw instead of
  // waiting forever; may be called from any rank's thread. reset(): makes the
  // group usable again once every rank has left its operation (the caller
  // that joined the ranks calls it); throws kvs::Error where the transport
  // cannot recover (NCCL after ncclCommAbort).
  virtual void abort(const std::string& reason) = 0;
  virtual void reset() = 0;
};

}  // namespace kvs
