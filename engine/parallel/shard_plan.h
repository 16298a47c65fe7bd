#pragma once
// Which slice of each layer one tensor-parallel rank holds (Megatron-LM's
// intra-layer split, as vLLM applies it to Llama):
//   - attention: query heads split evenly; KV heads split evenly when there
//     are at least as many as ranks, else replicated (each rank keeps the one
//     KV head its query heads read). The QKV projection is column-parallel
//     (a rank computes its heads' rows), o_proj row-parallel (a rank reads its
//     heads' columns) followed by one all-reduce.
//   - MLP: gate/up column-parallel over the intermediate size, down row-
//     parallel, one all-reduce.
//   - vocabulary: embedding and LM head rows split into ceil(vocab / N)
//     chunks (the last may be short); the embedding lookup is all-reduced,
//     the logits all-gathered.
// The KV cache follows the KV heads: each rank stores its KV heads of every
// block; block ids are shared by all ranks.
#include <cstdint>

#include "engine/loader/model_config.h"

namespace kvs {

// Half-open ranges [begin, end) in the unsharded model's numbering.
struct ShardRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

struct ShardPlan {
  int rank = 0, num_ranks = 1;
  ShardRange heads;         // query heads
  ShardRange kv_heads;      // KV heads (overlapping between ranks when replicated)
  ShardRange intermediate;  // MLP columns
  ShardRange vocab;         // embedding / LM head rows
  int64_t vocab_chunk = 0;  // ceil(vocab / num_ranks): every rank's all-gather count per logits row
};

// Throws InvalidArgument with a clear reason when num_ranks does not divide
// the model: query heads, KV heads (or num_ranks a multiple of them), or the
// intermediate size not divisible by num_ranks.
void check_tensor_parallel(const ModelConfig& config, int num_ranks);

// The slice of `rank` (checks as above).
ShardPlan plan_shard(const ModelConfig& config, int rank, int num_ranks);

// KV heads one rank stores: num_kv_heads / N, or 1 when replicated.
int64_t kv_heads_per_rank(const ModelConfig& config, int num_ranks);

}  // namespace kvs
