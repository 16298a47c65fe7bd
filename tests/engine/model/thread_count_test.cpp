// The kernel thread count is a per-model setting passed with each kernel
// call: building a model leaves the process's OpenMP setting alone, and two
// models with different counts in one process give the same bits (the
// kernels' results never depend on how work is split over threads).
#include <gtest/gtest.h>
#include <omp.h>

#include <vector>

#include "engine/loader/loaded_model.h"
#include "engine/model/generate.h"
#include "engine/model/llama_model.h"
#include "kernels/cpu/cpu_threads.h"
#include "tests/common/test_paths.h"

namespace kvs {
namespace {

TEST(ThreadCountTest, ModelsKeepTheirOwnCountAndLeaveOpenMpAlone) {
  const auto loaded = load_model(test::default_model());
  omp_set_num_threads(3);
  ModelOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  LlamaModel single(loaded, one);
  LlamaModel pair(loaded, two);
  EXPECT_EQ(omp_get_max_threads(), 3) << "a model must not change the process-wide OpenMP thread count";
  // A prompt long enough for the multi-token matmul tiles and the batched attention order.
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 40; ++i) prompt.push_back(100 + 37 * i);
  const std::vector<float> a = prompt_logits(single, prompt);
  const std::vector<float> b = prompt_logits(pair, prompt);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "logit " << i;
#ifndef KVS_TSAN_BUILD  // TSan builds run every kernel on one thread (cpu_threads.h)
  EXPECT_EQ(kernels::resolve_cpu_threads(5), 5);
#endif
  EXPECT_GE(kernels::resolve_cpu_threads(0), 1);
}

}  // namespace
}  // namespace kvs
