#include "engine/parallel/shard_plan.h"

#include <algorithm>
#include <string>

#include "engine/errors.h"

namespace kvs {

void check_tensor_parallel(const ModelConfig& c, int n) {
  const std::string size = "tensor parallel size " + std::to_string(n);
  if (n < 1) throw InvalidArgument("tensor parallel size must be >= 1 (got " + std::to_string(n) + ")");
  if (c.num_heads % n != 0) {
    throw InvalidArgument(size + " does not divide the model's " + std::to_string(c.num_heads) +
                          " attention heads; use a size that divides it");
  }
  if (c.num_kv_heads % n != 0 && n % c.num_kv_heads != 0) {
    throw InvalidArgument(size + " and the model's " + std::to_string(c.num_kv_heads) +
                          " KV heads: one must divide the other");
  }
  if (c.intermediate_size % n != 0) {
    throw InvalidArgument(size + " does not divide the model's intermediate size " +
                          std::to_string(c.intermediate_size));
  }
  if (c.vocab_size < n) throw InvalidArgument(size + " exceeds the vocabulary size");
}

int64_t kv_heads_per_rank(const ModelConfig& c, int n) { return c.num_kv_heads >= n ? c.num_kv_heads / n : 1; }

ShardPlan plan_shard(const ModelConfig& c, int rank, int n) {
  check_tensor_parallel(c, n);
  if (rank < 0 || rank >= n) throw InvalidArgument("rank outside the tensor-parallel group");
  ShardPlan plan;
  plan.rank = rank;
  plan.num_ranks = n;
  const int64_t heads = c.num_heads / n;
  plan.heads = {rank * heads, (rank + 1) * heads};
  const int64_t kv_heads = kv_heads_per_rank(c, n);
  if (c.num_kv_heads >= n) {
    plan.kv_heads = {rank * kv_heads, (rank + 1) * kv_heads};
  } else {
    // Replicated: the KV head of this rank's query heads (group of num_heads / num_kv_heads).
    const int64_t kv = plan.heads.begin / (c.num_heads / c.num_kv_heads);
    plan.kv_heads = {kv, kv + 1};
  }
  const int64_t columns = c.intermediate_size / n;
  plan.intermediate = {rank * columns, (rank + 1) * columns};
  plan.vocab_chunk = (c.vocab_size + n - 1) / n;
  plan.vocab = {std::min<int64_t>(rank * plan.vocab_chunk, c.vocab_size),
                std::min<int64_t>((rank + 1) * plan.vocab_chunk, c.vocab_size)};
  return plan;
}

}  // namespace kvs
