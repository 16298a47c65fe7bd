#include "engine/parallel/cuda/nccl_communicator.h"

#include <cstring>

#include "engine/errors.h"

namespace kvs {
namespace {

void check_nccl(ncclResult_t result, const char* what) {
  if (result != ncclSuccess) throw Error(std::string("NCCL ") + what + ": " + ncclGetErrorString(result));
}

void check_cuda(cudaError_t result, const char* what) {
  if (result != cudaSuccess) throw Error(std::string("CUDA ") + what + ": " + cudaGetErrorString(result));
}

}  // namespace

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device / no driver" error
    return 0;
  }
  return count;
}

std::string NcclCommunicator::unique_id() {
  ncclUniqueId id;
  check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, sizeof(id.internal));
}

NcclCommunicator::NcclCommunicator(ncclComm_t comm, int rank, int size, int device)
    : comm_(comm), rank_(rank), size_(size), device_(device) {
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check_cuda(cudaMalloc(&barrier_scratch_, sizeof(float)), "cudaMalloc");
}

NcclCommunicator::NcclCommunicator(const std::string& id, int rank, int size, int device) : rank_(rank), size_(size), device_(device) {
  ncclUniqueId unique;
  if (id.size() != sizeof(unique.internal)) throw InvalidArgument("NCCL unique id must be 128 bytes");
  if (rank < 0 || rank >= size) throw InvalidArgument("NCCL rank outside the group");
  std::memcpy(unique.internal, id.data(), sizeof(unique.internal));
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  check_nccl(ncclCommInitRank(&comm_, size, unique, rank), "ncclCommInitRank");
  check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check_cuda(cudaMalloc(&barrier_scratch_, sizeof(float)), "cudaMalloc");
}

std::vector<std::unique_ptr<Communicator>> NcclCommunicator::create_local_group(const std::vector<int>& devices) {
  if (devices.empty()) throw InvalidArgument("an NCCL group needs at least one device");
  std::vector<ncclComm_t> comms(devices.size());
  check_nccl(ncclCommInitAll(comms.data(), static_cast<int>(devices.size()), devices.data()), "ncclCommInitAll");
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (size_t r = 0; r < devices.size(); ++r) {
    ranks.push_back(std::unique_ptr<Communicator>(
        new NcclCommunicator(comms[r], static_cast<int>(r), static_cast<int>(devices.size()), devices[r])));
  }
  return ranks;
}

NcclCommunicator::~NcclCommunicator() {
  cudaSetDevice(device_);
  if (barrier_scratch_ != nullptr) cudaFree(barrier_scratch_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  if (comm_ != nullptr && !aborted_) ncclCommDestroy(comm_);
}

void NcclCommunicator::wait(const char* what) {
  if (aborted_) throw Error("NCCL communicator aborted: " + abort_reason_);
  check_cuda(cudaStreamSynchronize(stream_), what);
}

void NcclCommunicator::all_reduce_sum(float* data, int64_t count) {
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  check_nccl(ncclAllReduce(data, data, static_cast<size_t>(count), ncclFloat32, ncclSum, comm_, stream_), "ncclAllReduce");
  wait("all_reduce_sum");
}

void NcclCommunicator::all_gather(const float* send, int64_t count, float* recv) {
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  check_nccl(ncclAllGather(send, recv, static_cast<size_t>(count), ncclFloat32, comm_, stream_), "ncclAllGather");
  wait("all_gather");
}

void NcclCommunicator::broadcast(float* data, int64_t count, int root) {
  if (root < 0 || root >= size_) throw InvalidArgument("broadcast root outside the group");
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  check_nccl(ncclBroadcast(data, data, static_cast<size_t>(count), ncclFloat32, root, comm_, stream_), "ncclBroadcast");
  wait("broadcast");
}

void NcclCommunicator::barrier() { all_reduce_sum(barrier_scratch_, 1); }

void NcclCommunicator::abort(const std::string& reason) {
  if (aborted_) return;
  abort_reason_ = reason;
  aborted_ = true;
  ncclCommAbort(comm_);
}

void NcclCommunicator::reset() {
  if (aborted_) throw Error("NCCL communicator was aborted (" + abort_reason_ + "); start a new group");
}

HostStagedCommunicator::HostStagedCommunicator(std::unique_ptr<NcclCommunicator> inner) : inner_(std::move(inner)) {}

HostStagedCommunicator::~HostStagedCommunicator() {
  if (device_ != nullptr) {
    cudaSetDevice(inner_->device());
    cudaFree(device_);
  }
}

float* HostStagedCommunicator::scratch(int64_t count) {
  check_cuda(cudaSetDevice(inner_->device()), "cudaSetDevice");
  if (count > capacity_) {
    if (device_ != nullptr) check_cuda(cudaFree(device_), "cudaFree");
    device_ = nullptr;
    check_cuda(cudaMalloc(&device_, static_cast<size_t>(count) * sizeof(float)), "cudaMalloc");
    capacity_ = count;
  }
  return device_;
}

void HostStagedCommunicator::all_reduce_sum(float* data, int64_t count) {
  float* d = scratch(count);
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  check_cuda(cudaMemcpyAsync(d, data, bytes, cudaMemcpyHostToDevice, inner_->stream()), "cudaMemcpy");
  inner_->all_reduce_sum(d, count);
  check_cuda(cudaMemcpy(data, d, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
}

void HostStagedCommunicator::all_gather(const float* send, int64_t count, float* recv) {
  const int64_t total = count * size();
  float* d = scratch(count + total);
  check_cuda(cudaMemcpyAsync(d, send, static_cast<size_t>(count) * sizeof(float), cudaMemcpyHostToDevice, inner_->stream()),
             "cudaMemcpy");
  inner_->all_gather(d, count, d + count);
  check_cuda(cudaMemcpy(recv, d + count, static_cast<size_t>(total) * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
}

void HostStagedCommunicator::broadcast(float* data, int64_t count, int root) {
  float* d = scratch(count);
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  check_cuda(cudaMemcpyAsync(d, data, bytes, cudaMemcpyHostToDevice, inner_->stream()), "cudaMemcpy");
  inner_->broadcast(d, count, root);
  check_cuda(cudaMemcpy(data, d, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
}

std::vector<std::unique_ptr<Communicator>> HostStagedCommunicator::create_local_group(const std::vector<int>& devices) {
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (auto& rank : NcclCommunicator::create_local_group(devices)) {
    ranks.push_back(std::make_unique<HostStagedCommunicator>(
        std::unique_ptr<NcclCommunicator>(static_cast<NcclCommunicator*>(rank.release()))));
  }
  return ranks;
}

}  // namespace kvs
