#pragma once
// The packed, padding-free input of one model step.
#include <cstdint>
#include <vector>

#include "engine/loader/model_config.h"

namespace kvs {

class ResidualCheckpoints;

// Sequence s contributes the tokens token_ids[cu_query_lens[s] ..
// cu_query_lens[s+1]) at consecutive positions (RoPE); they take the last
// query_len of its context_lens[s] cache entries (earlier entries are
// already in its KV blocks). Without compression position == cache index;
// after an eviction policy dropped entries, positions run ahead of cache
// indices (positions[t] >= cache index of t). block_tables is
// [num_seqs, max_blocks_per_seq], padded with -1; every block a sequence
// touches in this step must be listed. logits_rows are the rows of the packed
// batch whose logits the caller wants (usually each sequence's last token), in
// the order the logits are returned.
struct ForwardBatch {
  std::vector<int32_t> token_ids;      // [num_tokens]
  std::vector<int32_t> positions;      // [num_tokens]
  std::vector<int32_t> cu_query_lens;  // [num_seqs + 1], cu_query_lens[0] == 0
  std::vector<int32_t> context_lens;   // [num_seqs]
  std::vector<int32_t> block_tables;   // [num_seqs * max_blocks_per_seq]
  int64_t max_blocks_per_seq = 0;
  // KV-cache groups 1.. (engine/model/kv_layout.h; empty: one group):
  // group_block_tables[g - 1] is group g's table, laid out as block_tables
  // (group 0's). A window group's entries below its window may be -1 (the
  // blocks were released; the kernel never reads them).
  std::vector<std::vector<int32_t>> group_block_tables;
  std::vector<int32_t> logits_rows;    // rows of token_ids to compute logits for
  // F16 KV cache (CPU): [num_seqs] or empty (all 0). A sequence with a
  // nonzero entry has every row's attention summed in the one-token order, so
  // its rows round as if each were computed in a step of its own (speculative
  // verification keeps greedy output and K/V bits those of plain decoding).
  std::vector<uint8_t> single_token_order;

  // KV compression (all optional: empty = off for every sequence).
  // Attention statistics (kernels::AttentionScores): rows j >= score_row_begin[s]
  // of sequence s add their scores (-1: none); score_tau[s] > 0 selects
  // Keyformer's Gumbel score with seed score_seeds[s], else attention mass.
  std::vector<int32_t> score_row_begin;  // [num_seqs]
  std::vector<uint64_t> score_seeds;     // [num_seqs]
  std::vector<float> score_tau;          // [num_seqs]
  // Residual checkpoints: sequence s saves this step's rows under
  // checkpoint_ids[s] (-1: none). Its table entries may then be overlay ids
  // (>= the KvStorage's num_blocks, each used once in the batch): the model
  // recomputes table entry b's K/V from the checkpoints of positions
  // [b * block_size, (b + 1) * block_size) for this step only. Positions of
  // such a sequence are its cache indices.
  std::vector<int64_t> checkpoint_ids;     // [num_seqs]
  ResidualCheckpoints* checkpoints = nullptr;  // not owned

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  int64_t num_seqs() const { return static_cast<int64_t>(context_lens.size()); }
  int64_t num_kv_groups() const { return 1 + static_cast<int64_t>(group_block_tables.size()); }
  // Group g's tables, [num_seqs * max_blocks_per_seq].
  const std::vector<int32_t>& tables_of_group(int64_t group) const {
    return group == 0 ? block_tables : group_block_tables.at(static_cast<size_t>(group - 1));
  }

  // Appends a sequence: its new tokens, its block table and its context
  // length after the step. Positions start at first_position (-1: at
  // num_cached_tokens). want_logits adds its last row.
  void add_sequence(const std::vector<int32_t>& new_tokens, int32_t num_cached_tokens,
                    const std::vector<int32_t>& block_table, bool want_logits, int32_t first_position = -1);
  // The same with one table per KV-cache group (tables[g], equal lengths);
  // every sequence of a batch names the same number of groups.
  void add_sequence_groups(const std::vector<int32_t>& new_tokens, int32_t num_cached_tokens,
                           const std::vector<std::vector<int32_t>>& tables, bool want_logits,
                           int32_t first_position = -1);
};

// The cache slot (block * block_size + offset) each new token of `batch` is
// written to in KV-cache group `group`, by its cache index (context_lens[s] -
// query_len + j), not its position. [num_tokens]. Throws InvalidArgument when
// a token's block is missing from its table (-1 or past max_blocks_per_seq).
std::vector<int32_t> slot_mapping(const ForwardBatch& batch, int64_t block_size, int64_t group = 0);

// Checks what every ForwardModel needs of a batch for model `config` over a
// cache of num_kv_blocks blocks: consistent sizes, consecutive positions from
// the cache length, per-sequence side inputs, block ids inside the cache
// (overlay ids only for checkpointed sequences), token ids in the vocabulary,
// positions inside the context, logits rows inside the batch. Throws
// InvalidArgument naming the first problem.
void check_forward_batch(const ForwardBatch& batch, const ModelConfig& config, int64_t num_kv_blocks);

}  // namespace kvs
