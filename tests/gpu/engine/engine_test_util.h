#pragma once
// Helpers of the CUDA engine's model-level tests: skipping without a GPU,
// batched teacher-forced and free-running greedy runs of any ForwardModel
// (the CPU LlamaModel is the reference), and the near-tie rule that judges a
// divergence.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/model/forward_model.h"
#include "engine/model/kv_storage.h"

namespace kvs::test {

inline bool have_gpu() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();
  return ok;
}

#define KVS_SKIP_WITHOUT_GPU() \
  if (!::kvs::test::have_gpu()) GTEST_SKIP() << "no CUDA device on this machine"

// One step's verdict for one sequence: the model's best tokens (id, logit),
// best first.
struct StepTop {
  std::vector<std::pair<int32_t, float>> top;  // 10 best
  int32_t argmax() const { return top.front().first; }
  // The logit of `token` if it is among the best, else -inf.
  float logit_of(int32_t token) const {
    for (const auto& [id, logit] : top) {
      if (id == token) return logit;
    }
    return -1e30f;
  }
};

inline StepTop top_of(const float* logits, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + 10, ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  StepTop step;
  for (int i = 0; i < 10; ++i) step.top.emplace_back(ids[i], logits[ids[i]]);
  return step;
}

// Runs all prompts as one batch: one prefill step, then `num_steps` decode
// steps of every sequence together. Sequence s feeds forced[s][t] at step t
// when `forced` is given (teacher forcing), else its own argmax (greedy).
// Returns per sequence the StepTop of each of its num_steps + 1 positions
// (after the prompt, then after each fed token).
inline std::vector<std::vector<StepTop>> run_batched(ForwardModel& model, kernels::KvDType dtype,
                                                     const std::vector<std::vector<int32_t>>& prompts,
                                                     int64_t num_steps,
                                                     const std::vector<std::vector<int32_t>>* forced = nullptr,
                                                     int64_t block_size = 16) {
  const int64_t vocab = model.config().vocab_size;
  std::vector<std::vector<int32_t>> tables;
  int64_t next_block = 0;
  for (const auto& prompt : prompts) {
    const int64_t blocks = (static_cast<int64_t>(prompt.size()) + num_steps + block_size) / block_size;
    std::vector<int32_t> table(static_cast<size_t>(blocks));
    std::iota(table.begin(), table.end(), static_cast<int32_t>(next_block));
    next_block += blocks;
    tables.push_back(table);
  }
  KvStorage kv(model.config(), next_block, block_size, dtype, model.num_kv_shards(), model.make_kv_memory());
  std::vector<std::vector<StepTop>> out(prompts.size());
  ForwardBatch prefill;
  for (size_t s = 0; s < prompts.size(); ++s) prefill.add_sequence(prompts[s], 0, tables[s], true);
  std::vector<float> logits = model.forward(prefill, kv);
  std::vector<int32_t> lengths;
  for (const auto& prompt : prompts) lengths.push_back(static_cast<int32_t>(prompt.size()));
  for (int64_t t = 0;; ++t) {
    for (size_t s = 0; s < prompts.size(); ++s) out[s].push_back(top_of(logits.data() + s * vocab, vocab));
    if (t == num_steps) break;
    ForwardBatch step;
    for (size_t s = 0; s < prompts.size(); ++s) {
      const int32_t token = forced != nullptr ? (*forced)[s][t] : out[s].back().argmax();
      step.add_sequence({token}, lengths[s]++, tables[s], true);
    }
    logits = model.forward(step, kv);
  }
  return out;
}

// The tokens a greedy run chose (argmax of every step but the last).
inline std::vector<std::vector<int32_t>> greedy_tokens(const std::vector<std::vector<StepTop>>& run) {
  std::vector<std::vector<int32_t>> tokens;
  for (const auto& steps : run) {
    std::vector<int32_t> mine;
    for (size_t t = 0; t + 1 < steps.size(); ++t) mine.push_back(steps[t].argmax());
    tokens.push_back(mine);
  }
  return tokens;
}

// Random tokens to feed: [num_seqs][num_steps], ids in [3, vocab).
inline std::vector<std::vector<int32_t>> random_prompts_tokens(int64_t vocab, size_t num_seqs, int64_t num_steps,
                                                               uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(vocab) - 1);
  std::vector<std::vector<int32_t>> out(num_seqs, std::vector<int32_t>(static_cast<size_t>(num_steps)));
  for (auto& row : out) {
    for (int32_t& t : row) t = token(rng);
  }
  return out;
}

// A divergence at a step is a near-tie when the reference ranks the other
// model's choice within `gap` logits of its own best.
inline bool near_tie(const StepTop& reference, int32_t other_choice, float gap) {
  return reference.top.front().second - reference.logit_of(other_choice) <= gap;
}

}  // namespace kvs::test
