// The NCCL communicator on real GPUs (label `gpu`; skips without a device).
// With one GPU: the collectives of a one-rank group, and the tensor-parallel
// model run with TP=1 through NCCL (host-staged), bit-identical to the same
// run through the CPU communicator and to the whole model. With two or more
// GPUs also TP=2 through NCCL against TP=2 through the CPU communicator
// (two-term sums are order-free, so bit-identical too).
#include <cblas.h>
#include <gtest/gtest.h>

#include <thread>

#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/tensor_parallel_model.h"
#include "engine/parallel/cpu_communicator.h"
#include "engine/parallel/cuda/nccl_communicator.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

#define REQUIRE_GPUS(n)                                                                              \
  do {                                                                                               \
    const int found = cuda_device_count();                                                           \
    if (found < (n)) GTEST_SKIP() << "needs " << (n) << " CUDA device(s); found " << found;          \
  } while (0)

TEST(NcclCommunicator, OneRankCollectivesOnTheDevice) {
  REQUIRE_GPUS(1);
  auto ranks = NcclCommunicator::create_local_group({0});
  auto& comm = static_cast<NcclCommunicator&>(*ranks[0]);
  const std::vector<float> host = {1.5f, -2.0f, 3.25f};
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, 6 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(device, host.data(), 3 * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  comm.all_reduce_sum(device, 3);
  comm.all_gather(device, 3, device + 3);
  comm.broadcast(device, 3, 0);
  comm.barrier();
  std::vector<float> back(6);
  ASSERT_EQ(cudaMemcpy(back.data(), device, 6 * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(device);
  EXPECT_EQ(back, (std::vector<float>{1.5f, -2.0f, 3.25f, 1.5f, -2.0f, 3.25f}));
}

TEST(NcclCommunicator, AllRanksSumAndGatherAcrossDevices) {
  REQUIRE_GPUS(2);
  const int n = cuda_device_count();
  std::vector<int> devices;
  for (int d = 0; d < n; ++d) devices.push_back(d);
  auto ranks = HostStagedCommunicator::create_local_group(devices);
  std::vector<std::vector<float>> sums(n), gathered(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      std::vector<float> data = {static_cast<float>(r + 1), 2.0f};
      ranks[static_cast<size_t>(r)]->all_reduce_sum(data.data(), 2);
      sums[static_cast<size_t>(r)] = data;
      const float mine = static_cast<float>(r);
      gathered[static_cast<size_t>(r)].resize(static_cast<size_t>(n));
      ranks[static_cast<size_t>(r)]->all_gather(&mine, 1, gathered[static_cast<size_t>(r)].data());
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(sums[static_cast<size_t>(r)][0], static_cast<float>(n * (n + 1) / 2));
    EXPECT_EQ(sums[static_cast<size_t>(r)][1], 2.0f * static_cast<float>(n));
    for (int k = 0; k < n; ++k) EXPECT_EQ(gathered[static_cast<size_t>(r)][static_cast<size_t>(k)], static_cast<float>(k));
  }
}

ModelOptions one_thread() {
  openblas_set_num_threads(1);
  ModelOptions options;
  options.num_threads = 1;
  return options;
}

// Greedy tokens and prompt logits of two ForwardModels, compared exactly.
void expect_identical(ForwardModel& a, ForwardModel& b, kernels::KvDType dtype) {
  const std::vector<std::vector<int32_t>> prompts = {{1, 5, 9, 200}, {7}, {3, 3, 3, 3, 3, 3, 40, 41, 42}};
  GenerateOptions options;
  options.max_tokens = 8;
  options.kv_dtype = dtype;
  for (const auto& prompt : prompts) {
    EXPECT_EQ(prompt_logits(a, prompt, 16, dtype), prompt_logits(b, prompt, 16, dtype));
    EXPECT_EQ(generate(a, prompt, options).tokens, generate(b, prompt, options).tokens);
  }
}

TEST(NcclTensorParallel, Tp1ThroughNcclMatchesTheCpuCommunicatorAndTheWholeModel) {
  REQUIRE_GPUS(1);
  for (const std::string& path : {test::fixtures_dir() + "/models/tiny-llama", test::default_model()}) {
    const auto loaded = load_model(path);
    LlamaModel whole(loaded, one_thread());
    TensorParallelModel cpu(loaded, one_thread(), 1);
    TensorParallelModel nccl(loaded, one_thread(), HostStagedCommunicator::create_local_group({0}));
    expect_identical(cpu, nccl, kernels::KvDType::F16);
    expect_identical(whole, nccl, kernels::KvDType::F16);
  }
}

TEST(NcclTensorParallel, Tp2ThroughNcclMatchesTheCpuCommunicator) {
  REQUIRE_GPUS(2);
  const auto loaded = load_model(test::fixtures_dir() + "/models/tiny-llama");
  TensorParallelModel cpu(loaded, one_thread(), 2);
  TensorParallelModel nccl(loaded, one_thread(), HostStagedCommunicator::create_local_group({0, 1}));
  expect_identical(cpu, nccl, kernels::KvDType::F32);
}

}  // namespace
}  // namespace kvs
